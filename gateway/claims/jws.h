/* jws.h: JSON Web Signature (RFC 7515), compact serialisation, ES256 only (ECDSA P-256 with
 * SHA-256, RFC 7518 3.4: the signature is r||s, 32 bytes each), with the signer's certificate
 * chain in the protected header's x5c. Signs the claim bundles a hospital gives insurers and
 * verifies them (`huren verify-claim`). OpenSSL 3 only; nothing here logs. */
#ifndef HUREN_GATEWAY_JWS_H
#define HUREN_GATEWAY_JWS_H

#include <stddef.h>

typedef struct jws_signer jws_signer; /* immutable once loaded: share between threads */

/* Load the private key (PEM, EC P-256), its certificate (PEM) and, optionally (NULL or ""),
 * the PEM file of the CA certificates that lead to a trusted root (put in x5c after the
 * signer's own, in file order). The key must belong to the certificate. Returns 0, or -1 with
 * err naming the file and what is wrong. Free with jws_signer_free. */
int jws_signer_load(jws_signer **out, const char *key_path, const char *cert_path,
                    const char *chain_path, char *err, size_t errlen);
void jws_signer_free(jws_signer *s); /* NULL-safe */
/* The signer certificate's subject (RFC 2253), and its notAfter as Unix seconds. */
const char *jws_signer_subject(const jws_signer *s);

/* Sign payload: *out (NUL-terminated, malloc'ed, caller frees) receives
 * BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(r||s), the header being
 * {"alg":"ES256","typ":"JOSE","cty":cty,"x5c":[...]} (cty omitted when NULL). Returns 0, or
 * -1 with err. Thread-safe. */
int jws_sign(const jws_signer *s, const char *cty, const void *payload, size_t len, char **out,
             size_t *outlen, char *err, size_t errlen);

/* What jws_verify found (payload malloc'ed; free with jws_verified_free). */
typedef struct jws_verified {
    char subject[512]; /* signer certificate subject (RFC 2253) */
    char issuer[512];
    int chain_checked; /* 1: the x5c chain was verified against the CA file given */
    unsigned char *payload;
    size_t payload_len;
} jws_verified;

/* Verify a compact ES256 JWS (surrounding white space ignored): strict base64url, header
 * alg ES256 and no "crit", the signature checked with the public key of x5c[0]; when ca_path
 * is given (PEM file of trusted CAs), x5c[0] must also chain to it through x5c[1..] (validity
 * dates checked, now). Returns 0 with *out filled, or -1 with err saying what failed. */
int jws_verify(const char *compact, size_t len, const char *ca_path, jws_verified *out, char *err,
               size_t errlen);
void jws_verified_free(jws_verified *v); /* NULL-safe */

/* base64url without padding: out holds at least (n + 2) / 3 * 4 + 1 bytes; returns the length
 * written (NUL-terminated). */
size_t jws_b64url_encode(const void *in, size_t n, char *out);
/* Strict base64url without padding to *out (malloc'ed, NUL-terminated for convenience).
 * Returns 0, or -1 for a character outside the alphabet or a bad length. */
int jws_b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen);

#endif
