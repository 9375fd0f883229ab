/* parse.c: from bytes to a huren_hl7_msg. Reads the encoding characters (MSH-1, MSH-2) and
 * the character set (MSH-18) from the raw MSH, converts the whole message to UTF-8, splits it
 * into segments (CR, LF or CRLF), unescapes every value once and checks the MSH header. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

static const huren_hl7_options default_options = HUREN_HL7_OPTIONS_INIT;

static int usable_delim(unsigned char c)
{
    return c > 0x20 && c < 0x7F && !isalnum(c);
}

/* MSH-1 and MSH-2 from the raw bytes at p (which start with "MSH"). */
static int read_delims(const char *p, size_t len, char delims[6], char *err, size_t errlen)
{
    size_t n = 0, i, j;

    if (len < 4 || !usable_delim((unsigned char)p[3])) {
        huren_hl7__seterr(err, errlen, "MSH-1 field separator missing or unusable");
        return HUREN_HL7_EDELIM;
    }
    delims[0] = p[3];
    while (4 + n < len && p[4 + n] != p[3] && p[4 + n] != '\r' && p[4 + n] != '\n' && n < 5)
        n++;
    if (n != 4) {
        huren_hl7__seterr(err, errlen,
                          "MSH-2 encoding characters: expected 4 (component, repetition, "
                          "escape, sub-component), found %s%zu",
                          n >= 5 ? "more than " : "", n >= 5 ? (size_t)4 : n);
        return HUREN_HL7_EDELIM;
    }
    memcpy(delims + 1, p + 4, 4);
    delims[5] = '\0';
    for (i = 1; i < 5; i++) {
        if (!usable_delim((unsigned char)delims[i])) {
            huren_hl7__seterr(err, errlen, "MSH-2 encoding character %zu (0x%02X) is unusable", i,
                              (unsigned char)delims[i]);
            return HUREN_HL7_EDELIM;
        }
        for (j = 0; j < i; j++)
            if (delims[i] == delims[j]) {
                huren_hl7__seterr(err, errlen, "MSH-2 encoding characters repeat '%c'", delims[i]);
                return HUREN_HL7_EDELIM;
            }
    }
    return 0;
}

/* Copies raw[a..b) trimmed and printable (it may end up in a log) into label. */
static void copy_label(const char *p, size_t a, size_t b, char *label, size_t labsz)
{
    size_t i;

    while (a < b && p[a] == ' ')
        a++;
    while (b > a && p[b - 1] == ' ')
        b--;
    if (b - a >= labsz)
        b = a + labsz - 1;
    for (i = a; i < b; i++)
        label[i - a] = (p[i] > 0x1F && p[i] < 0x7F) ? p[i] : '?';
    label[b - a] = '\0';
}

/* MSH-18 from the raw first line, into label. Of its repetitions the first that names more
 * than ASCII is taken: ISO 2022 senders write "ISO IR6~ISO IR87" or "~ISO IR87" (G0 ASCII,
 * then the set switched to with escapes). With dbcs, a byte 0x81-0xFE and the byte after it
 * count as one character (GB18030/GBK). */
static void read_charset_label(const char *p, size_t len, const char *delims, int dbcs, char *label,
                               size_t labsz)
{
    size_t i = 0, field = 1, start;
    char rep[64];

    label[0] = '\0';
    while (i < len && p[i] != '\r' && p[i] != '\n' && field < 18) {
        unsigned char c = (unsigned char)p[i++];
        if (dbcs && c >= 0x81 && c <= 0xFE && i < len)
            i++;
        else if (c == (unsigned char)delims[HL7_FSEP])
            field++; /* after the k-th separator we are in MSH-(k+1) */
    }
    if (field != 18)
        return;
    for (;;) {
        const char *name;
        start = i;
        while (i < len && p[i] != '\r' && p[i] != '\n' && p[i] != delims[HL7_FSEP] &&
               p[i] != delims[HL7_RSEP] && p[i] != delims[HL7_CSEP])
            i++;
        copy_label(p, start, i, rep, sizeof(rep));
        name = rep[0] ? huren_hl7__charset_iconv(rep) : NULL;
        if (rep[0] && (label[0] == '\0' || (name && strcmp(name, "ASCII") != 0)))
            snprintf(label, labsz, "%s", rep);
        if (name && strcmp(name, "ASCII") != 0)
            return;
        while (i < len && p[i] == delims[HL7_CSEP]) /* components of a repetition: skip */
            while (++i < len && p[i] != '\r' && p[i] != '\n' && p[i] != delims[HL7_FSEP] &&
                   p[i] != delims[HL7_RSEP])
                ;
        if (i >= len || p[i] != delims[HL7_RSEP])
            return;
        i++;
    }
}

