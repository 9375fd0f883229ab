/* test_rules.c: the recognition rules (gateway/recognition/rules.c): validity windows
 * counted back from the reference day, HR marks, scopes and qualification dates, calendar
 * arithmetic, and what a decision must carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"
#include "huren_err.h"
#include <string.h>

#include "http/session.h"
#include "recognition/recognition_int.h"
#include "recognition/rules.h"

static rec_entry entry(const char *date, const char *scope)
{
    rec_entry e = {.institution = "H37010002",
                   .date = date,
                   .hr = 1,
                   .hr_scope = scope,
                   .qualified_from = "20230101",
                   .qualified_to = "20271231"};
    return e;
}

static void windows(void **state)
{
    (void)state;
    char until[9];
    rec_entry e = entry("20240105", "province");
    /* 30 days: the last recognisable day is 2024-02-04 */
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240105", "H37020001", until), REC_OK);
    assert_string_equal(until, "20240204");
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240204", "H37020001", until), REC_OK);
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240205", "H37020001", until),
                     REC_EXPIRED);
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240104", "H37020001", until),
                     REC_FUTURE);
    /* across a leap day and a year end */
    e.date = "20240220";
    assert_int_equal(rec_entry_check(&e, 10, "province", "20240301", "H37020001", until), REC_OK);
    assert_string_equal(until, "20240301");
    e.date = "20241225";
    assert_int_equal(rec_entry_check(&e, 7, "province", "20250101", "H37020001", until), REC_OK);
    assert_string_equal(until, "20250101");
    e.date = "2024";
    assert_int_equal(rec_entry_check(&e, 7, "province", "20250101", "H37020001", until),
                     REC_BAD_DATE);
    e.date = "20240230";
    assert_int_equal(rec_entry_check(&e, 7, "province", "20240301", "H37020001", until),
                     REC_BAD_DATE);
}

static void scopes(void **state)
{
    (void)state;
    char until[9];
    rec_entry e = entry("20240105", "city");
    /* city: Jinan (3701) reaches Jinan, not Qingdao (3702) */
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until), REC_OK);
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37020001", until),
                     REC_OUT_OF_SCOPE);
    /* province: all of Shandong (37), not another province */
    e.hr_scope = "province";
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37020001", until), REC_OK);
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H11010001", until),
                     REC_OUT_OF_SCOPE);
    /* the item's scope caps the mark's */
    assert_int_equal(rec_entry_check(&e, 30, "city", "20240110", "H37020001", until),
                     REC_OUT_OF_SCOPE);
    e.hr_scope = "national";
    assert_int_equal(rec_entry_check(&e, 30, "national", "20240110", "H11010001", until), REC_OK);
    /* an asker whose code has no region: only national marks reach it */
    e.hr_scope = "province";
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "XYZ", until),
                     REC_OUT_OF_SCOPE);
    /* no mark, an item without a scope, not qualified on the day, withdrawn */
    e.hr = 0;
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until),
                     REC_NOT_HR);
    e.hr = 1;
    assert_int_equal(rec_entry_check(&e, 30, "", "20240110", "H37010001", until), REC_NOT_HR);
    e.qualified_from = "20240106";
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until),
                     REC_NOT_QUALIFIED);
    e.qualified_from = NULL;
    e.qualified_to = "20240104";
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until),
                     REC_NOT_QUALIFIED);
    e.qualified_to = NULL;
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until), REC_OK);
    e.deleted = 1;
    assert_int_equal(rec_entry_check(&e, 30, "province", "20240110", "H37010001", until),
                     REC_DELETED);
}

