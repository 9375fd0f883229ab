/* test_claims.c: unit tests of the claims pieces: JWS ES256 sign/verify round trip (and a
 * flipped byte anywhere failing), base64url, the consent rules (expiry, revocation, other
 * visit, other grantee, province-wide recognition), consent times, the rate limiter, and the
 * consent and claim records in a real archive (temp folder) through consent_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"

#include "consent.h"
#include "claims/claim_version.h"
#include "claims/jws.h"
#include "node.h"
#include "claims/ratelimit.h"
#include "index/index_records.h"
#include "index/index_consents.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

/* A self-signed P-256 certificate and its key in tmpdir (prefix.key, prefix.crt). */
static void make_cert(const char *prefix, const char *cn)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    assert_non_null(k);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, k);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, n);
    assert_true(X509_sign(c, k, EVP_sha256()) > 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.key", tmpdir, prefix);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.crt", tmpdir, prefix);
    f = fopen(path, "w");
    PEM_write_X509(f, c);
    fclose(f);
    X509_free(c);
    EVP_PKEY_free(k);
}

static jws_signer *signer(const char *prefix)
{
    char key[512], crt[512], err[256];
    jws_signer *s = NULL;
    snprintf(key, sizeof key, "%s/%s.key", tmpdir, prefix);
    snprintf(crt, sizeof crt, "%s/%s.crt", tmpdir, prefix);
    assert_int_equal(jws_signer_load(&s, key, crt, NULL, err, sizeof err), 0);
    return s;
}

static void jws_round_trip_and_tamper(void **state)
{
    (void)state;
    jws_signer *s = signer("a");
    const char payload[] = "{\"resourceType\":\"Bundle\",\"total\":\"151.79\"}";
    char *jws = NULL, err[256], ca[512];
    size_t len = 0;
    jws_verified v;
    assert_int_equal(
        jws_sign(s, "application/fhir+json", payload, strlen(payload), &jws, &len, err, sizeof err),
        0);
    assert_int_equal(strlen(jws), len);
    snprintf(ca, sizeof ca, "%s/a.crt", tmpdir);
    assert_int_equal(jws_verify(jws, len, ca, &v, err, sizeof err), 0);
    assert_int_equal(v.chain_checked, 1);
    assert_int_equal(v.payload_len, strlen(payload));
    assert_memory_equal(v.payload, payload, v.payload_len);
    assert_non_null(strstr(v.subject, "CN=signer a"));
    jws_verified_free(&v);
    /* the signature part is 64 bytes: 86 base64url characters */
    assert_int_equal(len - (size_t)(strrchr(jws, '.') - jws) - 1, 86);

    /* one changed character anywhere (header, payload, signature) fails */
    const char *d1 = strchr(jws, '.'), *d2 = strrchr(jws, '.');
    size_t at[] = {5, (size_t)(d1 - jws) + 10, (size_t)(d2 - jws) - 3, len - 20};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char saved = jws[at[i]];
        jws[at[i]] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(jws_verify(jws, len, NULL, &v, err, sizeof err), -1);
        jws[at[i]] = saved;
    }
    assert_int_equal(jws_verify(jws, len, NULL, &v, err, sizeof err), 0);
    assert_int_equal(v.chain_checked, 0);
    jws_verified_free(&v);

    /* another CA: signature fine, chain refused */
    snprintf(ca, sizeof ca, "%s/b.crt", tmpdir);
    assert_int_equal(jws_verify(jws, len, ca, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "chain"));
    /* not a JWS at all */
    assert_int_equal(jws_verify("abc.def", 7, NULL, &v, err, sizeof err), -1);
    free(jws);
    jws_signer_free(s);
}

