/* test_underwriting.c: unit tests of the underwriting (核保) pieces that need no network: the
 * consent's scope and record period (five years at most, no future end), the consent rules
 * for purpose underwriting (an institution, never "*"), and verify-claim's check of each part
 * of an underwriting bundle (a part changed, or signed by another institution, is bad; a
 * plain claim bundle has no parts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"

#include "consent.h"
#include "claims/jws.h"
#include "claims/verify_parts.h"
#include "consent/underwriting_consent.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static const time_t NOW = 1764720000; /* 2025-12-03 */

static const char *parse(const char *json, huren_index_consent *c)
{
    static char scope[32];
    json_t *b = json_loads(json, 0, NULL);
    assert_non_null(b);
    memset(c, 0, sizeof *c);
    const char *why = underwriting_consent_parse(b, c, scope, sizeof scope, NOW);
    json_decref(b);
    return why;
}

static void consent_scope_and_period(void **state)
{
    (void)state;
    huren_index_consent c;
    assert_null(parse("{\"record_period\":{\"start\":\"2021-01-01\",\"end\":\"2025-12-01\"}}", &c));
    assert_string_equal(c.scope, "diagnoses");
    assert_true(c.record_to > c.record_from);
    assert_null(parse("{\"scope\":[\"labs\",\"diagnoses\"],"
                      "\"record_period\":{\"start\":\"2021-01-01\",\"end\":\"2025-12-01\"}}",
                      &c));
    assert_string_equal(c.scope, "diagnoses,labs");
    /* five years of 366 days at most; never ending in the future; end after start */
    assert_null(parse("{\"record_period\":{\"start\":\"2020-12-04\",\"end\":\"2025-12-03\"}}", &c));
    assert_non_null(
        parse("{\"record_period\":{\"start\":\"2019-01-01\",\"end\":\"2025-12-01\"}}", &c));
    assert_non_null(
        parse("{\"record_period\":{\"start\":\"2025-01-01\",\"end\":\"2026-01-01\"}}", &c));
    assert_non_null(
        parse("{\"record_period\":{\"start\":\"2025-01-01\",\"end\":\"2025-01-01\"}}", &c));
    assert_non_null(parse("{}", &c));
    assert_non_null(parse("{\"record_period\":{\"start\":\"2025-01-01\"}}", &c));
    assert_non_null(parse("{\"scope\":[\"labs\"],"
                          "\"record_period\":{\"start\":\"2021-01-01\",\"end\":\"2025-12-01\"}}",
                          &c));
    assert_non_null(parse("{\"scope\":\"diagnoses\","
                          "\"record_period\":{\"start\":\"2021-01-01\",\"end\":\"2025-12-01\"}}",
                          &c));
}

static void consent_rules(void **state)
{
    (void)state;
    const huren_index_consent_purpose UW = HUREN_INDEX_CONSENT_UNDERWRITING;
    huren_index_consent c = {.id = 1,
                             .patient_id = "P1",
                             .purpose = UW,
                             .grantee = "INS-Z",
                             .valid_from = NOW - 10,
                             .expires_at = NOW + 10};
    assert_int_equal(consent_evaluate(&c, 1, UW, "INS-Z", NULL, NOW, NULL), CONSENT_OK);
    assert_int_equal(consent_evaluate(&c, 1, UW, "INS-Y", NULL, NOW, NULL), CONSENT_OTHER_GRANTEE);
    assert_int_equal(consent_evaluate(&c, 1, HUREN_INDEX_CONSENT_CLAIM, "INS-Z", "V1", NOW, NULL),
                     CONSENT_NONE);
    c.grantee = "*"; /* any hospital: recognition only, never an insurer */
    assert_int_equal(consent_evaluate(&c, 1, UW, "INS-Z", NULL, NOW, NULL), CONSENT_OTHER_GRANTEE);
    assert_string_equal(consent_purpose_name(UW), "underwriting");
}

/* A self-signed P-256 certificate with OU=ou and its key in tmpdir (prefix.key/.crt). */
static void make_cert(const char *prefix, const char *ou)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    char path[512];
    assert_non_null(k);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, k);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"claims signing", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
    X509_set_issuer_name(c, n);
    assert_true(X509_sign(c, k, EVP_sha256()) > 0);
    snprintf(path, sizeof path, "%s/%s.key", tmpdir, prefix);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.crt", tmpdir, prefix);
    f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, c);
    fclose(f);
    X509_free(c);
    EVP_PKEY_free(k);
}

static char *sign(const char *prefix, const char *payload)
{
    char key[512], crt[512], err[256];
    jws_signer *s = NULL;
    char *out = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "%s/%s.key", tmpdir, prefix);
    snprintf(crt, sizeof crt, "%s/%s.crt", tmpdir, prefix);
    assert_int_equal(jws_signer_load(&s, key, crt, NULL, err, sizeof err), 0);
    assert_int_equal(
        jws_sign(s, "application/fhir+json", payload, strlen(payload), &out, &len, err, sizeof err),
        0);
    jws_signer_free(s);
    return out;
}

/* An underwriting bundle (JSON) holding the part jws as a Binary tagged inst. */
static char *outer(const char *jws, const char *inst, const char *system)
{
    size_t n = strlen(jws);
    char *b64 = malloc((n + 2) / 3 * 4 + 1);
    assert_non_null(b64);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)jws, (int)n);
    json_t *b =
        json_pack("{s:s, s:{s:s, s:s}, s:s, s:[{s:{s:s, s:{s:[{s:s, s:s}]}, s:s, s:s}}, "
                  "{s:{s:s}}]}",
                  "resourceType", "Bundle", "identifier", "system", system, "value", "x", "type",
                  "collection", "entry", "resource", "resourceType", "Binary", "meta", "tag",
                  "system", "urn:huren:id:institution", "code", inst, "contentType",
                  "application/jose", "data", b64, "resource", "resourceType", "OperationOutcome");
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    free(b64);
    return text;
}

static int check(const char *text)
{
    FILE *out = fopen("/dev/null", "w");
    int rc = verify_parts((const unsigned char *)text, strlen(text), NULL, out);
    fclose(out);
    return rc;
}

static void parts_verified(void **state)
{
    (void)state;
    char *part = sign("h1", "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}");
    char *good = outer(part, "H1", "urn:huren:underwriting");
    assert_int_equal(check(good), 1); /* the OperationOutcome is not a part */
    char *other = outer(part, "H2", "urn:huren:underwriting");
    assert_int_equal(check(other), -1); /* signed by H1, passed off as H2's */
    char *plain = outer(part, "H1", "urn:huren:claim");
    assert_int_equal(check(plain), 0); /* a claim bundle: no parts to check */
    char *dot = strchr(part, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A'; /* a byte of the part's payload changed */
    char *changed = outer(part, "H1", "urn:huren:underwriting");
    assert_int_equal(check(changed), -1);
    free(part);
    free(good);
    free(other);
    free(plain);
    free(changed);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/huren-test-underwriting-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    make_cert("h1", "H1");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consent_scope_and_period),
        cmocka_unit_test(consent_rules),
        cmocka_unit_test(parts_verified),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