static int convert(huren_hl7_msg *msg, const char *p, size_t len, int lossy, char *err,
                   size_t errlen)
{
    size_t bad = 0;
    int rc = huren_hl7__charset_to_utf8(msg->iconv_name, p, len, lossy, &msg->text, &msg->text_len,
                                        &bad);

    if (rc == HUREN_HL7_ECHARSET) {
        const char *label = msg->charset[0] ? msg->charset : "(empty, default)";
        if (bad < len)
            huren_hl7__seterr(err, errlen,
                              "MSH-18 declares %s but byte 0x%02X at offset %zu is not valid %s",
                              label, (unsigned char)p[bad], bad, msg->iconv_name);
        else
            huren_hl7__seterr(err, errlen,
                              "MSH-18 declares %s but the text ends inside a %s "
                              "character",
                              label, msg->iconv_name);
    } else if (rc < 0) {
        huren_hl7__seterr(err, errlen, "converting from %s failed", msg->iconv_name);
    }
    return rc;
}

static int valid_name(const char *s, size_t len, char fsep)
{
    if (len < 3 || (len > 3 && s[3] != fsep))
        return 0;
    return isupper((unsigned char)s[0]) &&
           (isupper((unsigned char)s[1]) || isdigit((unsigned char)s[1])) &&
           (isupper((unsigned char)s[2]) || isdigit((unsigned char)s[2]));
}

static int add_segment(huren_hl7_msg *msg, size_t off, size_t len, size_t *cap, size_t max,
                       char *err, size_t errlen)
{
    huren_hl7_seg *seg;

    if (!valid_name(msg->text + off, len, msg->delims[HL7_FSEP])) {
        huren_hl7__seterr(err, errlen, "segment %zu at offset %zu: invalid segment name",
                          msg->nsegs + 1, off);
        return HUREN_HL7_ESYNTAX;
    }
    if (msg->nsegs > 0 &&
        (memcmp(msg->text + off, "MSH", 3) == 0 || memcmp(msg->text + off, "FHS", 3) == 0 ||
         memcmp(msg->text + off, "BHS", 3) == 0)) {
        /* a second message (or a batch) glued on: acknowledging only the first would lose it */
        huren_hl7__seterr(err, errlen, "segment %zu at offset %zu: a second %.3s in one message",
                          msg->nsegs + 1, off, msg->text + off);
        return HUREN_HL7_ESYNTAX;
    }
    if (msg->nsegs >= max) {
        huren_hl7__seterr(err, errlen, "more than %zu segments", max);
        return HUREN_HL7_ETOOBIG;
    }
    if (msg->nsegs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        huren_hl7_seg *p = realloc(msg->segs, ncap * sizeof(*p));
        if (p == NULL)
            return HUREN_HL7_ENOMEM;
        msg->segs = p;
        *cap = ncap;
    }
    seg = &msg->segs[msg->nsegs++];
    seg->msg = msg;
    memcpy(seg->name, msg->text + off, 3);
    seg->name[3] = '\0';
    seg->off = off;
    seg->len = len;
    return 0;
}

