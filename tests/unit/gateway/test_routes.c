/* test_routes.c: the route table's promises: DICOMweb serves staff and peer gateways and never
 * insurers; every streamed-body route is also a routed endpoint of the same method. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "api.h"

static int is_dicomweb(const char *pattern)
{
    return strncmp(pattern, "/dicom-web/", 11) == 0 || strcmp(pattern, "/wado") == 0;
}

static void test_dicomweb_roles(void **state)
{
    (void)state;
    size_t n, dw = 0;
    const http_route *r = api_routes("hospital", &n);
    for (size_t i = 0; i < n; i++) {
        if (!is_dicomweb(r[i].pattern))
            continue;
        dw++;
        assert_false(r[i].roles & HTTP_ROLE_INSURER);
        assert_true(r[i].roles & HTTP_ROLE_CLINICIAN);
        assert_true(r[i].roles & HTTP_ROLE_PEER);
    }
    assert_true(dw >= 20);
    r = api_routes("directory", &n);
    for (size_t i = 0; i < n; i++)
        assert_false(is_dicomweb(r[i].pattern));
}

static void test_body_routes_are_routes(void **state)
{
    (void)state;
    size_t n, nb;
    const http_route *r = api_routes("hospital", &n);
    const http_body_route *b = api_body_routes("hospital", &nb);
    assert_true(nb >= 2);
    for (size_t j = 0; j < nb; j++) {
        size_t found = 0;
        for (size_t i = 0; i < n; i++)
            found +=
                strcmp(r[i].method, b[j].method) == 0 && strcmp(r[i].pattern, b[j].pattern) == 0;
        assert_int_equal(found, 1);
        assert_non_null(b[j].sink);
    }
    api_body_routes("directory", &nb);
    assert_int_equal(nb, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dicomweb_roles),
        cmocka_unit_test(test_body_routes_are_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
