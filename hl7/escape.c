/* escape.c: HL7 escape sequences in both directions. Decoding: \F\ \S\ \T\ \R\ \E\, \.br\ and
 * \.sp\ (newline), \H\ \N\ (highlighting, dropped), \Xhh..\ (bytes of the message's charset,
 * converted to UTF-8); anything else follows huren_hl7_escape_policy. Encoding: the inverse. */
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes \Xhh..\ (seq = "Xhh..", n bytes) into UTF-8 appended at dst[*o]. */
static int unescape_hex(const huren_hl7_msg *msg, const char *seq, size_t n, char *dst,
                        size_t dstcap, size_t *o, int lossy, char *err, size_t errlen)
{
    size_t nb = (n - 1) / 2, k, ulen, bad;
    unsigned char *bytes;
    char *utf8;
    int rc;

    if (n < 3 || (n - 1) % 2 != 0) {
        huren_hl7__seterr(err, errlen, "\\X escape needs an even number of hex digits");
        return HUREN_HL7_EESCAPE;
    }
    bytes = malloc(nb);
    if (bytes == NULL)
        return HUREN_HL7_ENOMEM;
    for (k = 0; k < nb; k++) {
        int hi = hexval(seq[1 + 2 * k]), lo = hexval(seq[2 + 2 * k]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(bytes);
            huren_hl7__seterr(err, errlen, "\\X escape holds a non-hex digit or a NUL byte");
            return HUREN_HL7_EESCAPE;
        }
        bytes[k] = (unsigned char)(hi * 16 + lo);
    }
    rc = huren_hl7__charset_to_utf8(msg->iconv_name, (const char *)bytes, nb, lossy, &utf8, &ulen,
                                    &bad);
    free(bytes);
    if (rc == HUREN_HL7_ECHARSET) {
        huren_hl7__seterr(err, errlen, "\\X escape bytes are not valid %s",
                          msg->charset[0] ? msg->charset : msg->iconv_name);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (*o + ulen >= dstcap) {
        free(utf8);
        huren_hl7__seterr(err, errlen, "\\X escape expands too much");
        return HUREN_HL7_ETOOBIG;
    }
    memcpy(dst + *o, utf8, ulen);
    *o += ulen;
    free(utf8);
    return 0;
}

/* The character one short escape stands for; 0 for the dropped \H\ \N\, -1 if unknown. */
static int short_escape(const huren_hl7_msg *msg, const char *seq, size_t n)
{
    if (n == 1) {
        switch (seq[0]) {
        case 'F':
            return (unsigned char)msg->delims[HL7_FSEP];
        case 'S':
            return (unsigned char)msg->delims[HL7_CSEP];
        case 'T':
            return (unsigned char)msg->delims[HL7_SSEP];
        case 'R':
            return (unsigned char)msg->delims[HL7_RSEP];
        case 'E':
            return (unsigned char)msg->delims[HL7_ESC];
        case 'H':
        case 'N':
            return 0;
        }
    }
    if (n == 3 && (memcmp(seq, ".br", 3) == 0 || memcmp(seq, ".sp", 3) == 0))
        return '\n';
    return -1;
}

int huren_hl7__unescape(const huren_hl7_msg *msg, const char *in, size_t len, char *dst,
                        size_t dstcap, huren_hl7_escape_policy policy, int lossy, char *err,
                        size_t errlen)
{
    char esc = msg->delims[HL7_ESC];
    size_t i = 0, o = 0;

    while (i < len) {
        const char *close;
        size_t n;
        int c, rc;

        if (in[i] != esc) {
            if (o + 1 >= dstcap)
                return HUREN_HL7_ETOOBIG;
            dst[o++] = in[i++];
            continue;
        }
        close = memchr(in + i + 1, esc, len - i - 1);
        if (close == NULL) {
            if (!lossy && policy != HUREN_HL7_ESCAPE_KEEP) {
                huren_hl7__seterr(err, errlen, "unterminated escape sequence");
                return HUREN_HL7_EESCAPE;
            }
            n = len - i; /* copy the rest as text */
            goto keep;
        }
        n = (size_t)(close - (in + i + 1));
        c = n ? short_escape(msg, in + i + 1, n) : -1;
        if (c > 0 && o + 1 < dstcap) {
            dst[o++] = (char)c;
        } else if (c < 0 && n > 0 && in[i + 1] == 'X') {
            size_t o0 = o;
            rc = unescape_hex(msg, in + i + 1, n, dst, dstcap, &o, lossy, err, errlen);
            if (rc < 0 && rc != HUREN_HL7_ENOMEM && policy == HUREN_HL7_ESCAPE_KEEP) {
                o = o0; /* a malformed \X..\ is kept as text, as interface engines do */
                n += 2;
                goto keep;
            }
            if (rc < 0 && !lossy)
                return rc;
        } else if (c < 0) {
            if (policy != HUREN_HL7_ESCAPE_KEEP && !lossy) {
                huren_hl7__seterr(err, errlen, "unknown escape sequence %c%.*s%c", esc,
                                  (int)(n > 8 ? 8 : n), in + i + 1, esc);
                return HUREN_HL7_EESCAPE;
            }
            n += 2;
            goto keep;
        }
        i += n + 2;
        continue;
    keep:
        if (o + n >= dstcap)
            return HUREN_HL7_ETOOBIG;
        memcpy(dst + o, in + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
    return (int)o;
}

int huren_hl7__escape_to(huren_buf *sb, const char *value, const char *delims)
{
    static const char letters[5] = {'F', 'S', 'R', 'E', 'T'};
    char esc = delims[HL7_ESC];
    const char *p;
    int rc = 0;

    for (p = value ? value : ""; *p && rc == 0; p++) {
        const char *d = memchr(delims, *p, 5);
        char seq[8];

        if (d != NULL) {
            seq[0] = esc, seq[1] = letters[d - delims], seq[2] = esc;
            rc = huren_buf_add(sb, seq, 3);
        } else if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            p += (*p == '\r');
            seq[0] = esc, memcpy(seq + 1, ".br", 3), seq[4] = esc;
            rc = huren_buf_add(sb, seq, 5);
        } else if ((unsigned char)*p < 0x20 && *p != '\t') {
            rc = huren_buf_printf(sb, "%cX%02X%c", esc, (unsigned char)*p, esc);
        } else {
            rc = huren_buf_addc(sb, *p);
        }
    }
    return rc;
}

int huren_hl7_escape(const char *value, const char *delimiters, char *dst, size_t dstlen)
{
    huren_buf sb;
    int rc;

    if (dst == NULL || dstlen == 0)
        return HUREN_HL7_EINVAL;
    if (delimiters == NULL)
        delimiters = "|^~\\&";
    if (strlen(delimiters) < 5)
        return HUREN_HL7_EINVAL;
    huren_buf_init(&sb, dstlen - 1);
    rc = huren_hl7__escape_to(&sb, value, delimiters);
    if (rc == 0) {
        memcpy(dst, sb.data ? sb.data : "", sb.len + 1);
        rc = (int)sb.len;
    }
    huren_buf_free(&sb);
    return rc;
}