static void days(void **state)
{
    (void)state;
    long d;
    char out[9];
    assert_int_equal(rec_day_parse("19700101", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(rec_day_parse("20000229", &d), 0);
    rec_day_format(d + 1, out);
    assert_string_equal(out, "20000301");
    assert_int_equal(rec_day_parse("19000229", &d), -1);
    assert_int_equal(rec_day_parse("2026113", &d), -1);
    assert_int_equal(rec_day_parse("2026-1-1", &d), -1);
}

static void decisions(void **state)
{
    (void)state;
    char why[HUREN_ERRLEN];
    assert_int_equal(rec_decision_check("accepted", NULL, NULL, why, sizeof why), 0);
    assert_int_equal(rec_decision_check("accepted", "too_old", NULL, why, sizeof why), -1);
    assert_int_equal(rec_decision_check("rejected", "too_old", NULL, why, sizeof why), 0);
    assert_int_equal(rec_decision_check("rejected", NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "reason"));
    assert_int_equal(rec_decision_check("rejected", "bored", NULL, why, sizeof why), -1);
    assert_int_equal(rec_decision_check("rejected", "other", NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "reason_text"));
    assert_int_equal(rec_decision_check("rejected", "other", "family wish", why, sizeof why), 0);
    assert_int_equal(rec_decision_check("maybe", NULL, NULL, why, sizeof why), -1);
    assert_int_equal(rec_decision_check(NULL, NULL, NULL, why, sizeof why), -1);
    for (int i = 0; rec_reasons[i]; i++)
        assert_true(rec_reason_valid(rec_reasons[i]));
    assert_false(rec_reason_valid("OTHER"));
}

/* A prompt is one (patient, item, order or visit, day): the same parts give the same key,
 * any other part another; the order wins over the visit; parts cannot run into each other. */
static void prompt_keys(void **state)
{
    (void)state;
    const char *ps = "3f1c0000000000000000000000000000000000000000000000000000000000aa";
    char k1[65], k2[65];
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", "ORD-9", "V-1", "20261202", k1), 0);
    assert_int_equal(strlen(k1), 64);
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", "ORD-9", "V-2", "20261202", k2), 0);
    assert_string_equal(k1, k2); /* the order names it: the visit does not matter */
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", "ORD-8", "V-1", "20261202", k2), 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", "ORD-9", NULL, "20261203", k2), 0);
    assert_string_not_equal(k1, k2); /* another day */
    assert_int_equal(rec_prompt_key(ps, "LAB-CBC", "ORD-9", NULL, "20261202", k2), 0);
    assert_string_not_equal(k1, k2);
    /* an order id equal to a visit id is still another prompt */
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", NULL, "ORD-9", "20261202", k2), 0);
    assert_string_not_equal(k1, k2);
    /* no order or visit: one prompt per patient, item and day */
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", "", "", "20261202", k1), 0);
    assert_int_equal(rec_prompt_key(ps, "CT-CHEST-PLAIN", NULL, NULL, "20261202", k2), 0);
    assert_string_equal(k1, k2);
    /* parts are length-prefixed: "CT" + "-CHEST" is not "CT-" + "CHEST" */
    assert_int_equal(rec_prompt_key(ps, "A", "BC", NULL, "20261202", k1), 0);
    assert_int_equal(rec_prompt_key(ps, "AB", "C", NULL, "20261202", k2), 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(rec_prompt_key(NULL, "CT", NULL, NULL, "20261202", k1), -1);
    assert_int_equal(rec_prompt_key(ps, "", NULL, NULL, "20261202", k1), -1);
    assert_int_equal(rec_prompt_key(ps, "CT", NULL, NULL, "2026", k1), -1);
}

/* The national definition: recognised ÷ the prior recognisable results (the worked example of
 * docs/api/recognition.md: two CTs listed, one recognised, reloads changing nothing). */
static void rates(void **state)
{
    (void)state;
    assert_true(rec_rate(1, 2) == 0.5);
    assert_true(rec_rate(1, 1) == 1.0);
    assert_true(rec_rate(3, 4) == 0.75);
    assert_true(rec_rate(0, 0) == 0.0);
    assert_true(rec_rate(0, 3) == 0.0);
}

/* The province's rules: window on the order date, QC on the result date, scope by city. */
static void province_rules(void **state)
{
    (void)state;
    rec_ref_item it = {.code = "LAB-CBC",
                       .group = "LAB-BLOOD",
                       .valid_from = "20250101",
                       .valid_to = "",
                       .window_days = 7,
                       .scope = "city",
                       .issuers = "三级甲等|二级甲等"};
    rec_ref_inst jinan = {.city = "济南", .klass = "三级甲等"},
                 jinan2 = {.city = "济南", .klass = "二级"},
                 qingdao = {.city = "青岛", .klass = "三级甲等"};
    rec_qc_pass qc[] = {{"LAB-CBC", "20250101", "20251231"}};
    rec_qc_pass group[] = {{"LAB-BLOOD", "20260101", "20261231"}};
    /* recognisable: same city, QC covers the result date, inside 7 days of the order */
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, &jinan2, qc, 1),
                     REC_X_NONE);
    /* 7 days is the last day; 8 is out; a result after the order is out */
    assert_int_equal(rec_reference_check(&it, "20250312", "20250305", &jinan, &jinan2, qc, 1),
                     REC_X_NONE);
    assert_int_equal(rec_reference_check(&it, "20250313", "20250305", &jinan, &jinan2, qc, 1),
                     REC_X_WINDOW);
    assert_int_equal(rec_reference_check(&it, "20250304", "20250305", &jinan, &jinan2, qc, 1),
                     REC_X_WINDOW);
    /* the item not yet in the catalogue on the order date */
    assert_int_equal(rec_reference_check(&it, "20241231", "20241230", &jinan, &jinan2, qc, 1),
                     REC_X_WINDOW);
    /* no QC, QC of another year, QC through the item's group */
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, &jinan2, NULL, 0),
                     REC_X_QC);
    assert_int_equal(rec_reference_check(&it, "20260310", "20260305", &jinan, &jinan2, qc, 1),
                     REC_X_QC);
    assert_int_equal(rec_reference_check(&it, "20260310", "20260305", &jinan, &jinan2, group, 1),
                     REC_X_NONE);
    /* city scope: another city is out; province and national reach it */
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, &qingdao, qc, 1),
                     REC_X_SCOPE);
    it.scope = "province";
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, &qingdao, qc, 1),
                     REC_X_NONE);
    /* an asker outside the registry: province no, national yes */
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, NULL, qc, 1),
                     REC_X_SCOPE);
    it.scope = "national";
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan, NULL, qc, 1),
                     REC_X_NONE);
    /* an issuer whose class may not issue the item, or not in the registry */
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", &jinan2, &jinan, qc, 1),
                     REC_X_SCOPE);
    assert_int_equal(rec_reference_check(&it, "20250310", "20250305", NULL, &jinan, qc, 1),
                     REC_X_SCOPE);
    assert_string_equal(rec_exclusion_code(REC_X_QC), "qc");
    assert_string_equal(rec_exclusion_code(REC_X_CRITICAL), "critical");
}

