/* jws.c: ES256 compact JWS with an x5c certificate chain, over OpenSSL 3 EVP. ECDSA in OpenSSL
 * speaks DER (SEQUENCE of two INTEGERs); JWS wants the fixed-width r||s (RFC 7518 3.4), so
 * signatures are converted both ways here. Header parsing uses jansson. */
#include "jws.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COORD 32 /* P-256: r and s are 32 bytes each */

struct jws_signer {
    EVP_PKEY *key;
    json_t *x5c; /* array of standard base64 DER certificates, signer first */
    char subject[512];
};

static void ossl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static void name_text(X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    buf[0] = 0;
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(b, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = 0;
    }
    BIO_free(b);
}

/* ---- base64url ---- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t jws_b64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64url_value(unsigned char c)
{
    const char *p = c ? strchr(B64URL, c) : NULL;
    return p ? (int)(p - B64URL) : -1;
}

int jws_b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
    if (n % 4 == 1)
        return -1;
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical: leftover bits must be zero */
        free(buf);
        return -1;
    }
    buf[o] = 0;
    *out = buf;
    *outlen = o;
    return 0;
}

/* ---- signer ---- */

static int x5c_add(json_t *x5c, X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        return -1;
    char *b64 = malloc((size_t)n / 3 * 4 + 8);
    if (b64)
        EVP_EncodeBlock((unsigned char *)b64, der, n); /* x5c is standard base64 (RFC 7515) */
    OPENSSL_free(der);
    int rc = b64 ? json_array_append_new(x5c, json_string(b64)) : -1;
    free(b64);
    return rc;
}

static int chain_load(jws_signer *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    X509 *c;
    int n = 0;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    while ((c = PEM_read_X509(f, NULL, NULL, NULL))) {
        int rc = x5c_add(s->x5c, c);
        X509_free(c);
        if (rc < 0) {
            fclose(f);
            snprintf(err, errlen, "%s: cannot encode a certificate", path);
            return -1;
        }
        n++;
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    if (n == 0) {
        snprintf(err, errlen, "%s: no PEM certificate in it", path);
        return -1;
    }
    return 0;
}

static int key_load(jws_signer *s, const char *key_path, X509 *cert, char *err, size_t errlen)
{
    FILE *f = fopen(key_path, "r");
    char group[64] = "";
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", key_path);
        return -1;
    }
    s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!s->key) {
        ossl_err(err, errlen, "claims signing key: not a PEM private key");
        return -1;
    }
    if (EVP_PKEY_get_base_id(s->key) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(s->key, "group", group, sizeof group, NULL) ||
        strcmp(group, "prime256v1") != 0) {
        snprintf(err, errlen, "%s: not an EC P-256 key (ES256 needs P-256)", key_path);
        return -1;
    }
    if (EVP_PKEY_eq(s->key, X509_get0_pubkey(cert)) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s: the key does not belong to the certificate", key_path);
        return -1;
    }
    return 0;
}

int jws_signer_load(jws_signer **out, const char *key_path, const char *cert_path,
                    const char *chain_path, char *err, size_t errlen)
{
    jws_signer *s = calloc(1, sizeof *s);
    X509 *cert = NULL;
    FILE *f = NULL;
    *out = NULL;
    if (!s || !(s->x5c = json_array())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(f = fopen(cert_path, "r")) || !(cert = PEM_read_X509(f, NULL, NULL, NULL))) {
        snprintf(err, errlen, "%s: %s", cert_path, f ? "not a PEM certificate" : "cannot open");
        ERR_clear_error();
        goto fail;
    }
    name_text(X509_get_subject_name(cert), s->subject, sizeof s->subject);
    if (key_load(s, key_path, cert, err, errlen) < 0)
        goto fail;
    if (x5c_add(s->x5c, cert) < 0) {
        snprintf(err, errlen, "%s: cannot encode", cert_path);
        goto fail;
    }
    if (chain_path && chain_path[0] && chain_load(s, chain_path, err, errlen) < 0)
        goto fail;
    fclose(f);
    X509_free(cert);
    *out = s;
    return 0;
fail:
    if (f)
        fclose(f);
    X509_free(cert);
    jws_signer_free(s);
    return -1;
}

