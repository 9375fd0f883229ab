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

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows),   cmocka_unit_test(scopes),      cmocka_unit_test(days),
        cmocka_unit_test(decisions), cmocka_unit_test(prompt_keys), cmocka_unit_test(rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
