/* test_reference.c: the province's reference tables (gateway/reference.c): each kind's columns
 * checked, every bad line reported, versions numbered by import, nothing stored on an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../unit_filter.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reference.h"

static const char cat_ok[] = "\xEF\xBB\xBF"
                             "code,name,group,valid_from,valid_to,window_days,scope,issuers\r\n"
                             "LAB-CBC,血常规,LAB-BLOOD,20250101,,7,province,三级甲等|二级甲等\r\n"
                             "# a comment\n"
                             "\"CT-CHEST\",\"胸部CT平扫, 平扫\",,,,30,city,\n";

static void parse_good(void **state)
{
    (void)state;
    ref_table *t = NULL;
    char err[2048];
    assert_int_equal(ref_table_parse(REF_CATALOGUE, cat_ok, strlen(cat_ok), &t, err, sizeof err),
                     0);
    assert_int_equal(ref_table_rows(t), 2);
    assert_int_equal(ref_table_version(t), 0);
    assert_string_equal(ref_cell(t, 1, REF_CAT_NAME), "胸部CT平扫, 平扫");
    assert_int_equal(ref_find(t, REF_CAT_CODE, "LAB-CBC"), 0);
    assert_int_equal(ref_find(t, REF_CAT_CODE, "X"), -1);
    assert_true(ref_list_has(ref_cell(t, 0, REF_CAT_ISSUERS), "二级甲等"));
    assert_false(ref_list_has(ref_cell(t, 0, REF_CAT_ISSUERS), "二级"));
    ref_table_free(t);
}

static void parse_bad(void **state)
{
    (void)state;
    static const char bad[] = "code,name,group,valid_from,valid_to,window_days,scope,issuers\n"
                              "A,a,,2025,,7,city,\n"
                              "B,b,,,,0,town,\n"
                              "C,c,,20250301,20250201,7,city,\n"
                              "A2,a,,,,7,city\n";
    ref_table *t = NULL;
    char err[4096];
    assert_int_equal(ref_table_parse(REF_CATALOGUE, bad, strlen(bad), &t, err, sizeof err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "line 2: valid_from"));
    assert_non_null(strstr(err, "line 3: window_days"));
    assert_non_null(strstr(err, "line 3: scope"));
    assert_non_null(strstr(err, "line 4: valid_to: before valid_from"));
    assert_non_null(strstr(err, "line 5: 7 columns"));
    static const char inst[] = "code,name,short_name,city,class,ownership\n"
                               "H1,一院,,济南,三级甲等,public\n"
                               "H1,二院,,济南,二级,state\n";
    assert_int_equal(ref_table_parse(REF_INSTITUTIONS, inst, strlen(inst), &t, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "line 3: ownership"));
    static const char qc[] = "institution,item,year,scheme,passed_from,passed_to\n"
                             "H1,LAB-CBC,2025,national,20250101,\n";
    assert_int_equal(ref_table_parse(REF_QC, qc, strlen(qc), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: passed_to"));
    assert_int_equal(ref_table_parse(REF_QC, "", 0, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 0: no header"));
}

static void import_versions(void **state)
{
    (void)state;
    char dir[] = "/tmp/huren-ut-ref-XXXXXX", sub[64], err[4096], *data = NULL;
    size_t len = 0;
    long v = 0;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/reference", dir);
    assert_int_equal(ref_import(sub, REF_CATALOGUE, cat_ok, strlen(cat_ok), &v, err, sizeof err),
                     0);
    assert_int_equal(v, 1);
    assert_int_equal(ref_import(sub, REF_CATALOGUE, cat_ok, strlen(cat_ok), &v, err, sizeof err),
                     0);
    assert_int_equal(v, 2);
    /* a bad file stores nothing: version 2 stays */
    assert_int_equal(ref_import(sub, REF_CATALOGUE, "code\n", 5, &v, err, sizeof err), -1);
    assert_int_equal(ref_store_read(sub, REF_CATALOGUE, &data, &len, err, sizeof err), 0);
    assert_true(!strncmp(data, "# version: 2\n", 13));
    ref_table *t = NULL;
    assert_int_equal(ref_table_parse(REF_CATALOGUE, data, len, &t, err, sizeof err), 0);
    assert_int_equal(ref_table_version(t), 2);
    assert_int_equal(ref_table_rows(t), 2);
    ref_table_free(t);
    free(data);
    assert_int_equal(ref_store_read(sub, REF_QC, &data, &len, err, sizeof err), 1);
    char path[128];
    snprintf(path, sizeof path, "%s/catalogue.csv", sub);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_good),
        cmocka_unit_test(parse_bad),
        cmocka_unit_test(import_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