static void jws_key_must_match_cert(void **state)
{
    (void)state;
    char key[512], crt[512], err[256];
    jws_signer *s = NULL;
    snprintf(key, sizeof key, "%s/a.key", tmpdir);
    snprintf(crt, sizeof crt, "%s/b.crt", tmpdir);
    assert_int_equal(jws_signer_load(&s, key, crt, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not belong"));
    assert_null(s);
}

static void b64url(void **state)
{
    (void)state;
    char out[16];
    unsigned char *d = NULL;
    size_t n = 0;
    assert_int_equal(jws_b64url_encode("\xfb\xff", 2, out), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(jws_b64url_decode("-_8", 3, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "\xfb\xff", 2);
    free(d);
    assert_int_equal(jws_b64url_decode("-_9", 3, &d, &n), -1); /* non-zero spare bits */
    assert_int_equal(jws_b64url_decode("ab=", 3, &d, &n), -1);
    assert_int_equal(jws_b64url_decode("a", 1, &d, &n), -1);
}

#define T0 1790000000 /* 2026-09-21 */

static huren_index_consent consent(int64_t id, const char *grantee, const char *visit, int64_t from,
                                   int64_t to)
{
    static const char *visits[16][1];
    huren_index_consent c = {.id = id,
                             .patient_id = "P1",
                             .grantee = grantee,
                             .purpose = HUREN_INDEX_CONSENT_CLAIM,
                             .valid_from = from,
                             .expires_at = to,
                             .form_ref = "F",
                             .created_by = "t"};
    if (visit) {
        visits[id % 16][0] = visit;
        c.visits = visits[id % 16];
        c.nvisits = 1;
    }
    return c;
}

static void consent_rules(void **state)
{
    (void)state;
    huren_index_consent c[4];
    long which;
    c[0] = consent(1, "INS01", "V1", T0, T0 + 86400);
    const huren_index_consent_purpose CL = HUREN_INDEX_CONSENT_CLAIM;
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0, &which), CONSENT_OK);
    assert_int_equal(which, 0);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0 + 86399, NULL), CONSENT_OK);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0 + 86400, NULL), CONSENT_EXPIRED);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0 - 1, NULL), CONSENT_NOT_YET);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V2", T0, NULL), CONSENT_OTHER_VISIT);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS02", "V1", T0, NULL), CONSENT_OTHER_GRANTEE);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", NULL, T0, NULL), CONSENT_OTHER_VISIT);
    assert_int_equal(
        consent_evaluate(c, 1, HUREN_INDEX_CONSENT_RECOGNITION, "INS01", "V1", T0, NULL),
        CONSENT_NONE);
    assert_int_equal(consent_evaluate(c, 0, CL, "INS01", "V1", T0, NULL), CONSENT_NONE);
    /* revoked: from the revocation on, not before */
    c[0].revoked_at = T0 + 100;
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0 + 99, NULL), CONSENT_OK);
    assert_int_equal(consent_evaluate(c, 1, CL, "INS01", "V1", T0 + 100, NULL), CONSENT_REVOKED);
    /* a newer consent for the same visit makes it good again; the closest miss is reported */
    c[1] = consent(2, "INS01", "V1", T0, T0 + 1000);
    assert_int_equal(consent_evaluate(c, 2, CL, "INS01", "V1", T0 + 200, &which), CONSENT_OK);
    assert_int_equal(which, 1);
    c[2] = consent(3, "INS02", "V9", T0, T0 + 1000);
    assert_int_equal(consent_evaluate(c, 3, CL, "INS01", "V1", T0 + 5000, NULL), CONSENT_EXPIRED);
    assert_int_equal(consent_evaluate(c, 3, CL, "INS02", "V1", T0 + 5, NULL), CONSENT_OTHER_VISIT);
    /* "*" grants any hospital, for recognition only; no visits = any visit and no visit */
    c[3] = consent(4, "*", NULL, T0, T0 + 1000);
    c[3].purpose = HUREN_INDEX_CONSENT_RECOGNITION;
    assert_int_equal(consent_evaluate(c, 4, HUREN_INDEX_CONSENT_RECOGNITION, "H1", NULL, T0, NULL),
                     CONSENT_OK);
    assert_int_equal(consent_evaluate(c, 4, HUREN_INDEX_CONSENT_RECOGNITION, "H1", "V7", T0, NULL),
                     CONSENT_OK);
    c[3].purpose = CL;
    assert_int_equal(consent_evaluate(&c[3], 1, CL, "H1", "V7", T0, NULL), CONSENT_OTHER_GRANTEE);
}

