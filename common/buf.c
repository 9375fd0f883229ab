/* buf.c: the bounded growing buffer (huren_buf.h). */
#include "huren_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void huren_buf_init(huren_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

static int grow(huren_buf *b, size_t extra)
{
    if (b->failed)
        return b->failed;
    size_t max = b->max ? b->max : SIZE_MAX - 1;
    if (extra > max || b->len > max - extra) {
        b->failed = HUREN_BUF_ETOOBIG;
        return b->failed;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > max + 1)
        cap = max + 1;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = HUREN_BUF_ENOMEM;
        return b->failed;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int huren_buf_add(huren_buf *b, const void *data, size_t len)
{
    int rc = grow(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int huren_buf_read(huren_buf *b, FILE *f)
{
    char chunk[16384];
    int rc = huren_buf_add(b, "", 0);
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = huren_buf_add(b, chunk, n);
    if (rc == 0 && ferror(f))
        rc = HUREN_BUF_EIO;
    return rc;
}

int huren_buf_adds(huren_buf *b, const char *s)
{
    return huren_buf_add(b, s ? s : "", s ? strlen(s) : 0);
}

int huren_buf_addc(huren_buf *b, char c)
{
    return huren_buf_add(b, &c, 1);
}

int huren_buf_vprintf(huren_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = n < 0 ? HUREN_BUF_ENOMEM : grow(b, (size_t)n);
    if (n < 0 && !b->failed)
        b->failed = rc;
    if (rc == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc < 0 ? b->failed : 0;
}

int huren_buf_printf(huren_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = huren_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *huren_buf_release(huren_buf *b)
{
    char *d = b->data;
    size_t max = b->max;
    huren_buf_init(b, max);
    return d;
}

void huren_buf_free(huren_buf *b)
{
    free(b->data);
    size_t max = b->max;
    huren_buf_init(b, max);
}
