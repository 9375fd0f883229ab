/* fuzz_jws.c: `huren verify-claim`'s parsing of a compact JWS (gateway/claims/jws.c): strict
 * base64url, the protected header (alg, crit, x5c certificates), the ES256 signature; and the
 * base64url codec round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claims/jws.h"
#include "huren_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    jws_verified v;
    char err[HUREN_ERRLEN];
    if (jws_verify((const char *)in, size, NULL, &v, err, sizeof err) == 0)
        jws_verified_free(&v);
    unsigned char *dec = NULL;
    size_t declen = 0;
    if (jws_b64url_decode((const char *)in, size, &dec, &declen) == 0) {
        char *enc = malloc((declen + 2) / 3 * 4 + 1);
        if (!enc)
            abort();
        size_t elen = jws_b64url_encode(dec, declen, enc);
        if (elen != size || memcmp(enc, in, size) != 0)
            abort(); /* strict decoding: one spelling per value */
        free(enc);
        free(dec);
    }
    return 0;
}