static void consent_times(void **state)
{
    (void)state;
    int64_t t;
    char buf[32];
    assert_int_equal(consent_time_parse("2026-11-26T08:00:00Z", &t), 0);
    assert_string_equal(consent_time_format(t, buf), "2026-11-26T08:00:00Z");
    int64_t t8;
    assert_int_equal(consent_time_parse("2026-11-26T16:00:00+08:00", &t8), 0);
    assert_int_equal(t8, t);
    assert_int_equal(consent_time_parse("2026-11-26", &t), 0);
    assert_string_equal(consent_time_format(t, buf), "2026-11-26T00:00:00Z");
    const char *bad[] = {
        "2026-02-30", "2026-11-26T08:00:00",      "26-11-2026", "2026-11-26T25:00:00Z",
        "",           "2026-11-26T08:00:00+0800", "tomorrow"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(consent_time_parse(bad[i], &t), -1);
    assert_true(consent_token_valid("V-1.2_3"));
    assert_false(consent_token_valid("V 1"));
    assert_false(consent_token_valid(""));
}

static void rate_limit(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(60, 3, 2);
    double retry = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "INS01", 100.0, NULL), 1);
    assert_int_equal(ratelimit_take(rl, "INS01", 100.0, &retry), 0);
    assert_true(retry > 0.9 && retry <= 1.0);
    assert_int_equal(ratelimit_take(rl, "INS02", 100.0, NULL), 1); /* its own bucket */
    assert_int_equal(ratelimit_take(rl, "INS01", 101.0, NULL), 1); /* one a second comes back */
    assert_int_equal(ratelimit_take(rl, "INS01", 101.0, NULL), 0);
    ratelimit_free(rl);
}

/* ---- records in a real archive ---- */

static void records(void **state)
{
    (void)state;
    char dir[300], err[256];
    snprintf(dir, sizeof dir, "%s/archive", tmpdir);
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    o.data_dir = dir;
    o.fsync = 0;
    node n = {0};
    assert_int_equal(huren_index_open(&n.index, &o, err, sizeof err), 0);
    huren_index_rec_patient p = {.patient_id = "P1", .national_id = "110105194912310029"};
    huren_index_visit v = {.visit_number = "V1"};
    huren_index_records recs = {.source = "HIS|H1", .message_id = "1", .patient = &p, .visit = &v};
    assert_int_equal(huren_index_records_put(n.index, &recs, NULL), 0);

    const char *visits[] = {"V1"};
    time_t now = time(NULL);
    huren_index_consent c = {.patient_id = "P1",
                             .national_id = "110105194912310029",
                             .purpose = HUREN_INDEX_CONSENT_CLAIM,
                             .grantee = "INS01",
                             .visits = visits,
                             .nvisits = 1,
                             .valid_from = now - 10,
                             .expires_at = now + 3600,
                             .form_ref = "F-1",
                             .created_by = "dr"};
    int64_t id = 0, bad_id;
    assert_int_equal(huren_index_consent_put(n.index, &c, &id), 0);
    assert_true(id > 0);
    c.grantee = NULL;
    assert_int_equal(huren_index_consent_put(n.index, &c, &bad_id), HUREN_INDEX_EINVAL);
    c.grantee = "INS01";

    int64_t got = 0;
    assert_int_equal(consent_check(&n, "110105194912310029", HUREN_INDEX_CONSENT_CLAIM, "INS01",
                                   "V1", now, &got),
                     CONSENT_OK);
    assert_int_equal(got, id);
    assert_int_equal(consent_check(&n, "P1", HUREN_INDEX_CONSENT_CLAIM, "INS01", "V2", now, NULL),
                     CONSENT_OTHER_VISIT);
    assert_int_equal(consent_check(&n, "P1", HUREN_INDEX_CONSENT_CLAIM, "INS02", "V1", now, NULL),
                     CONSENT_OTHER_GRANTEE);
    assert_int_equal(
        consent_check(&n, "P1", HUREN_INDEX_CONSENT_CLAIM, "INS01", "V1", now + 3600, NULL),
        CONSENT_EXPIRED);
    assert_int_equal(consent_check(&n, "P9", HUREN_INDEX_CONSENT_CLAIM, "INS01", "V1", now, NULL),
                     CONSENT_NONE);
    assert_int_equal(huren_index_consent_revoke(n.index, id, "dr2", now), 0);
    assert_int_equal(huren_index_consent_revoke(n.index, id, "dr3", now + 5), 0); /* kept */
    assert_int_equal(huren_index_consent_revoke(n.index, id + 100, "dr3", now),
                     HUREN_INDEX_ENOTFOUND);
    assert_int_equal(consent_check(&n, "P1", HUREN_INDEX_CONSENT_CLAIM, "INS01", "V1", now, NULL),
                     CONSENT_REVOKED);
    huren_index_consent_list l;
    assert_int_equal(huren_index_consent_get(n.index, id, &l), 0);
    assert_string_equal(l.items[0].revoked_by, "dr2");
    assert_int_equal(l.items[0].nvisits, 1);
    assert_string_equal(l.items[0].visits[0], "V1");
    huren_index_consent_list_free(&l);

    /* a claim is stored once per (insurer, request_id) */
    huren_index_claim cl = {.claim_id = "c1",
                            .insurer = "INS01",
                            .request_id = "r1",
                            .request_hash = "h",
                            .consent_id = id,
                            .patient_id = "P1",
                            .visit_number = "V1",
                            .jws = "a.b.c",
                            .jws_len = 5};
    int existing = -1;
    assert_int_equal(huren_index_claim_put(n.index, &cl, &existing), 0);
    assert_int_equal(existing, 0);
    cl.claim_id = "c2";
    assert_int_equal(huren_index_claim_put(n.index, &cl, &existing), 0);
    assert_int_equal(existing, 1);
    huren_index_claim back;
    assert_int_equal(huren_index_claim_find(n.index, NULL, "INS01", "r1", &back), 0);
    assert_string_equal(back.claim_id, "c1");
    assert_string_equal(back.jws, "a.b.c");
    huren_index_claim_free(&back);
    assert_int_equal(huren_index_claim_find(n.index, "c2", NULL, NULL, &back),
                     HUREN_INDEX_ENOTFOUND);

    /* ... and once per version of the visit's claim: version 2 under another request_id goes
     * in, a second version 2 does not; the latest is the highest version */
    cl.request_id = "r2";
    cl.version = 2;
    cl.replaces = "c1";
    cl.data_hash = "d2";
    cl.parts = "{}";
    assert_int_equal(huren_index_claim_put(n.index, &cl, &existing), 0);
    assert_int_equal(existing, 0);
    cl.claim_id = "c3";
    cl.request_id = "r3";
    assert_int_equal(huren_index_claim_put(n.index, &cl, &existing), 0);
    assert_int_equal(existing, 1);
    assert_int_equal(huren_index_claim_latest(n.index, "INS01", "P1", "V1", &back), 0);
    assert_string_equal(back.claim_id, "c2");
    assert_int_equal(back.version, 2);
    assert_string_equal(back.replaces, "c1");
    assert_string_equal(back.data_hash, "d2");
    huren_index_claim_free(&back);
    assert_int_equal(huren_index_claim_latest(n.index, "INS02", "P1", "V1", &back),
                     HUREN_INDEX_ENOTFOUND);
    huren_index_close(n.index);
}

