/* charset.c: HL7 table 0211 character sets (MSH-18) and their conversion to and from UTF-8
 * with glibc iconv. Multi-byte sets are converted before the message is split, since a
 * GB18030 trail byte may equal a delimiter such as '|' or '\'. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

/* MSH-18 labels, compared after normalisation (upper case, without spaces, '-', '_' and '.'),
 * so that "GB 18030-2000", "gb18030" and "GB-18030" are one label. Table 0211 names first,
 * then the spellings vendors use (some from DICOM's Specific Character Set). */
static const struct {
    const char *label; /* normalised */
    const char *iconv;
} charsets[] = {
    /* table 0211 */
    {"ASCII", "ASCII"},
    {"8859/1", "ISO-8859-1"},
    {"8859/2", "ISO-8859-2"},
    {"8859/3", "ISO-8859-3"},
    {"8859/4", "ISO-8859-4"},
    {"8859/5", "ISO-8859-5"},
    {"8859/6", "ISO-8859-6"},
    {"8859/7", "ISO-8859-7"},
    {"8859/8", "ISO-8859-8"},
    {"8859/9", "ISO-8859-9"},
    {"8859/15", "ISO-8859-15"},
    /* ISO IR14 (JIS X 0201), IR87 (JIS X 0208), IR159 (JIS X 0212) are switched with ISO 2022
     * escapes, which ISO-2022-JP-2 decodes, whichever of them MSH-18 names first */
    {"ISOIR14", "ISO-2022-JP-2"},
    {"ISOIR87", "ISO-2022-JP-2"},
    {"ISOIR159", "ISO-2022-JP-2"},
    /* KS X 1001 in its 8-bit (EUC) form; CP949 is its superset */
    {"ISOIR149", "CP949"},
    {"KSX1001", "CP949"},
    {"GB180302000", "GB18030"},
    {"BIG5", "BIG5"},
    {"CNS116431992", "EUC-TW"},
    {"UNICODEUTF8", "UTF-8"},
    /* Table 0211 says UNICODE means UCS-2, but the senders we meet use it for UTF-8. */
    {"UNICODE", "UTF-8"},
    /* vendor spellings */
    {"UTF8", "UTF-8"},
    {"ISOIR192", "UTF-8"},
    {"USASCII", "ASCII"},
    {"ISOIR6", "ASCII"},
    {"GB18030", "GB18030"},
    {"GB180302005", "GB18030"},
    {"GBK", "GB18030"}, /* GB18030 is a superset of GBK and GB 2312 */
    {"CP936", "GB18030"},
    {"GB2312", "GB18030"},
    {"EUCCN", "GB18030"},
    {"ISOIR58", "GB18030"},
    {"BIG5HKSCS", "BIG5-HKSCS"},
    {"CP950", "BIG5"},
    {"EUCTW", "EUC-TW"},
    {"EUCKR", "CP949"},
    {"KSC5601", "CP949"},
    {"CP949", "CP949"},
    {"ISO2022JP", "ISO-2022-JP-2"},
    {"ISO2022JP2", "ISO-2022-JP-2"},
    {"SHIFTJIS", "SHIFT_JIS"},
    {"SJIS", "SHIFT_JIS"},
    {"EUCJP", "EUC-JP"},
    {"ISO88591", "ISO-8859-1"},
    {"ISO88592", "ISO-8859-2"},
    {"ISO88593", "ISO-8859-3"},
    {"ISO88594", "ISO-8859-4"},
    {"ISO88595", "ISO-8859-5"},
    {"ISO88596", "ISO-8859-6"},
    {"ISO88597", "ISO-8859-7"},
    {"ISO88598", "ISO-8859-8"},
    {"ISO88599", "ISO-8859-9"},
    {"ISO885915", "ISO-8859-15"},
    {"ISOIR100", "ISO-8859-1"},
    {"LATIN1", "ISO-8859-1"},
    {"WINDOWS1252", "CP1252"},
    {"CP1252", "CP1252"},
};