/* Blanks, tabs and the ^Z of old DOS files on a line of their own: not a segment. */
static int blank_line(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != 0x1A && s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

static int split_segments(huren_hl7_msg *msg, size_t max, int header_only, char *err, size_t errlen)
{
    size_t i = 0, cap = 0;
    int rc;

    while (i < msg->text_len) {
        size_t start = i;
        while (i < msg->text_len && msg->text[i] != '\r' && msg->text[i] != '\n')
            i++;
        if (i > start && !blank_line(msg->text + start, i - start)) {
            rc = add_segment(msg, start, i - start, &cap, max, err, errlen);
            if (rc < 0)
                return rc;
            if (header_only)
                return 0;
        }
        i++; /* CR, LF; a CRLF leaves an empty line, which is skipped */
    }
    return 0;
}

static int is_sep(const huren_hl7_msg *msg, char c)
{
    return c == msg->delims[HL7_FSEP] || c == msg->delims[HL7_CSEP] || c == msg->delims[HL7_RSEP] ||
           c == msg->delims[HL7_SSEP];
}

/* Unescapes every leaf of one segment into msg->out (see hl7_int.h for the layout). */
static int unescape_segment(huren_hl7_msg *msg, const huren_hl7_seg *seg,
                            huren_hl7_escape_policy policy, int lossy, char *err, size_t errlen)
{
    size_t start = seg->off + 3, end = seg->off + seg->len, a, i;
    int msh = strcmp(seg->name, "MSH") == 0, field = 0, rc;
    char sub[160];

    if (msh) { /* skip MSH-1 and MSH-2: they are the delimiters themselves */
        start = seg->off + 4;
        while (start < end && msg->text[start] != msg->delims[HL7_FSEP])
            start++;
        field = 2;
    }
    for (a = i = start; i <= end; i++) {
        if (i < end && !is_sep(msg, msg->text[i]))
            continue;
        if (i > a && !(i - a == 2 && memcmp(msg->text + a, "\"\"", 2) == 0)) {
            rc = huren_hl7__unescape(msg, msg->text + a, i - a, msg->out + 2 * a, 2 * (i - a) + 2,
                                     policy, lossy, sub, sizeof(sub));
            if (rc < 0) {
                huren_hl7__seterr(err, errlen, "%s field %d: %s", seg->name, field, sub);
                return rc;
            }
        }
        if (i < end && msg->text[i] == msg->delims[HL7_FSEP])
            field++;
        a = i + 1;
    }
    return 0;
}

/* "2.1" .. "2.9", with an optional sub-release ("2.3.1", "2.5.1", "2.8.2"). */
static int version_supported(const char *v)
{
    size_t i;

    if (v[0] != '2' || v[1] != '.' || v[2] < '1' || v[2] > '9')
        return 0;
    if (v[3] == '\0')
        return 1;
    if (v[3] != '.' || v[4] == '\0')
        return 0;
    for (i = 4; v[i]; i++)
        if (!isdigit((unsigned char)v[i]) || i > 6)
            return 0;
    return 1;
}

static int check_header(const huren_hl7_msg *msg, const huren_hl7_options *opts, char *err,
                        size_t errlen)
{
    const char *v;

    if (huren_hl7_msg_type(msg)[0] == '\0') {
        huren_hl7__seterr(err, errlen, "MSH-9 message type is missing");
        return HUREN_HL7_ESYNTAX;
    }
    if (huren_hl7_msg_control_id(msg)[0] == '\0') {
        huren_hl7__seterr(err, errlen, "MSH-10 message control id is missing");
        return HUREN_HL7_ESYNTAX;
    }
    /* an empty MSH-12 is taken as it comes (interface engines do); the ACK then says 2.5.1 */
    v = huren_hl7_msg_version(msg);
    if (v[0] == '\0' || opts->accept_any_version || version_supported(v))
        return 0;
    huren_hl7__seterr(err, errlen, "MSH-12 version %.16s is not supported (2.1 to 2.9)", v);
    return HUREN_HL7_EVERSION;
}

/* Finds MSH, the delimiters and the charset; p/len are narrowed to the message. */
static int read_msh(huren_hl7_msg *msg, const char **p, size_t *len, const huren_hl7_options *opts,
                    int header_only, char *err, size_t errlen)
{
    const char *label;
    int rc;

    if (*len >= 3 && memcmp(*p, "\xEF\xBB\xBF", 3) == 0)
        *p += 3, *len -= 3;
    while (*len > 0 && (**p == '\r' || **p == '\n' || **p == ' ' || **p == '\t'))
        (*p)++, (*len)--;
    if (*len < 3 || memcmp(*p, "MSH", 3) != 0) {
        huren_hl7__seterr(err, errlen, "no MSH segment at the start of the message");
        return HUREN_HL7_ENOMSH;
    }
    rc = read_delims(*p, *len, msg->delims, err, errlen);
    if (rc < 0)
        return rc;
    msg->fsep_str[0] = msg->delims[HL7_FSEP];
    read_charset_label(*p, *len, msg->delims, 0, msg->charset, sizeof(msg->charset));
    if (msg->charset[0] == '\0' || huren_hl7__charset_iconv(msg->charset) == NULL) {
        /* A GB18030 trail byte equal to the field separator in MSH-3..17 shifts the count:
         * try again reading double-byte characters, and keep the result only if it names a
         * double-byte set. */
        char gb[sizeof(msg->charset)];
        const char *name;
        read_charset_label(*p, *len, msg->delims, 1, gb, sizeof(gb));
        name = gb[0] ? huren_hl7__charset_iconv(gb) : NULL;
        if (huren_hl7__charset_is_multibyte(name))
            memcpy(msg->charset, gb, sizeof(gb));
    }
    label = msg->charset[0] ? msg->charset : opts->default_charset;
    msg->iconv_name = huren_hl7__charset_iconv(label ? label : "UNICODE UTF-8");
    if (msg->iconv_name == NULL && header_only)
        msg->iconv_name = "ASCII"; /* best effort: non-ASCII bytes become '?' */
    if (msg->iconv_name == NULL) {
        huren_hl7__seterr(err, errlen, "MSH-18 character set '%s' is not supported%s", label,
                          msg->charset[0] ? "" : " (configured default)");
        return HUREN_HL7_ECHARSET;
    }
    return 0;
}

static int parse(const char *data, size_t len, const huren_hl7_options *opts, int header_only,
                 huren_hl7_msg **out, char *err, size_t errlen)
{
    huren_hl7_msg *msg = NULL;
    size_t i;
    int rc;

    if (out == NULL || (data == NULL && len > 0))
        return HUREN_HL7_EINVAL;
    *out = NULL;
    if (opts == NULL)
        opts = &default_options;
    if (header_only && len > opts->max_message_size)
        len = opts->max_message_size; /* only the MSH line is wanted */
    if (len > opts->max_message_size) {
        huren_hl7__seterr(err, errlen, "message of %zu bytes exceeds the maximum of %zu", len,
                          opts->max_message_size);
        return HUREN_HL7_ETOOBIG;
    }
    msg = calloc(1, sizeof(*msg));
    if (msg == NULL)
        return HUREN_HL7_ENOMEM;
    msg->partial = header_only;
    rc = read_msh(msg, &data, &len, opts, header_only, err, errlen);
    if (rc < 0)
        goto done;
    if (header_only) { /* only the first line, whatever its bytes */
        for (i = 0; i < len && data[i] != '\r' && data[i] != '\n'; i++)
            ;
        len = i;
    }
    rc = convert(msg, data, len, header_only, err, errlen);
    if (rc < 0)
        goto done;
    for (i = 0; i < msg->text_len; i++) {
        if (msg->text[i] != '\0')
            continue;
        if (!header_only) {
            huren_hl7__seterr(err, errlen, "NUL byte at offset %zu", i);
            rc = HUREN_HL7_ESYNTAX;
            goto done;
        }
        msg->text[i] = '?';
    }
    rc = split_segments(msg, opts->max_segments, header_only, err, errlen);
    if (rc < 0)
        goto done;
    msg->out = calloc(1, 2 * msg->text_len + 2);
    if (msg->out == NULL) {
        rc = HUREN_HL7_ENOMEM;
        goto done;
    }
    /* the header first: an unsupported version is reported before any content error */
    for (i = 0; i < msg->nsegs; i++) {
        rc = unescape_segment(msg, &msg->segs[i], opts->unknown_escape, header_only, err, errlen);
        if (rc == 0 && i == 0 && !header_only)
            rc = check_header(msg, opts, err, errlen);
        if (rc < 0)
            goto done;
    }
done:
    if (rc < 0)
        huren_hl7_msg_free(msg);
    else
        *out = msg;
    return rc;
}

int huren_hl7_msg_parse(const char *data, size_t len, const huren_hl7_options *opts,
                        huren_hl7_msg **out, char *err, size_t errlen)
{
    return parse(data, len, opts, 0, out, err, errlen);
}

int huren_hl7_msg_parse_header(const char *data, size_t len, const huren_hl7_options *opts,
                               huren_hl7_msg **out, char *err, size_t errlen)
{
    return parse(data, len, opts, 1, out, err, errlen);
}

void huren_hl7_msg_free(huren_hl7_msg *msg)
{
    if (msg == NULL)
        return;
    free(msg->text);
    free(msg->out);
    free(msg->segs);
    free(msg);
}
