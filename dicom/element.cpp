/* element.cpp: element sets as the C API sees them (tag, VR, UTF-8 value), the conversion of
 * a dataset's text elements from its Specific Character Set to UTF-8 with a fallback for bad or
 * missing labels, UID validation (PS3.5 9.1) and the small helpers the other files share. */
#include "dicom_int.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcspchrs.h"
#include "dcmtk/dcmdata/dcvr.h"

void huren_dicom__elements::add(uint32_t tag, const char *vr, std::string value)
{
    huren_dicom_element e;
    e.tag = tag;
    e.vr[0] = vr[0];
    e.vr[1] = vr[0] ? vr[1] : '\0';
    e.vr[2] = '\0';
    e.value = nullptr;
    values.push_back(std::move(value));
    v.push_back(e);
}

void huren_dicom__elements::finish()
{
    for (size_t i = 0; i < v.size(); i++)
        v[i].value = values[i].c_str();
}

void huren_dicom__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool utf8_valid(const std::string &s)
{
    const unsigned char *p = (const unsigned char *)s.data(), *end = p + s.size();
    while (p < end) {
        unsigned c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        /* overlong forms, surrogates and values past U+10FFFF */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        p += n + 1;
    }
    return true;
}

static bool plain_ascii(const std::string &s)
{
    for (unsigned char c : s)
        if (c >= 0x80 || c == 0x1B)
            return false;
    return true;
}

static std::string latin1_to_utf8(const std::string &s)
{
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) {
        if (c < 0x80) {
            out += (char)c;
        } else {
            out += (char)(0xC0 | (c >> 6));
            out += (char)(0x80 | (c & 0x3F));
        }
    }
    return out;
}

/* A value whose declared charset cannot be used: keep it if it is already UTF-8, else read it as
 * GB18030 (what unlabelled Chinese data nearly always is), else as Latin-1, which never fails. */
static std::string fallback(const std::string &raw, const OFString &delims)
{
    if (utf8_valid(raw))
        return raw;
    DcmSpecificCharacterSet gb;
    OFString out;
    if (gb.selectCharacterSet("GB18030").good() &&
        gb.convertString(raw.c_str(), raw.size(), out, delims).good() &&
        utf8_valid(std::string(out.c_str(), out.length())))
        return std::string(out.c_str(), out.length());
    return latin1_to_utf8(raw);
}

static bool charset_vr(DcmEVR vr)
{
    switch (vr) {
    case EVR_SH:
    case EVR_LO:
    case EVR_ST:
    case EVR_LT:
    case EVR_PN:
    case EVR_UC:
    case EVR_UT:
        return true;
    default:
        return false;
    }
}

/* VRs represented as text: the string VRs and short numeric values. */
static bool text_vr(DcmEVR vr, unsigned long vm)
{
    switch (vr) {
    case EVR_AE:
    case EVR_AS:
    case EVR_CS:
    case EVR_DA:
    case EVR_DS:
    case EVR_DT:
    case EVR_IS:
    case EVR_LO:
    case EVR_LT:
    case EVR_PN:
    case EVR_SH:
    case EVR_ST:
    case EVR_TM:
    case EVR_UC:
    case EVR_UI:
    case EVR_UR:
    case EVR_UT:
        return true;
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
    case EVR_AT:
        return vm <= 16;
    default:
        return false;
    }
}

static OFString delimiters(DcmEVR vr)
{
    if (vr == EVR_PN)
        return "\\^=";
    if (vr == EVR_LT || vr == EVR_ST || vr == EVR_UT)
        return "\r\n\t\f";
    return "\\";
}

/* The converter for a dataset's Specific Character Set; false when values go through fallback()
 * (no label, UTF-8 or the default repertoire, or a label that cannot be used: warn says why). */
static bool select_charset(const OFString &scs, huren_dicom__charset &cs, std::string &warn)
{
    if (scs.empty() || scs == "ISO_IR 192" || scs == "ISO_IR 6")
        return false; /* already UTF-8 or ASCII; non-ASCII bytes go through fallback() */
    std::string why;
    bool ok = cs.select(std::string(scs.c_str(), scs.length()), why);
    if (!ok)
        warn = std::string("Specific Character Set \"") + scs.c_str() + "\" cannot be used (" +
               why + "); values read as UTF-8, GB18030 or Latin-1";
    else if (!why.empty())
        warn = std::string("Specific Character Set \"") + scs.c_str() + "\": " + why;
    return ok;
}

/* A value in the dataset's charset to UTF-8; a value not valid in it is kept if it is UTF-8
 * (a common mislabelling), else its valid characters are kept with U+FFFD for the rest. */
static std::string convert_value(const huren_dicom__charset &cs, const OFString &scs,
                                 const DcmTag &tag, DcmEVR evr, const std::string &raw,
                                 std::string &warn)
{
    std::string out, why;
    if (cs.convert(raw, delimiters(evr).c_str(), out, why)) {
        if (!why.empty() && warn.empty())
            warn = std::string("a value of ") + tag.toString().c_str() + ": " + why;
        return out;
    }
    bool high = false; /* ASCII with stray escapes is no sign of UTF-8 */
    for (unsigned char c : raw)
        high = high || c >= 0x80;
    bool utf8 = high && utf8_valid(raw);
    if (warn.empty())
        warn = std::string("a value of ") + tag.toString().c_str() + " is not valid in \"" +
               scs.c_str() + "\" (" + why + "); " +
               (utf8 ? "kept as UTF-8" : "invalid bytes replaced by U+FFFD");
    return utf8 ? raw : out;
}