static void critical_flags(void **state)
{
    (void)state;
    assert_true(rec_flags_critical("HH"));
    assert_true(rec_flags_critical("N~LL"));
    assert_true(rec_flags_critical("AA"));
    assert_false(rec_flags_critical("H"));
    assert_false(rec_flags_critical("HHH"));
    assert_false(rec_flags_critical(""));
    assert_false(rec_flags_critical(NULL));
}

/* Prices in yuan to integer fen, exactly: no floating point anywhere. */
static void fen(void **state)
{
    (void)state;
    int64_t v = 0;
    char text[32];
    assert_int_equal(rec_fen_parse("178.50", &v), 0);
    assert_int_equal(v, 17850);
    assert_int_equal(rec_fen_parse("0.1", &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(rec_fen_parse("12", &v), 0);
    assert_int_equal(v, 1200);
    assert_int_equal(rec_fen_parse("0.07", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(rec_fen_parse("1.005", &v), -1);
    assert_int_equal(rec_fen_parse("12.", &v), -1);
    assert_int_equal(rec_fen_parse("-3", &v), -1);
    assert_int_equal(rec_fen_parse("1e3", &v), -1);
    assert_int_equal(rec_fen_parse("", &v), -1);
    assert_int_equal(rec_fen_parse("99999999999999", &v), -1);
    /* 0.1 + 0.2 three times over: exact in fen */
    rec_fen_format(10 * 3 + 20 * 3, text);
    assert_string_equal(text, "0.90");
    rec_fen_format(17850 * 3, text);
    assert_string_equal(text, "535.50");
}

/* The deciding doctor: the request's, else the certificate's subject, else none. */
static void doctor_identity(void **state)
{
    (void)state;
    http_request req = {.client_dn = "CN=dr-li,O=Hospital A"};
    huren_index_rec_decision d = {.doctor = "D7"};
    rec_doctor_identity(&req, &d);
    assert_string_equal(d.doctor, "D7");
    assert_string_equal(d.doctor_source, "request");
    d.doctor = ""; /* the page sends "" when the HIS gave none */
    rec_doctor_identity(&req, &d);
    assert_string_equal(d.doctor, "CN=dr-li,O=Hospital A");
    assert_string_equal(d.doctor_source, "certificate");
    req.client_dn = NULL;
    d.doctor = NULL;
    rec_doctor_identity(&req, &d);
    assert_null(d.doctor);
    assert_null(d.doctor_source);
    /* a HIS-launched session: its doctor (set from the launch) is the one recorded */
    http_session s = {.doctor_id = "D-LAUNCH"};
    req.session = &s;
    d.doctor = s.doctor_id;
    rec_doctor_identity(&req, &d);
    assert_string_equal(d.doctor, "D-LAUNCH");
    assert_string_equal(d.doctor_source, "session");
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows),
        cmocka_unit_test(scopes),
        cmocka_unit_test(days),
        cmocka_unit_test(decisions),
        cmocka_unit_test(prompt_keys),
        cmocka_unit_test(rates),
        cmocka_unit_test(province_rules),
        cmocka_unit_test(critical_flags),
        cmocka_unit_test(fen),
        cmocka_unit_test(doctor_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
