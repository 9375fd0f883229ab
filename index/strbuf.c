/* strbuf.c: a growable NUL-terminated string used to assemble SQL text in the query builder.
 * Allocation failure is sticky (oom), so callers check once at the end. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(huren_index__strbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void huren_index__strbuf_add(huren_index__strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (grow(b, n) < 0)
        return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void huren_index__strbuf_addf(huren_index__strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void huren_index__strbuf_free(huren_index__strbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
