/* b64url.c: base64url decoding (RFC 4648 section 5, no padding) for the launch URL's ctx and
 * sig. (claims/jws.c has its own for JWS; a shared one belongs in common/ when both move.) */
#include "his_int.h"

static int value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

long his__b64url_decode(const char *in, size_t n, unsigned char *out, size_t max)
{
    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k == max)
                return -1;
            out[k++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc ? -1 : (long)k; /* leftover bits must be zero: one text per value */
}