void jws_signer_free(jws_signer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->key);
    json_decref(s->x5c);
    free(s);
}

const char *jws_signer_subject(const jws_signer *s)
{
    return s->subject;
}

/* DER ECDSA-Sig-Value to r||s (64 bytes). */
static int der_to_raw(const unsigned char *der, size_t len, unsigned char raw[2 * COORD])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int ok = sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, COORD) == COORD &&
             BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + COORD, COORD) == COORD;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

static char *header_b64(const jws_signer *s, const char *cty)
{
    json_t *h = json_pack("{s:s, s:s, s:O}", "alg", "ES256", "typ", "JOSE", "x5c", s->x5c);
    if (h && cty)
        json_object_set_new(h, "cty", json_string(cty));
    char *text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *b = malloc((n + 2) / 3 * 4 + 1);
    if (b)
        jws_b64url_encode(text, n, b);
    free(text);
    return b;
}

int jws_sign(const jws_signer *s, const char *cty, const void *payload, size_t len, char **out,
             size_t *outlen, char *err, size_t errlen)
{
    char *head = header_b64(s, cty), *jws = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128], raw[2 * COORD];
    size_t derlen = sizeof der;
    int rc = -1;
    *out = NULL;
    size_t hl = head ? strlen(head) : 0, pl = (len + 2) / 3 * 4;
    if (!head || !md || !(jws = malloc(hl + 1 + pl + 1 + 2 * COORD * 4 / 3 + 8))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    memcpy(jws, head, hl);
    jws[hl] = '.';
    size_t n = hl + 1 + jws_b64url_encode(payload, len, jws + hl + 1);
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
        EVP_DigestSign(md, der, &derlen, (const unsigned char *)jws, n) != 1 ||
        der_to_raw(der, derlen, raw) < 0) {
        ossl_err(err, errlen, "signing");
        goto done;
    }
    jws[n++] = '.';
    n += jws_b64url_encode(raw, sizeof raw, jws + n);
    *out = jws;
    *outlen = n;
    jws = NULL;
    rc = 0;
done:
    EVP_MD_CTX_free(md);
    free(head);
    free(jws);
    return rc;
}

/* ---- verification ---- */

static X509 *x5c_cert(json_t *item)
{
    const char *b64 = json_string_value(item);
    size_t n = b64 ? strlen(b64) : 0;
    if (n == 0 || n % 4 || n > (1u << 20))
        return NULL;
    unsigned char *der = malloc(n / 4 * 3 + 1);
    if (!der)
        return NULL;
    int len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
    if (len > 0 && b64[n - 1] == '=')
        len -= b64[n - 2] == '=' ? 2 : 1;
    const unsigned char *p = der;
    X509 *c = len > 0 ? d2i_X509(NULL, &p, len) : NULL;
    free(der);
    ERR_clear_error();
    return c;
}

/* Check r||s against the signing input with the certificate's key. */
static int sig_check(X509 *cert, const char *input, size_t inlen, const unsigned char *raw,
                     char *err, size_t errlen)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, COORD, NULL), *s = BN_bin2bn(raw + COORD, COORD, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char group[64] = "";
    int rc = -1, derlen;
    if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, NULL) ||
        strcmp(group, "prime256v1") != 0) {
        snprintf(err, errlen, "x5c[0] does not hold an EC P-256 public key");
        goto done;
    }
    if (!sig || !r || !s || !md || ECDSA_SIG_set0(sig, r, s) != 1) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    r = s = NULL; /* owned by sig */
    if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 ||
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1 ||
        EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)input, inlen) != 1) {
        snprintf(err, errlen, "signature does not match the content (altered, or another key)");
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return rc;
}

