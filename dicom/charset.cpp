/* charset.cpp: text values from a DICOM Specific Character Set (PS3.3 C.12.1.1.2) to UTF-8,
 * over iconv: single-byte sets, ISO_IR 192, GB18030 and GBK as wholes, and ISO 2022 code
 * extensions (PS3.5 6.1.2.5) by switching G0/G1 on each escape sequence ourselves, because
 * DCMTK's converter cannot open some of them (ISO 2022 IR 87, IR 159 with glibc's iconv).
 * Conversion never fails outright: a byte that is not valid becomes U+FFFD and is reported. */
#include "dicom_int.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iconv.h>

/* How a set encodes characters once it is invoked. */
enum class huren_dicom__cs_kind {
    ascii,    /* ISO 646 IRV (G0) */
    romaji,   /* JIS X 0201 Roman (G0): read as ASCII, which it differs from only in 2 glyphs */
    katakana, /* JIS X 0201 Katakana (G1), 0xA1..0xDF to U+FF61.. */
    single96, /* a 96-character set in G1, through iconv */
    jis0208,  /* 2 bytes in G0, through EUC-JP */
    jis0212,  /* 2 bytes in G0, through EUC-JP with SS3 */
    double94  /* 2 bytes in G1 (KS X 1001, GB 2312), through the EUC codec */
};

using kind = huren_dicom__cs_kind;

struct huren_dicom__charset_set {
    const char *term;  /* defined term, normalised (upper case, no spaces, '_' or '-') */
    const char *iconv; /* iconv name, or NULL */
    kind k;
    const char *esc; /* designating escape sequence after ESC, "" for none */
    bool g1;         /* designated to G1 (else G0) */
    kind k_g0;       /* IR 13 designates two sets at once: its G0 (romaji) */
};

