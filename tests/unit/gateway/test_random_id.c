/* test_random_id.c: the one random id helper (gateway/random_id.c) gives distinct 128-bit hex
 * ids and fails closed when the CSPRNG does; and the UTF-8 checks of http/utf8.c that keep
 * every error answer buildable (invalid bytes, overlong forms, surrogates, control bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../unit_filter.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "random_id.h"

static void test_ids_are_hex_and_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    char(*ids)[RANDOM_ID_LEN] = calloc(N, RANDOM_ID_LEN);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        assert_int_equal(random_id(ids[i]), 0);
        assert_int_equal(strlen(ids[i]), 32);
        assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
    free(ids);
    /* every hex digit appears somewhere: the bytes are not all zero or constant */
    char seen[16] = {0}, one[RANDOM_ID_LEN];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(random_id(one), 0);
        for (int k = 0; k < 32; k++)
            seen[strchr("0123456789abcdef", one[k]) - "0123456789abcdef"] = 1;
    }
    for (int k = 0; k < 16; k++)
        assert_true(seen[k]);
}

static int failing_source(void *buf, size_t n)
{
    memset(buf, 0x41, n); /* what a broken source might leave behind */
    errno = ENOSYS;
    return -1;
}

static void test_fails_closed(void **state)
{
    (void)state;
    char id[RANDOM_ID_LEN] = "previous";
    unsigned char b[8];
    random_id__set_source(failing_source);
    assert_int_equal(random_id(id), -1);
    assert_string_equal(id, ""); /* never a weak id */
    assert_int_equal(random_bytes(b, sizeof b), -1);
    random_id__set_source(NULL);
    assert_int_equal(random_id(id), 0);
    assert_int_equal(strlen(id), 32);
    unsigned char big[100000];
    assert_int_equal(random_bytes(big, sizeof big), 0); /* getrandom may return short reads */
}

static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int valid;
    } cases[] = {
        {"", 1},
        {"abc", 1},
        {"\xe5\xbc\xa0^\xe4\xb8\x89", 1}, /* 张^三 */
        {"\xf0\x9f\x98\x80", 1},          /* U+1F600 */
        {"\xef\xbf\xbd", 1},              /* U+FFFD */
        {"\xff", 0},                      /* never in UTF-8 */
        {"\xc3", 0},                      /* cut */
        {"\xc3\x28", 0},                  /* bad continuation */
        {"\xc0\xaf", 0},                  /* overlong '/' */
        {"\xe0\x80\xaf", 0},              /* overlong '/' */
        {"\xed\xa0\x80", 0},              /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0},          /* past U+10FFFF */
        {"\xb5", 0},                      /* GB18030 / Latin-1 byte */
        {"\xd5\xc5\xc8\xfd", 0},          /* 张三 in GB18030 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(http_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].valid);
    assert_int_equal(http_text_valid("a b", 3), 1);
    assert_int_equal(http_text_valid("a\nb", 3), 0);
    assert_int_equal(http_text_valid("a\0b", 3), 0);
    assert_int_equal(http_text_valid("a\x7f", 2), 0);
}

static void test_utf8_clean(void **state)
{
    (void)state;
    char out[64];
    http_utf8_clean(out, sizeof out,
                    "a\xff"
                    "b\xc3");
    assert_string_equal(out, "a\xef\xbf\xbd"
                             "b\xef\xbf\xbd");
    http_utf8_clean(out, sizeof out, NULL);
    assert_string_equal(out, "");
    /* cut before a sequence that does not fit, never inside it */
    http_utf8_clean(out, 5, "ab\xe5\xbc\xa0");
    assert_string_equal(out, "ab");
    http_utf8_clean(out, 6, "ab\xe5\xbc\xa0");
    assert_string_equal(out, "ab\xe5\xbc\xa0");
    /* whatever goes in, what comes out is valid */
    unsigned char junk[200];
    char big[700];
    for (int round = 0; round < 200; round++) {
        assert_int_equal(random_bytes(junk, sizeof junk - 1), 0);
        for (size_t i = 0; i < sizeof junk - 1; i++)
            if (!junk[i])
                junk[i] = 0x80;
        junk[sizeof junk - 1] = 0;
        http_utf8_clean(big, sizeof big, (const char *)junk);
        assert_true(http_utf8_valid(big, strlen(big)));
    }
}

static void test_error_reply_always_builds(void **state)
{
    (void)state;
    http_response res = {0};
    assert_int_equal(http_reply_error(&res, 400, "unknown query key \"\xff\xfe\xc3\""), 0);
    assert_int_equal(res.status, 400);
    assert_non_null(res.body);
    assert_non_null(strstr(res.body, "\"status\":400"));
    assert_true(http_utf8_valid(res.body, res.body_len));
    free(res.body);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_are_hex_and_distinct),
        cmocka_unit_test(test_fails_closed),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_error_reply_always_builds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
