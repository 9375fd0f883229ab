/* test_fhir.c: the FHIR R4 data types of gateway/fhir.c: exact decimals and Money written as
 * JSON numbers, HL7 times as dateTime/instant/date with the UTC offset, offsets in config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "../unit_filter.h"

#include "fhir.h"

static void dumps_as(json_t *v, const char *expect)
{
    json_t *o = json_pack("{s:o}", "v", v);
    char *text = fhir_dump(o, NULL);
    char want[256];
    snprintf(want, sizeof want, "{\"v\":%s}", expect);
    assert_string_equal(text, want);
    free(text);
    json_decref(o);
}

static void test_decimal(void **state)
{
    (void)state;
    dumps_as(fhir_decimal("123.45"), "123.45");
    dumps_as(fhir_decimal("+006.50"), "6.50"); /* HL7 NM forms, digits kept */
    dumps_as(fhir_decimal(".5"), "0.5");
    dumps_as(fhir_decimal("5."), "5");
    dumps_as(fhir_decimal("-0.05"), "-0.05");
    dumps_as(fhir_decimal("0.1000000000000000055511151231257827"),
             "0.1000000000000000055511151231257827"); /* no double in between */
    assert_null(fhir_decimal("1e5"));
    assert_null(fhir_decimal("abc"));
    assert_null(fhir_decimal(""));
    assert_null(fhir_decimal("."));
    assert_null(fhir_decimal("1.2.3"));
    assert_null(fhir_decimal(NULL));
}

static void test_money(void **state)
{
    (void)state;
    dumps_as(fhir_money(12345), "{\"value\":123.45,\"currency\":\"CNY\",\"extension\":[{\"url\":"
                                "\"" FHIR_EXT_AMOUNT_FEN "\",\"valueDecimal\":12345}]}");
    char buf[32];
    assert_string_equal(fhir_yuan(-5, buf, sizeof buf), "-0.05");
    assert_string_equal(fhir_yuan(INT64_MIN, buf, sizeof buf), "-92233720368547758.08");
    assert_string_equal(fhir_yuan(7, buf, sizeof buf), "0.07");
}

/* A string holding our marker's text stays a string: only real NUL-marked values turn. */
static void test_dump_strings_untouched(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:s}", "a", "\\u0000123", "b", "\"x\"");
    char *text = fhir_dump(o, NULL);
    assert_string_equal(text, "{\"a\":\"\\\\u0000123\",\"b\":\"\\\"x\\\"\"}");
    free(text);
    json_decref(o);
}

static void time_is(json_t *v, const char *expect)
{
    if (!expect) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(json_string_value(v), expect);
    json_decref(v);
}

static void test_times(void **state)
{
    (void)state;
    time_is(fhir_datetime("20240105083000", 480), "2024-01-05T08:30:00+08:00");
    time_is(fhir_datetime("202401050830", 480), "2024-01-05T08:30:00+08:00");
    time_is(fhir_datetime("2024010508", -210), "2024-01-05T08:00:00-03:30");
    time_is(fhir_datetime("20240105083000.25+0000", 480), "2024-01-05T08:30:00.25+00:00");
    time_is(fhir_datetime("20240105", 480), "2024-01-05");
    time_is(fhir_datetime("202401", 480), "2024-01");
    time_is(fhir_datetime("2024", 480), "2024");
    time_is(fhir_datetime("20240230", 480), NULL); /* no such day */
    time_is(fhir_datetime("20230229", 480), NULL);
    time_is(fhir_datetime("20240229", 480), "2024-02-29");
    time_is(fhir_datetime("20240105250000", 480), NULL);
    time_is(fhir_datetime("2024-01-05", 480), NULL);
    time_is(fhir_datetime("20240105083000+2500", 480), NULL);
    time_is(fhir_datetime("", 480), NULL);
    time_is(fhir_instant("20240105", 480), NULL); /* an instant needs a time */
    time_is(fhir_instant("20240105083000", 0), "2024-01-05T08:30:00+00:00");
    time_is(fhir_date("20240105083000"), "2024-01-05");
    char buf[FHIR_TIME_LEN];
    assert_string_equal(fhir_time_format(0, 480, buf), "1970-01-01T08:00:00+08:00");
    assert_string_equal(fhir_time_format(86400, -60, buf), "1970-01-01T23:00:00-01:00");
}

static void test_offsets(void **state)
{
    (void)state;
    int m = 1;
    assert_int_equal(fhir_offset_parse("+08:00", &m), 0);
    assert_int_equal(m, 480);
    assert_int_equal(fhir_offset_parse("-0330", &m), 0);
    assert_int_equal(m, -210);
    assert_int_equal(fhir_offset_parse("Z", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(fhir_offset_parse("+14:00", &m), 0);
    const char *bad[] = {"8", "+8:00", "+15:00", "-13:00", "+08:60", "+08:00x", "", "UTC", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(fhir_offset_parse(bad[i], &m), -1);
}

static void test_code_systems(void **state)
{
    (void)state;
    assert_string_equal(fhir_code_system("LN"), "http://loinc.org");
    assert_string_equal(fhir_code_system("I10"), "http://hl7.org/fhir/sid/icd-10");
    assert_string_equal(fhir_code_system("ICD-10"), "http://hl7.org/fhir/sid/icd-10");
    assert_string_equal(fhir_code_system("urn:oid:1.2.3"), "urn:oid:1.2.3");
    assert_null(fhir_code_system("L"));
    assert_null(fhir_code_system(NULL));
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_dump_strings_untouched),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_code_systems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
