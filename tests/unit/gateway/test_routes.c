/* test_routes.c: the route table's promises: DICOMweb serves staff and peer gateways and never
 * insurers; every streamed-body route is also a routed endpoint of the same method; the web
 * page serves staff only, its page views audited, and its embedded files are typed and small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../unit_filter.h"
#include <string.h>

#include "routes.h"
#include "ui/ui.h"
#include "ui/ui_files.h"

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

static void test_ui_routes(void **state)
{
    (void)state;
    size_t n, ui = 0;
    const http_route *r = api_routes("hospital", &n);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(r[i].pattern, "/ui", 3) != 0)
            continue;
        ui++;
        if (strcmp(r[i].pattern, "/ui/launch") == 0) { /* the HIS's signed URL: no role yet */
            assert_int_equal(r[i].roles, HTTP_ROLE_ANYONE);
            assert_string_equal(r[i].audit_action, "his.launch");
            continue;
        }
        /* staff, and a HIS-launched session (bound to its patient by http/session.c) */
        assert_int_equal(r[i].roles, HTTP_ROLES_STAFF | HTTP_ROLE_HIS_DOCTOR);
        if (strncmp(r[i].pattern, "/ui/static/", 11) == 0)
            assert_null(r[i].audit_action);
        else
            assert_string_equal(r[i].audit_action, "ui.view");
    }
    assert_int_equal(ui, 5);
    r = api_routes("directory", &n);
    for (size_t i = 0; i < n; i++)
        assert_false(strncmp(r[i].pattern, "/ui", 3) == 0);
}

static void test_ui_files(void **state)
{
    (void)state;
    size_t total = 0, index = 0;
    assert_true(ui_nfiles >= 5);
    for (size_t i = 0; i < ui_nfiles; i++) {
        assert_string_not_equal(ui_content_type(ui_files[i].name), "application/octet-stream");
        assert_int_equal(ui_files[i].data[ui_files[i].len], 0); /* NUL-terminated */
        assert_true(ui_files[i].len > 0);
        total += ui_files[i].len;
        index += strcmp(ui_files[i].name, "index.html") == 0;
    }
    assert_int_equal(index, 1);
    assert_true(total < 150 * 1024); /* the page weight without images */
    assert_string_equal(ui_content_type("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(ui_content_type("app.css"), "text/css; charset=utf-8");
    assert_string_equal(ui_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(ui_content_type("noext"), "application/octet-stream");
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dicomweb_roles),
        cmocka_unit_test(test_body_routes_are_routes),
        cmocka_unit_test(test_ui_routes),
        cmocka_unit_test(test_ui_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
