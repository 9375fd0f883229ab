/* utf8.c: UTF-8 checks for what arrives in a request (path, query keys and values) and the
 * cleaning of text echoed back in an error answer, so that an answer about a bad byte can
 * always be built (jansson refuses invalid UTF-8). */
#include "http.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not one (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t sequence_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

int http_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n) {
        size_t len = sequence_len(p, n);
        if (!len)
            return 0;
        p += len;
        n -= len;
    }
    return 1;
}

int http_text_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return http_utf8_valid(s, n);
}

void http_utf8_clean(char *out, size_t outlen, const char *in)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t n = strlen((const char *)p), o = 0;
    if (outlen == 0)
        return;
    while (n) {
        size_t len = sequence_len(p, n);
        const char *src = len ? (const char *)p : replacement;
        size_t w = len ? len : 3;
        if (o + w >= outlen)
            break; /* never cut a sequence in two */
        memcpy(out + o, src, w);
        o += w;
        p += len ? len : 1;
        n -= len ? len : 1;
    }
    out[o] = 0;
}
