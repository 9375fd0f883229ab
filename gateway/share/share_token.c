/* share_token.c: the secrets of a share. Tokens and PINs come from OpenSSL's RAND_bytes (fail
 * closed: no weaker source); a PIN is kept only as PBKDF2-HMAC-SHA256 with a random salt. */
#include "share.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIN_ITER 20000
#define SALT_BYTES 16

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int share_token_new(char out[SHARE_TOKEN_LEN])
{
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char b[SHARE_TOKEN_BYTES];
    out[0] = 0;
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < sizeof b; i += 3) { /* 24 bytes: whole groups, no padding */
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 | b[i + 2];
        out[k++] = b64u[v >> 18 & 63];
        out[k++] = b64u[v >> 12 & 63];
        out[k++] = b64u[v >> 6 & 63];
        out[k++] = b64u[v & 63];
    }
    out[k] = 0;
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

int share_pin_new(char out[7])
{
    unsigned char b[4];
    uint32_t v;
    do { /* rejection sampling: no bias toward low PINs */
        if (RAND_bytes(b, sizeof b) != 1)
            return -1;
        v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    } while (v >= 4294000000u);
    snprintf(out, 7, "%06u", (unsigned)(v % 1000000u));
    return 0;
}

static int derive(const char *pin, const unsigned char *salt, unsigned char out[32])
{
    return PKCS5_PBKDF2_HMAC(pin, (int)strlen(pin), salt, SALT_BYTES, PIN_ITER, EVP_sha256(), 32,
                             out) == 1
               ? 0
               : -1;
}

int share_pin_hash(const char *pin, char *out, size_t outlen)
{
    unsigned char salt[SALT_BYTES], h[32];
    char sx[2 * SALT_BYTES + 1], hx[65];
    if (RAND_bytes(salt, sizeof salt) != 1 || derive(pin, salt, h) < 0)
        return -1;
    hex(salt, sizeof salt, sx);
    hex(h, sizeof h, hx);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%d$%s$%s", PIN_ITER, sx, hx);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int share_pin_check(const char *pin, const char *hash)
{
    unsigned char salt[SALT_BYTES], h[32];
    char sx[2 * SALT_BYTES + 1], hx[65], want[65];
    int iter = 0;
    if (!pin || strlen(pin) != 6 || strspn(pin, "0123456789") != 6 ||
        sscanf(hash, "pbkdf2-sha256$%d$%32[0-9a-f]$%64[0-9a-f]", &iter, sx, want) != 3 ||
        iter != PIN_ITER || strlen(sx) != 2 * SALT_BYTES || strlen(want) != 64)
        return 0;
    for (size_t i = 0; i < SALT_BYTES; i++) {
        unsigned v;
        sscanf(sx + 2 * i, "%2x", &v);
        salt[i] = (unsigned char)v;
    }
    if (derive(pin, salt, h) < 0)
        return 0;
    hex(h, sizeof h, hx);
    return CRYPTO_memcmp(hx, want, 64) == 0;
}

void share_token_tag(const char *token, char out[13])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), h);
    hex(h, 6, out);
}

void share_pin_cookie(const char *token, const char *pin_hash, char out[65])
{
    unsigned char mac[32];
    unsigned len = sizeof mac;
    HMAC(EVP_sha256(), token, (int)strlen(token), (const unsigned char *)pin_hash, strlen(pin_hash),
         mac, &len);
    hex(mac, 32, out);
}