/* UIDs padded with spaces (or NULs inside a multi-valued one) are common in real files; the
 * padding is no part of the UID, and a UID kept with it would match no query. */
static std::string trim_uids(const std::string &v)
{
    std::string out;
    size_t start = 0;
    for (;;) {
        size_t bs = v.find('\\', start);
        size_t end = bs == std::string::npos ? v.size() : bs;
        size_t a = start, b = end;
        while (a < b && (v[a] == ' ' || v[a] == '\0'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\0'))
            b--;
        out.append(v, a, b - a);
        if (bs == std::string::npos)
            break;
        out += '\\';
        start = bs + 1;
    }
    return out;
}

void huren_dicom__collect(DcmItem *ds, bool keep_empty, huren_dicom__elements &out,
                          std::string &warn)
{
    OFString scs;
    ds->findAndGetOFStringArray(DCM_SpecificCharacterSet, scs);
    huren_dicom__charset conv;
    bool have_conv = select_charset(scs, conv, warn);

    unsigned long card = ds->card();
    for (unsigned long i = 0; i < card; i++) {
        DcmElement *el = ds->getElement(i);
        if (!el)
            continue;
        DcmTag tag = el->getTag();
        if (tag.getGroup() == 0x0002 || tag == DCM_SpecificCharacterSet)
            continue;
        DcmEVR evr = el->ident();
        if (!text_vr(evr, el->getVM()))
            continue;
        if (el->getLength() == 0) {
            if (keep_empty)
                out.add(((uint32_t)tag.getGroup() << 16) | tag.getElement(),
                        DcmVR(evr).getValidVRName(), std::string());
            continue;
        }
        OFString raw;
        if (el->getOFStringArray(raw).bad())
            continue;
        std::string value(raw.c_str(), raw.length());
        if (evr == EVR_UI)
            value = trim_uids(value);
        if (!plain_ascii(value)) {
            if (charset_vr(evr) && have_conv)
                value = convert_value(conv, scs, tag, evr, value, warn);
            else
                value = fallback(value, delimiters(evr));
        }
        out.add(((uint32_t)tag.getGroup() << 16) | tag.getElement(), DcmVR(evr).getValidVRName(),
                std::move(value));
    }
    out.finish();
}

extern "C" int huren_dicom_uid_valid(const char *uid)
{
    if (!uid)
        return 0;
    size_t len = strlen(uid);
    if (len == 0 || len > 64)
        return 0;
    size_t comp_len = 0;
    char first = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = uid[i];
        if (c == '.' || c == '\0') {
            if (comp_len == 0 || (comp_len > 1 && first == '0'))
                return 0;
            comp_len = 0;
        } else if (c >= '0' && c <= '9') {
            if (comp_len == 0)
                first = c;
            comp_len++;
        } else {
            return 0;
        }
    }
    return 1;
}

extern "C" const char *huren_dicom_elements_find(const huren_dicom_element *e, size_t n,
                                                 uint32_t tag)
{
    if (!e)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (e[i].tag == tag)
            return e[i].value;
    return NULL;
}

/* One item's string values to UTF-8 in place, then its sequences' items (each may name a
 * Specific Character Set of its own, else inherits scs). Depth is bounded by the nesting scan
 * every stored dataset passed. */
static void item_to_utf8(DcmItem *item, const OFString &outer_scs, std::string &warn)
{
    OFString scs = outer_scs;
    if (item->tagExists(DCM_SpecificCharacterSet))
        item->findAndGetOFStringArray(DCM_SpecificCharacterSet, scs);
    huren_dicom__charset conv;
    bool have_conv = select_charset(scs, conv, warn);
    for (unsigned long i = 0; i < item->card(); i++) {
        DcmElement *el = item->getElement(i);
        if (!el)
            continue;
        DcmEVR evr = el->ident();
        if (evr == EVR_SQ) {
            DcmSequenceOfItems *sq = dynamic_cast<DcmSequenceOfItems *>(el);
            for (unsigned long k = 0; sq && k < sq->card(); k++)
                item_to_utf8(sq->getItem(k), scs, warn);
            continue;
        }
        DcmTag tag = el->getTag();
        if (tag.getGroup() == 0x0002 || tag == DCM_SpecificCharacterSet || el->getLength() == 0 ||
            !text_vr(evr, el->getVM()) || evr == EVR_UI)
            continue;
        OFString raw;
        if (el->getOFStringArray(raw).bad())
            continue;
        std::string value(raw.c_str(), raw.length());
        if (plain_ascii(value))
            continue;
        value = charset_vr(evr) && have_conv ? convert_value(conv, scs, tag, evr, value, warn)
                                             : fallback(value, delimiters(evr));
        el->putOFStringArray(OFString(value.c_str(), value.size()));
    }
    if (item->tagExists(DCM_SpecificCharacterSet))
        item->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
}

void huren_dicom__dataset_to_utf8(DcmItem *ds, std::string &warn)
{
    item_to_utf8(ds, OFString(), warn);
    ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
}
