/* test_session.c: http/session.c's HIS-launched sessions: the cookie parsed out of a Cookie
 * header, 256-bit ids, the idle timeout, and the guard that keeps a session to its patient
 * (request arguments before the handler, the answer's patient after it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */
#include "../../unit_filter.h"

#include <stdlib.h>
#include <string.h>

#include "http/session.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cookie(void **state)
{
    (void)state;
    char id[HTTP_SESSION_ID_LEN];
    assert_int_equal(http_session_cookie("huren_session=" ID64, id), 0);
    assert_string_equal(id, ID64);
    assert_int_equal(http_session_cookie("a=b; huren_session=" ID64 "; c=d", id), 0);
    assert_string_equal(id, ID64);
    assert_int_equal(http_session_cookie("a=b", id), -1);
    assert_int_equal(http_session_cookie("huren_session=short", id), -1);
    assert_int_equal(http_session_cookie("xhuren_session=" ID64, id), -1);
    assert_int_equal(http_session_cookie("", id), -1);
}

static void test_store(void **state)
{
    (void)state;
    http_sessions *st = http_sessions_new(2);
    http_session a = {.idle = 60}, b = {.idle = 60}, c = {.idle = 60}, got;
    snprintf(a.patient, sizeof a.patient, "P100");
    assert_int_equal(http_sessions_open(st, &a), 0);
    assert_int_equal(strlen(a.id), 64);
    assert_int_equal(http_sessions_open(st, &b), 0);
    assert_string_not_equal(a.id, b.id);
    assert_int_equal(http_sessions_open(st, &c), -1); /* full of live sessions */
    assert_int_equal(http_sessions_get(st, a.id, &got), 1);
    assert_string_equal(got.patient, "P100");
    assert_int_equal(http_sessions_get(st, ID64, &got), 0);
    assert_int_equal(http_sessions_get(st, "", &got), 0);
    http_sessions_free(st);
    /* idle too long: forgotten */
    st = http_sessions_new(1);
    http_session d = {.idle = -1};
    assert_int_equal(http_sessions_open(st, &d), 0);
    assert_int_equal(http_sessions_get(st, d.id, &got), 0);
    assert_int_equal(http_sessions_open(st, &c), 0); /* its slot is free again */
    http_sessions_free(st);
}

static void test_guard(void **state)
{
    (void)state;
    http_session s = {.idle = 60};
    snprintf(s.patient, sizeof s.patient, "P100");
    snprintf(s.resident, sizeof s.resident, "11010519491231002X");
    assert_true(http_session_patient_is(&s, "P100"));
    assert_true(http_session_patient_is(&s, "11010519491231002x"));
    assert_false(http_session_patient_is(&s, "P1000"));
    assert_false(http_session_patient_is(&s, ""));
    const char *mine[] = {"patient", "P100"}, *other[] = {"PatientID", "P999"};
    http_request req = {.path = "/api/v1/recognition", .session = &s};
    http_response res = {.status = 200};
    req.direct_args = mine, req.ndirect_args = 1;
    assert_int_equal(http_session_guard_request(&req, &res), 0);
    req.direct_args = other;
    assert_int_equal(http_session_guard_request(&req, &res), -1);
    assert_int_equal(res.status, 403);
    free(res.body);
    /* /api/v1/patients/{id}/... */
    http_request p = {.path = "/api/v1/patients/P999/reports", .session = &s, .ncaptures = 1};
    p.captures[0] = "P999";
    res = (http_response){.status = 200};
    assert_int_equal(http_session_guard_request(&p, &res), -1);
    free(res.body);
    /* after the handler: another patient's answer, or an answer naming none */
    static const struct {
        const char *action, *patient;
        int status, want;
    } cases[] = {{"records.read", "P100", 200, 200},
                 {"records.read", "P999", 200, 403},
                 {"dicomweb.read", "", 200, 403},
                 {"dicomweb.read", "", 404, 404},
                 {"ui.view", "", 200, 200},
                 {"retrieval.read", "", 200, 200},
                 {NULL, "", 200, 200},
                 {"records.read", "P999", 404, 403}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        res = (http_response){.status = cases[i].status};
        res.body = strdup("{}");
        snprintf(res.audit_patient, sizeof res.audit_patient, "%s", cases[i].patient);
        http_session_guard_answer(&req, cases[i].action, &res);
        assert_int_equal(res.status, cases[i].want);
        free(res.body);
    }
    /* no session: nothing checked */
    http_request plain = {.path = "/x"};
    res = (http_response){.status = 200};
    snprintf(res.audit_patient, sizeof res.audit_patient, "P999");
    http_session_guard_answer(&plain, "records.read", &res);
    assert_int_equal(res.status, 200);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_guard),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
