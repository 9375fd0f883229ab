/* test_shares.c: cloud film shares (schema 16, shares.c): put and read back, found by token
 * only with the exact token, listed per study newest first, revoked once, PIN failures
 * counted and reset, openings counted; schema steps 14-16 (empty here) leave 17 at 17. */
#include "test_index.h"
#include "index_shares.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t put_share(tfix *t, const char *study, const char *token, const char *pin_hash)
{
    huren_index_share s = {0};
    snprintf(s.study_uid, sizeof s.study_uid, "%s", study);
    snprintf(s.patient_id, sizeof s.patient_id, "P1");
    snprintf(s.token, sizeof s.token, "%s", token);
    snprintf(s.pin_hash, sizeof s.pin_hash, "%s", pin_hash);
    snprintf(s.created_by, sizeof s.created_by, "dr-wang");
    s.expires_at = 4000000000;
    int64_t id = 0;
    assert_int_equal(huren_index_share_put(t->idx, &s, &id), 0);
    assert_true(id > 0);
    return id;
}

static void test_share_put_get(void **state)
{
    (void)state;
    tfix t;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_true(huren_index_schema_version(t.idx) >= 16);
    int64_t a = put_share(&t, "1.2.3", "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA", "");
    int64_t b = put_share(&t, "1.2.3", "tokenBBBBBBBBBBBBBBBBBBBBBBBBBBB", "pbkdf2$x");
    put_share(&t, "1.2.4", "tokenCCCCCCCCCCCCCCCCCCCCCCCCCCC", "");
    huren_index_share s;
    assert_int_equal(huren_index_share_get(t.idx, a, &s), 0);
    assert_string_equal(s.study_uid, "1.2.3");
    assert_string_equal(s.created_by, "dr-wang");
    assert_true(s.created_at > 0);
    assert_int_equal(huren_index_share_by_token(t.idx, "tokenBBBBBBBBBBBBBBBBBBBBBBBBBBB", &s), 0);
    assert_int_equal(s.id, b);
    assert_string_equal(s.pin_hash, "pbkdf2$x");
    assert_int_equal(huren_index_share_by_token(t.idx, "tokenBBBBBBBBBBBBBBBBBBBBBBBBBBb", &s),
                     HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_share_by_token(t.idx, "", &s), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_share_get(t.idx, 999, &s), HUREN_INDEX_ENOTFOUND);
    huren_index_share *v = NULL;
    size_t n = 0;
    assert_int_equal(huren_index_shares_find(t.idx, "1.2.3", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, b); /* newest first */
    assert_int_equal(v[1].id, a);
    free(v);
    huren_index_share bad = {0};
    assert_int_equal(huren_index_share_put(t.idx, &bad, NULL), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

static void test_share_revoke_pin_opened(void **state)
{
    (void)state;
    tfix t;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    int64_t a = put_share(&t, "1.2.3", "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA", "h");
    huren_index_share s;
    int f = 0;
    assert_int_equal(huren_index_share_pin_failed(t.idx, a, &f), 0);
    assert_int_equal(huren_index_share_pin_failed(t.idx, a, &f), 0);
    assert_int_equal(f, 2);
    assert_int_equal(huren_index_share_pin_ok(t.idx, a), 0);
    assert_int_equal(huren_index_share_opened(t.idx, a), 0);
    assert_int_equal(huren_index_share_get(t.idx, a, &s), 0);
    assert_int_equal(s.pin_failures, 0);
    assert_int_equal(s.opened, 1);
    assert_int_equal(huren_index_share_revoke(t.idx, a, "dr-li", 1000), 0);
    assert_int_equal(huren_index_share_revoke(t.idx, a, "dr-zhao", 2000), 0); /* kept first */
    assert_int_equal(huren_index_share_get(t.idx, a, &s), 0);
    assert_int_equal(s.revoked_at, 1000);
    assert_string_equal(s.revoked_by, "dr-li");
    assert_int_equal(huren_index_share_revoke(t.idx, 999, "dr-li", 0), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_share_opened(t.idx, 999), HUREN_INDEX_ENOTFOUND);
    tfix_reopen(&t); /* kept across a restart */
    assert_int_equal(huren_index_share_by_token(t.idx, "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA", &s), 0);
    assert_int_equal(s.revoked_at, 1000);
    tfix_close(&t);
}

const struct CMUnitTest shares_tests[] = {
    cmocka_unit_test(test_share_put_get),
    cmocka_unit_test(test_share_revoke_pin_opened),
};
const size_t shares_ntests = sizeof(shares_tests) / sizeof(shares_tests[0]);