/* What changed between two fingerprints' parts, sorted; an earlier version without one. */
static void claim_changes_listed(void **state)
{
    (void)state;
    char **lines = NULL;
    int n = claim_changes("{\"A/1\":\"x\",\"B/2\":\"y\",\"C/3\":\"z\"}",
                          "{\"A/1\":\"x\",\"B/2\":\"Y\",\"D/4\":\"w\"}", &lines);
    assert_int_equal(n, 3);
    assert_string_equal(lines[0], "added D/4");
    assert_string_equal(lines[1], "changed B/2");
    assert_string_equal(lines[2], "removed C/3");
    claim_changes_free(lines, n);
    n = claim_changes("{\"A/1\":\"x\"}", "{\"A/1\":\"x\"}", &lines);
    assert_int_equal(n, 0);
    claim_changes_free(lines, n);
    n = claim_changes(NULL, "{}", &lines);
    assert_int_equal(n, 1);
    assert_true(strncmp(lines[0], "unknown", 7) == 0);
    claim_changes_free(lines, n);
    assert_int_equal(claim_changes("{bad", "{}", &lines), -1);
    assert_null(lines);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/huren-test-claims-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    make_cert("a", "signer a");
    make_cert("b", "signer b");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jws_round_trip_and_tamper),
        cmocka_unit_test(jws_key_must_match_cert),
        cmocka_unit_test(b64url),
        cmocka_unit_test(consent_rules),
        cmocka_unit_test(consent_times),
        cmocka_unit_test(rate_limit),
        cmocka_unit_test(records),
        cmocka_unit_test(claim_changes_listed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
