/* strbuf.c: the bounded growing buffer the encoder, the ACK builder and the MLLP decoder
 * write into. It never grows past its maximum: the write fails with HUREN_HL7_ETOOBIG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

void huren_hl7__sb_init(hl7_strbuf *sb, size_t max)
{
    memset(sb, 0, sizeof(*sb));
    sb->max = max;
}

static int sb_grow(hl7_strbuf *sb, size_t need)
{
    size_t cap;
    char *p;

    if (sb->failed)
        return sb->failed;
    if (need > sb->max || need + 1 < need) {
        sb->failed = HUREN_HL7_ETOOBIG;
        return sb->failed;
    }
    if (need + 1 <= sb->cap)
        return 0;
    cap = sb->cap ? sb->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    if (cap > sb->max + 1)
        cap = sb->max + 1;
    p = realloc(sb->data, cap);
    if (p == NULL) {
        sb->failed = HUREN_HL7_ENOMEM;
        return sb->failed;
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

int huren_hl7__sb_add(hl7_strbuf *sb, const char *data, size_t len)
{
    int rc = sb_grow(sb, sb->len + len);

    if (rc < 0)
        return rc;
    if (len)
        memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
    return 0;
}

int huren_hl7__sb_adds(hl7_strbuf *sb, const char *s)
{
    return huren_hl7__sb_add(sb, s ? s : "", s ? strlen(s) : 0);
}

int huren_hl7__sb_addc(hl7_strbuf *sb, char c)
{
    return huren_hl7__sb_add(sb, &c, 1);
}

int huren_hl7__sb_printf(hl7_strbuf *sb, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return HUREN_HL7_ERROR;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    return huren_hl7__sb_add(sb, tmp, (size_t)n);
}

void huren_hl7__sb_free(hl7_strbuf *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof(*sb));
}