namespace
{
typedef huren_dicom__charset_set set_def;

/* One row per defined term; the ISO 2022 terms share their sets with the single-value terms.
 * IR 13 has both a G1 (Katakana, ESC ) I) and a G0 (Romaji, ESC ( J). */
const set_def sets[] = {
    {"ISO2022IR6", nullptr, kind::ascii, "(B", false, kind::ascii},
    {"ISO2022IR100", "ISO-8859-1", kind::single96, "-A", true, kind::ascii},
    {"ISO2022IR101", "ISO-8859-2", kind::single96, "-B", true, kind::ascii},
    {"ISO2022IR109", "ISO-8859-3", kind::single96, "-C", true, kind::ascii},
    {"ISO2022IR110", "ISO-8859-4", kind::single96, "-D", true, kind::ascii},
    {"ISO2022IR144", "ISO-8859-5", kind::single96, "-L", true, kind::ascii},
    {"ISO2022IR127", "ISO-8859-6", kind::single96, "-G", true, kind::ascii},
    {"ISO2022IR126", "ISO-8859-7", kind::single96, "-F", true, kind::ascii},
    {"ISO2022IR138", "ISO-8859-8", kind::single96, "-H", true, kind::ascii},
    {"ISO2022IR148", "ISO-8859-9", kind::single96, "-M", true, kind::ascii},
    {"ISO2022IR203", "ISO-8859-15", kind::single96, "-b", true, kind::ascii},
    {"ISO2022IR166", "TIS-620", kind::single96, "-T", true, kind::ascii},
    {"ISO2022IR13", nullptr, kind::katakana, ")I", true, kind::romaji},
    {"ISO2022IR87", "EUC-JP", kind::jis0208, "$B", false, kind::ascii},
    {"ISO2022IR159", "EUC-JP", kind::jis0212, "$(D", false, kind::ascii},
    {"ISO2022IR149", "EUC-KR", kind::double94, "$)C", true, kind::ascii},
    {"ISO2022IR58", "GB2312", kind::double94, "$)A", true, kind::ascii},
};

/* Terms without code extensions and the ISO 2022 term they stand for (NULL: a whole codec). */
struct plain_def {
    const char *term, *ext, *iconv;
};
const plain_def plains[] = {
    {"ISOIR6", "ISO2022IR6", nullptr},     {"ISOIR100", "ISO2022IR100", nullptr},
    {"ISOIR101", "ISO2022IR101", nullptr}, {"ISOIR109", "ISO2022IR109", nullptr},
    {"ISOIR110", "ISO2022IR110", nullptr}, {"ISOIR144", "ISO2022IR144", nullptr},
    {"ISOIR127", "ISO2022IR127", nullptr}, {"ISOIR126", "ISO2022IR126", nullptr},
    {"ISOIR138", "ISO2022IR138", nullptr}, {"ISOIR148", "ISO2022IR148", nullptr},
    {"ISOIR203", "ISO2022IR203", nullptr}, {"ISOIR166", "ISO2022IR166", nullptr},
    {"ISOIR13", "ISO2022IR13", nullptr},   {"ISOIR192", nullptr, "UTF-8"},
    {"GB18030", nullptr, "GB18030"},       {"GBK", nullptr, "GBK"},
    {"ISOIR58", "ISO2022IR58", nullptr}, /* not a defined term, but seen in Chinese files */
};

std::string normalise(const std::string &t)
{
    std::string n;
    for (char c : t) {
        if (c == ' ' || c == '_' || c == '-')
            continue;
        n += (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    return n;
}

const set_def *find_set(const std::string &norm)
{
    for (const set_def &s : sets)
        if (norm == s.term)
            return &s;
    return nullptr;
}

/* The iconv descriptors one conversion uses, opened on first need. */
struct codecs {
    std::vector<std::pair<std::string, iconv_t>> open;
    ~codecs()
    {
        for (auto &p : open)
            iconv_close(p.second);
    }
    iconv_t get(const char *name)
    {
        for (auto &p : open)
            if (p.first == name)
                return p.second;
        iconv_t cd = iconv_open("UTF-8", name);
        if (cd != (iconv_t)-1)
            open.emplace_back(name, cd);
        return cd;
    }
};

/* Convert exactly the bytes in[0..n) as one or more characters; false if not valid. */
bool conv(iconv_t cd, const char *in, size_t n, std::string &out)
{
    if (cd == (iconv_t)-1)
        return false;
    char buf[64];
    char *ip = const_cast<char *>(in), *op = buf;
    size_t il = n, ol = sizeof buf;
    (void)iconv(cd, nullptr, nullptr, nullptr, nullptr);
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 || il != 0)
        return false;
    out.append(buf, (size_t)(op - buf));
    return true;
}

const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

} // namespace

bool huren_dicom__charset::select(const std::string &scs, std::string &why)
{
    terms.clear();
    whole_iconv.clear();
    std::vector<std::string> vals;
    size_t start = 0;
    for (;;) {
        size_t bs = scs.find('\\', start);
        std::string v = scs.substr(start, bs == std::string::npos ? bs : bs - start);
        while (!v.empty() && v.back() == ' ')
            v.pop_back();
        while (!v.empty() && v.front() == ' ')
            v.erase(0, 1);
        vals.push_back(v);
        if (bs == std::string::npos)
            break;
        start = bs + 1;
    }
    for (size_t i = 0; i < vals.size(); i++) {
        std::string n = normalise(vals[i]);
        if (n.empty()) {
            if (i == 0)
                terms.push_back(find_set("ISO2022IR6")); /* the default repertoire */
            continue;
        }
        const set_def *s = find_set(n);
        const plain_def *pd = nullptr;
        for (const plain_def &p : plains)
            if (!s && n == p.term)
                pd = &p;
        if (!s && !pd) {
            why = std::string("Specific Character Set term \"") + vals[i] + "\" is not known";
            terms.clear();
            return false;
        }
        if (pd && pd->ext) {
            s = find_set(pd->ext);
        } else if (pd && i == 0) {
            whole_iconv = pd->iconv;
            terms.clear();
            if (vals.size() > 1)
                why = std::string("code extensions cannot follow \"") + vals[0] + "\"; ignored";
            return true;
        } else if (pd) {
            why = std::string("\"") + vals[i] + "\" cannot be a code extension";
            terms.clear();
            return false;
        }
        terms.push_back(s);
    }
    return true;
}

namespace
{

/* The G0/G1 state of one ISO 2022 decoding. */
struct state {
    const set_def *g0, *g1; /* g0 NULL: ASCII; for IR 13 g0 is its row, read as romaji */
    kind k0;
};

state initial(const std::vector<const set_def *> &terms)
{
    state st{nullptr, nullptr, kind::ascii};
    const set_def *first = terms.empty() ? nullptr : terms[0];
    if (!first)
        return st;
    if (first->g1) {
        st.g1 = first;
        st.k0 = first->k_g0;
    } else if (first->k != kind::ascii) {
        st.g0 = first;
        st.k0 = first->k;
    }
    return st;
}

/* Apply the escape sequence at p (just after ESC); returns its length after ESC, 0 if unknown.
 * Only the sets the Specific Character Set declares may be designated, as PS3.5 6.1.2.5.3
 * demands, but an undeclared one we know is decoded anyway (counted as a problem). */
size_t escape(const unsigned char *p, size_t left, state &st, bool &undeclared,
              const std::vector<const set_def *> &terms)
{
    for (const set_def &s : sets) {
        size_t n = strlen(s.esc);
        bool romaji = s.k_g0 == kind::romaji && left >= 2 && p[0] == '(' && p[1] == 'J';
        if (!romaji && (left < n || memcmp(p, s.esc, n) != 0))
            continue;
        bool declared = false;
        for (const set_def *t : terms)
            declared = declared || t == &s;
        if (!declared && strcmp(s.term, "ISO2022IR6") != 0)
            undeclared = true;
        if (romaji) {
            st.g0 = nullptr;
            st.k0 = kind::romaji;
            return 2;
        }
        if (s.g1) {
            st.g1 = &s;
        } else {
            st.g0 = s.k == kind::ascii ? nullptr : &s;
            st.k0 = s.k;
        }
        return n;
    }
    if (left >= 2 && p[0] == '$' && p[1] == '@') { /* JIS C 6226-1978, a subset of X 0208 */
        st.g0 = find_set("ISO2022IR87");
        st.k0 = kind::jis0208;
        return 2;
    }
    return 0;
}

bool is_delim(unsigned char c, const char *delims)
{
    return c < 0x20 || strchr(delims, c) != nullptr;
}

/* One character in a G1 set at p (c >= 0x80); returns the bytes used, 0 if not valid. */
size_t g1_char(const unsigned char *p, size_t left, const set_def *g1, codecs &cc, std::string &out)
{
    unsigned char c = p[0];
    if (!g1 || c < 0xA0)
        return 0;
    switch (g1->k) {
    case kind::katakana: {
        if (c < 0xA1 || c > 0xDF)
            return 0;
        unsigned cp = 0xFF61 + (c - 0xA1);
        out += (char)(0xE0 | (cp >> 12));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
        return 1;
    }
    case kind::single96:
        return conv(cc.get(g1->iconv), (const char *)p, 1, out) ? 1 : 0;
    case kind::double94:
        if (left < 2 || c < 0xA1 || c > 0xFE || p[1] < 0xA1 || p[1] > 0xFE)
            return 0;
        return conv(cc.get(g1->iconv), (const char *)p, 2, out) ? 2 : 0;
    default:
        return 0;
    }
}

/* One two-byte character of JIS X 0208/0212 in G0 at p; returns 2, or 0 if not valid. */
size_t g0_double(const unsigned char *p, size_t left, kind k, codecs &cc, std::string &out)
{
    if (left < 2 || p[0] < 0x21 || p[0] > 0x7E || p[1] < 0x21 || p[1] > 0x7E)
        return 0;
    char b[3];
    size_t n = 0;
    if (k == kind::jis0212)
        b[n++] = (char)0x8F;
    b[n++] = (char)(p[0] | 0x80);
    b[n++] = (char)(p[1] | 0x80);
    return conv(cc.get("EUC-JP"), b, n, out) ? 2 : 0;
}

} // namespace

bool huren_dicom__charset::convert(const std::string &raw, const char *delims, std::string &out,
                                   std::string &why) const
{
    out.clear();
    codecs cc;
    const unsigned char *p = (const unsigned char *)raw.data();
    size_t n = raw.size(), bad = 0, first_bad = 0;
    if (!whole_iconv.empty()) {
        iconv_t cd = cc.get(whole_iconv.c_str());
        if (cd == (iconv_t)-1) {
            why = "iconv cannot open " + whole_iconv + ": " + strerror(errno);
            return false;
        }
        /* runs of bytes through iconv; a byte it refuses is replaced and skipped */
        size_t i = 0;
        while (i < n) {
            std::vector<char> buf((n - i) * 4 + 16);
            char *ip = (char *)p + i, *op = buf.data();
            size_t il = n - i, ol = buf.size();
            (void)iconv(cd, nullptr, nullptr, nullptr, nullptr);
            size_t r = iconv(cd, &ip, &il, &op, &ol);
            out.append(buf.data(), (size_t)(op - buf.data()));
            i = (size_t)(ip - (char *)p);
            if (r != (size_t)-1 && il == 0)
                break;
            if (!bad++)
                first_bad = i;
            out += replacement;
            i++;
        }
    } else {
        const std::vector<const set_def *> &t = terms;
        state init = initial(t), st = init;
        bool undeclared = false;
        size_t i = 0;
        while (i < n) {
            unsigned char c = p[i];
            size_t used = 0;
            if (c == 0x1B) {
                used = escape(p + i + 1, n - i - 1, st, undeclared, t);
                if (used) {
                    i += used + 1;
                    continue;
                }
            } else if (c >= 0x80) {
                used = g1_char(p + i, n - i, st.g1, cc, out);
            } else if ((st.k0 == kind::jis0208 || st.k0 == kind::jis0212) && c > 0x20) {
                used = g0_double(p + i, n - i, st.k0, cc, out);
            } else {
                /* a delimiter returns to the initial sets (PS3.5 6.1.2.5.3) */
                if (is_delim(c, delims))
                    st = init;
                out += (char)c;
                used = 1;
            }
            if (!used) {
                if (!bad++)
                    first_bad = i;
                out += replacement;
                used = 1;
            }
            i += used;
        }
        if (undeclared && !bad)
            why = "an escape sequence designates a character set the Specific Character Set "
                  "does not declare; decoded anyway";
    }
    if (bad) {
        char msg[128];
        snprintf(msg, sizeof msg, "%zu byte(s) not valid, the first 0x%02X at offset %zu", bad,
                 p[first_bad], first_bad);
        why = msg;
        return false;
    }
    return true;
}