/* "GB 18030-2000" -> "GB180302000"; 0 when the label does not fit. */
static int normalise(const char *label, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *label; label++) {
        unsigned char c = (unsigned char)*label;
        if (c == ' ' || c == '-' || c == '_' || c == '.')
            continue;
        if (o + 1 >= outsz)
            return 0;
        out[o++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    out[o] = '\0';
    return 1;
}

const char *huren_hl7__charset_iconv(const char *label)
{
    char key[32];
    size_t i;

    if (label == NULL || !normalise(label, key, sizeof(key)) || key[0] == '\0')
        return NULL;
    for (i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
        if (strcmp(key, charsets[i].label) == 0)
            return charsets[i].iconv;
    return NULL;
}

int huren_hl7__charset_is_multibyte(const char *iconv_name)
{
    static const char *const mb[] = {"GB18030", "BIG5",      "BIG5-HKSCS", "EUC-TW",
                                     "CP949",   "SHIFT_JIS", "EUC-JP"};
    size_t i;

    for (i = 0; iconv_name && i < sizeof(mb) / sizeof(mb[0]); i++)
        if (strcmp(iconv_name, mb[i]) == 0)
            return 1;
    return 0;
}

int huren_hl7__charset_is_utf8(const char *iconv_name)
{
    return iconv_name != NULL && strcmp(iconv_name, "UTF-8") == 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t huren_hl7__utf8_valid_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n, k;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07;
        else
            return i;
        if (len - i <= n)
            return i;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return i;
}

static size_t ascii_valid_prefix(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            break;
    return i;
}

/* UTF-8 and ASCII need no iconv: validate (or repair) and copy. */
static int copy_checked(const char *name, const char *in, size_t len, int lossy, char **out,
                        size_t *out_len, size_t *bad_off)
{
    int utf8 = huren_hl7__charset_is_utf8(name);
    char *buf = malloc(len + 1);
    size_t i = 0, o = 0;

    if (buf == NULL)
        return HUREN_HL7_ENOMEM;
    while (i < len) {
        size_t ok = utf8 ? huren_hl7__utf8_valid_prefix(in + i, len - i)
                         : ascii_valid_prefix(in + i, len - i);
        memcpy(buf + o, in + i, ok);
        o += ok;
        i += ok;
        if (i < len) {
            if (!lossy) {
                free(buf);
                *bad_off = i;
                return HUREN_HL7_ECHARSET;
            }
            buf[o++] = '?';
            i++;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

/* KS X 1001 arrives in its 8-bit form, often wrapped in the ISO 2022 designations DICOM
 * writes (ESC $ ) C for G1, ESC ( B back to ASCII): drop every designation (ESC, one or two
 * intermediate bytes 0x20-0x2F, a final byte 0x30-0x7E) so that CP949 reads the rest.
 * Returns a copy (free it) or NULL when there is nothing to drop or no memory. */
static char *drop_designations(const char *in, size_t *len)
{
    char *copy;
    size_t i, o = 0;

    if (memchr(in, 0x1B, *len) == NULL || (copy = malloc(*len + 1)) == NULL)
        return NULL;
    for (i = 0; i < *len;) {
        size_t k = i + 1;
        while (in[i] == 0x1B && k < *len && k - i <= 2 && in[k] >= 0x20 && in[k] <= 0x2F)
            k++;
        if (in[i] == 0x1B && k > i + 1 && k < *len && in[k] >= 0x30 && in[k] <= 0x7E) {
            i = k + 1;
            continue;
        }
        copy[o++] = in[i++];
    }
    *len = o;
    return copy;
}

static int iconv_to_utf8(const char *iconv_name, const char *in, size_t len, int lossy, char **out,
                         size_t *out_len, size_t *bad_off);

int huren_hl7__charset_to_utf8(const char *iconv_name, const char *in, size_t len, int lossy,
                               char **out, size_t *out_len, size_t *bad_off)
{
    char *filtered = NULL;
    int rc;

    *out = NULL;
    *out_len = 0;
    *bad_off = 0;
    if (huren_hl7__charset_is_utf8(iconv_name) || strcmp(iconv_name, "ASCII") == 0)
        return copy_checked(iconv_name, in, len, lossy, out, out_len, bad_off);
    if (strcmp(iconv_name, "CP949") == 0 && (filtered = drop_designations(in, &len)) != NULL)
        in = filtered;
    rc = iconv_to_utf8(iconv_name, in, len, lossy, out, out_len, bad_off);
    free(filtered);
    return rc;
}

static int iconv_to_utf8(const char *iconv_name, const char *in, size_t len, int lossy, char **out,
                         size_t *out_len, size_t *bad_off)
{
    iconv_t cd;
    char *buf, *ip, *op;
    size_t cap, il, ol;

    cd = iconv_open("UTF-8", iconv_name);
    if (cd == (iconv_t)-1)
        return HUREN_HL7_ECHARSET;
    cap = 4 * len + 1; /* no set we map needs more than 4 UTF-8 bytes per input byte */
    buf = malloc(cap);
    if (buf == NULL) {
        iconv_close(cd);
        return HUREN_HL7_ENOMEM;
    }
    ip = (char *)in;
    il = len;
    op = buf;
    ol = cap - 1;
    while (il > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            continue;
        if ((errno == EILSEQ || errno == EINVAL) && lossy && ol > 0) {
            *op++ = '?';
            ol--;
            ip++;
            il--;
            iconv(cd, NULL, NULL, NULL, NULL);
            continue;
        }
        *bad_off = (size_t)(ip - in);
        iconv_close(cd);
        free(buf);
        return errno == E2BIG ? HUREN_HL7_ETOOBIG : HUREN_HL7_ECHARSET;
    }
    iconv_close(cd);
    *op = '\0';
    *out = buf;
    *out_len = (size_t)(op - buf);
    return 0;
}

/* Length of the UTF-8 character starting at s (1 for a bad byte). */
static size_t utf8_char_len(const char *s, size_t len)
{
    size_t n = huren_hl7__utf8_valid_prefix(s, len < 4 ? len : 4);
    unsigned c = (unsigned char)s[0];
    size_t want = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

    return n >= want ? want : 1;
}

int huren_hl7__charset_from_utf8(const char *iconv_name, const char *in, size_t len, char **out,
                                 size_t *out_len)
{
    iconv_t cd;
    char *buf, *ip, *op;
    size_t cap, il, ol;

    *out = NULL;
    *out_len = 0;
    if (huren_hl7__charset_is_utf8(iconv_name)) {
        size_t bad;
        return copy_checked(iconv_name, in, len, 1, out, out_len, &bad);
    }
    cd = iconv_open(iconv_name, "UTF-8");
    if (cd == (iconv_t)-1)
        return HUREN_HL7_ECHARSET;
    cap = 4 * len + 1;
    buf = malloc(cap);
    if (buf == NULL) {
        iconv_close(cd);
        return HUREN_HL7_ENOMEM;
    }
    ip = (char *)in;
    il = len;
    op = buf;
    ol = cap - 1;
    while (il > 0) {
        size_t skip;

        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            continue;
        if (errno == E2BIG || ol == 0)
            break;
        skip = utf8_char_len(ip, il);
        *op++ = '?';
        ol--;
        ip += skip;
        il -= skip;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv_close(cd);
    *op = '\0';
    *out = buf;
    *out_len = (size_t)(op - buf);
    return 0;
}
