/* fuzz_multipart.c: the STOW-RS multipart reader and the Content-Type and part-header
 * parsers. The first bytes pick the boundary length and the chunk size; the rest is the body.
 * Checks: no part begins inside another, no data outside a part, never more bytes out than in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

typedef struct totals {
    size_t parts, bytes, open;
} totals;

static int begin(void *p, const char *h, size_t len)
{
    totals *t = p;
    char v[128];
    multipart_header(h, len, "Content-Type", v, sizeof v);
    if (t->open)
        abort(); /* a part began inside another */
    t->open = 1;
    t->parts++;
    return 0;
}

static int data(void *p, const char *d, size_t len)
{
    totals *t = p;
    (void)d;
    if (!t->open)
        abort(); /* data outside a part */
    t->bytes += len;
    return 0;
}

static int end(void *p)
{
    totals *t = p;
    if (!t->open)
        abort();
    t->open = 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 3)
        return 0;
    size_t blen = in[0] % 8 + 1, step = (size_t)in[1] * 37 % 4096 + 1;
    if (size < 2 + blen)
        return 0;
    char boundary[16], ct[256], v[96];
    memcpy(boundary, in + 2, blen);
    boundary[blen] = 0;
    const char *body = (const char *)in + 2 + blen;
    size_t len = size - 2 - blen;
    size_t ctlen = len < sizeof ct - 1 ? len : sizeof ct - 1;
    memcpy(ct, body, ctlen);
    ct[ctlen] = 0;
    multipart_param(ct, "boundary", v, sizeof v);
    multipart_is_type(ct, "multipart/related");
    totals t = {0};
    multipart_callbacks cb = {begin, data, end};
    multipart_reader *r = multipart_reader_new(boundary, &cb, &t);
    if (!r)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += step)
        rc = multipart_reader_feed(r, body + i, len - i < step ? len - i : step);
    if (rc == 0)
        multipart_reader_finish(r);
    if (t.bytes > len)
        abort(); /* more data out than in */
    multipart_reader_free(r);
    return 0;
}