static int chain_check(X509 *leaf, json_t *x5c, const char *ca_path, char *err, size_t errlen)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int rc = -1;
    if (!store || !ctx || !untrusted) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (X509_STORE_load_file(store, ca_path) != 1) {
        ossl_err(err, errlen, "cannot read the CA file");
        goto done;
    }
    for (size_t i = 1; i < json_array_size(x5c); i++) {
        X509 *c = x5c_cert(json_array_get(x5c, i));
        if (!c || !sk_X509_push(untrusted, c)) {
            X509_free(c);
            snprintf(err, errlen, "x5c[%zu] is not a DER certificate", i);
            goto done;
        }
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        ossl_err(err, errlen, "chain");
        goto done;
    }
    if (X509_verify_cert(ctx) != 1) {
        snprintf(err, errlen, "certificate chain not trusted: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

/* The protected header: alg ES256, no crit, x5c present; returns the leaf certificate. */
static X509 *header_check(const char *b64, size_t n, json_t **hdr, char *err, size_t errlen)
{
    unsigned char *text = NULL;
    size_t len = 0;
    json_error_t je;
    *hdr = NULL;
    if (jws_b64url_decode(b64, n, &text, &len) < 0) {
        snprintf(err, errlen, "header is not base64url");
        return NULL;
    }
    *hdr = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(*hdr)) {
        snprintf(err, errlen, "header is not a JSON object");
        return NULL;
    }
    const char *alg = json_string_value(json_object_get(*hdr, "alg"));
    json_t *x5c = json_object_get(*hdr, "x5c");
    if (!alg || strcmp(alg, "ES256") != 0) {
        snprintf(err, errlen, "header alg is %s, expected ES256", alg ? alg : "missing");
        return NULL;
    }
    if (json_object_get(*hdr, "crit")) {
        snprintf(err, errlen, "header has crit parameters this verifier does not know");
        return NULL;
    }
    X509 *leaf = json_array_size(x5c) ? x5c_cert(json_array_get(x5c, 0)) : NULL;
    if (!leaf)
        snprintf(err, errlen, "header has no usable x5c certificate");
    return leaf;
}

int jws_verify(const char *compact, size_t len, const char *ca_path, jws_verified *out, char *err,
               size_t errlen)
{
    json_t *hdr = NULL;
    X509 *leaf = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = -1;
    memset(out, 0, sizeof *out);
    while (len && strchr(" \t\r\n", compact[len - 1]))
        len--;
    while (len && strchr(" \t\r\n", compact[0]))
        compact++, len--;
    const char *d1 = memchr(compact, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - compact))) {
        snprintf(err, errlen, "not a compact JWS (three base64url parts separated by dots)");
        return -1;
    }
    if (!(leaf = header_check(compact, (size_t)(d1 - compact), &hdr, err, errlen)))
        goto done;
    if (jws_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - compact), &sig, &siglen) < 0 ||
        siglen != 2 * COORD) {
        snprintf(err, errlen, "signature is not 64 bytes of base64url (ES256 r||s)");
        goto done;
    }
    if (sig_check(leaf, compact, (size_t)(d2 - compact), sig, err, errlen) < 0)
        goto done;
    if (ca_path && ca_path[0]) {
        if (chain_check(leaf, json_object_get(hdr, "x5c"), ca_path, err, errlen) < 0)
            goto done;
        out->chain_checked = 1;
    }
    if (jws_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &out->payload, &out->payload_len) < 0) {
        snprintf(err, errlen, "payload is not base64url");
        goto done;
    }
    name_text(X509_get_subject_name(leaf), out->subject, sizeof out->subject);
    name_text(X509_get_issuer_name(leaf), out->issuer, sizeof out->issuer);
    rc = 0;
done:
    if (rc < 0)
        jws_verified_free(out);
    free(sig);
    X509_free(leaf);
    json_decref(hdr);
    return rc;
}

void jws_verified_free(jws_verified *v)
{
    if (!v)
        return;
    free(v->payload);
    memset(v, 0, sizeof *v);
}
