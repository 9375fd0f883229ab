/* charset.c: HL7 table 0211 character sets (MSH-18) and their conversion to and from UTF-8
 * with glibc iconv. Multi-byte sets are converted before the message is split, since a
 * GB18030 trail byte may equal a delimiter such as '|' or '\'. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hl7_int.h"

static const struct {
    const char *label;
    const char *iconv;
} charsets[] = {
    {"UNICODE UTF-8", "UTF-8"},
    {"UTF-8", "UTF-8"},
    /* Table 0211 says UNICODE means UCS-2, but the senders we meet use it for UTF-8. */
    {"UNICODE", "UTF-8"},
    {"ASCII", "ASCII"},
    {"GB18030", "GB18030"},
    {"GBK", "GB18030"}, /* not in table 0211, seen in the field */
    {"GB 2312", "GB18030"},
    {"BIG-5", "BIG5"},
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
};

const char *huren_hl7__charset_iconv(const char *label)
{
    size_t i;

    for (i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
        if (strcasecmp(label, charsets[i].label) == 0)
            return charsets[i].iconv;
    return NULL;
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

int huren_hl7__charset_to_utf8(const char *iconv_name, const char *in, size_t len, int lossy,
                               char **out, size_t *out_len, size_t *bad_off)
{
    iconv_t cd;
    char *buf, *ip, *op;
    size_t cap, il, ol;

    *out = NULL;
    *out_len = 0;
    *bad_off = 0;
    if (huren_hl7__charset_is_utf8(iconv_name) || strcmp(iconv_name, "ASCII") == 0)
        return copy_checked(iconv_name, in, len, lossy, out, out_len, bad_off);
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
