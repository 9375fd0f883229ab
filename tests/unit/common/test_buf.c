/* test_buf.c: the bounded growing buffer (common/huren_buf.h). */
#include "../unit_filter.h"

#include <string.h>

#include "huren_buf.h"

static void unbounded_when_zeroed(void **state)
{
    (void)state;
    huren_buf b = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(huren_buf_adds(&b, "0123456789"), 0);
    assert_int_equal(b.len, 10000);
    assert_int_equal(strlen(b.data), 10000);
    huren_buf_free(&b);
    assert_null(b.data);
}

static void bound_is_hard_and_sticky(void **state)
{
    (void)state;
    huren_buf b;
    huren_buf_init(&b, 8);
    assert_int_equal(huren_buf_adds(&b, "12345678"), 0); /* exactly the bound */
    assert_int_equal(huren_buf_addc(&b, '9'), HUREN_BUF_ETOOBIG);
    assert_string_equal(b.data, "12345678"); /* a failed write changes nothing */
    assert_int_equal(b.failed, HUREN_BUF_ETOOBIG);
    huren_buf_free(&b);
    assert_int_equal(huren_buf_adds(&b, "1"), 0); /* freed: usable again, same bound */
    assert_int_equal(b.max, 8);
    assert_int_equal(huren_buf_add(&b, "abcdefgh", 8), HUREN_BUF_ETOOBIG);
    assert_int_equal(huren_buf_adds(&b, ""), HUREN_BUF_ETOOBIG); /* sticky */
    huren_buf_free(&b);
}

static void printf_of_any_length(void **state)
{
    (void)state;
    huren_buf b = {0};
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(huren_buf_printf(&b, "[%s|%d]", big, 42), 0);
    assert_int_equal(b.len, sizeof big - 1 + 5);
    assert_string_equal(b.data + b.len - 4, "|42]");
    huren_buf_free(&b);
    huren_buf_init(&b, 10);
    assert_int_equal(huren_buf_printf(&b, "%s", big), HUREN_BUF_ETOOBIG);
    assert_null(b.data);
    huren_buf_free(&b);
}

static void release_hands_over(void **state)
{
    (void)state;
    huren_buf b;
    huren_buf_init(&b, 100);
    assert_null(huren_buf_release(&b));
    huren_buf_adds(&b, "kept");
    char *d = huren_buf_release(&b);
    assert_string_equal(d, "kept");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100);
    free(d);
    assert_int_equal(huren_buf_adds(&b, NULL), 0);
    assert_string_equal(b.data, "");
    huren_buf_free(&b);
}

/* huren_buf_read: a whole stream, an empty one as "", a bound that fails the read */
static void read_whole_stream(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    for (int i = 0; i < 5000; i++)
        fprintf(f, "line %04d\n", i); /* 50,000 bytes: several chunks */
    rewind(f);
    huren_buf b = {0};
    assert_int_equal(huren_buf_read(&b, f), 0);
    assert_int_equal(b.len, 50000);
    assert_memory_equal(b.data + 49990, "line 4999\n", 10);
    assert_int_equal(b.data[b.len], 0);
    huren_buf_free(&b);

    rewind(f);
    huren_buf_init(&b, 49999);
    assert_int_equal(huren_buf_read(&b, f), HUREN_BUF_ETOOBIG);
    huren_buf_free(&b);
    fclose(f);

    f = tmpfile();
    assert_non_null(f);
    huren_buf_init(&b, 10);
    assert_int_equal(huren_buf_read(&b, f), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    char *data = huren_buf_release(&b);
    assert_non_null(data);
    free(data);
    fclose(f);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unbounded_when_zeroed), cmocka_unit_test(bound_is_hard_and_sticky),
        cmocka_unit_test(printf_of_any_length),  cmocka_unit_test(release_hands_over),
        cmocka_unit_test(read_whole_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
