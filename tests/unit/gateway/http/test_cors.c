/* test_cors.c: the CORS policy's parts that need no server: which origin lists check-config
 * accepts, exact matching of an Origin against the list, which paths CORS covers (every
 * DICOMweb and REST route, not the web page), and that every route's method is one the Allow
 * header of http.c can name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"
#include "huren_err.h"
#include <string.h>

#include "routes.h"
#include "http/cors.h"

static void test_origin_lists(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    static const char *const good[] = {"",
                                       "   ",
                                       "http://127.0.0.1:3000",
                                       "https://viewer.hospital.cn",
                                       "https://viewer.hospital.cn http://127.0.0.1:3000",
                                       "https://a.cn,https://b.cn , http://[::1]:8042",
                                       "http://xn--fiq228c.cn:65535"};
    static const char *const bad[] = {"*",
                                      "null",
                                      "http://a.cn/",
                                      "http://a.cn/viewer",
                                      "a.cn",
                                      "ftp://a.cn",
                                      "http://",
                                      "http://A.cn",
                                      "HTTP://a.cn",
                                      "http://a.cn:",
                                      "http://a.cn:0",
                                      "http://a.cn:65536",
                                      "http://a.cn:123456",
                                      "http://a_b.cn",
                                      "http://[::1",
                                      "http://[]",
                                      "http://[::G]",
                                      "https://a.cn *",
                                      "http://a.cn?x=1",
                                      "http://user@a.cn"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(cors_origins_check(good[i], err, sizeof err), 0);
    assert_int_equal(cors_origins_check(NULL, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(cors_origins_check(bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "not an origin"));
    }
}

static void test_origin_listed(void **state)
{
    (void)state;
    const char *list = "https://viewer.hospital.cn, http://127.0.0.1:3000";
    assert_true(cors_origin_listed(list, "https://viewer.hospital.cn"));
    assert_true(cors_origin_listed(list, "http://127.0.0.1:3000"));
    static const char *const no[] = {"",
                                     "null",
                                     "*",
                                     "http://127.0.0.1:300",
                                     "http://127.0.0.1:30000",
                                     "https://127.0.0.1:3000",
                                     "https://viewer.hospital.cn/",
                                     "https://viewer.hospital",
                                     "https://VIEWER.hospital.cn",
                                     "https://viewer.hospital.cn,"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(cors_origin_listed(list, no[i]));
    assert_false(cors_origin_listed(list, NULL));
    assert_false(cors_origin_listed("", "http://127.0.0.1:3000"));
    assert_false(cors_origin_listed(NULL, "http://127.0.0.1:3000"));
}

static void test_scope_and_methods(void **state)
{
    (void)state;
    static const char *const roles[] = {"hospital", "directory"};
    for (size_t k = 0; k < 2; k++) {
        size_t n;
        const http_route *r = api_routes(roles[k], &n);
        for (size_t i = 0; i < n; i++) {
            const char *p = r[i].pattern;
            /* the pages (the doctors', a patient's cloud film), and what monitoring reads
             * (not a browser on another origin) */
            int web = strncmp(p, "/ui", 3) == 0 || strncmp(p, "/s/", 3) == 0 ||
                      strcmp(p, "/metrics") == 0 || strcmp(p, "/healthz") == 0 ||
                      strcmp(p, "/readyz") == 0;
            assert_int_equal(cors_in_scope(p), !web);
            /* http.c's Allow header names these methods only */
            assert_true(strcmp(r[i].method, "GET") == 0 || strcmp(r[i].method, "POST") == 0 ||
                        strcmp(r[i].method, "PUT") == 0 || strcmp(r[i].method, "DELETE") == 0);
        }
    }
    assert_false(cors_in_scope("/dicom-webx"));
    assert_false(cors_in_scope("/wado/x"));
    assert_false(cors_in_scope("/apix"));
    assert_true(cors_in_scope("/dicom-web"));
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_lists),
        cmocka_unit_test(test_origin_listed),
        cmocka_unit_test(test_scope_and_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
