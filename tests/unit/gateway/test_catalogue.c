/* test_catalogue.c: the recognition catalogue loader (the starter file in conf/, mistakes
 * reported as file:line: column: what) and its lookups, and the publish hook that turns a study
 * or report into a directory entry (pseudonym from the national id, catalogue code, HR mark,
 * nothing that names or identifies the patient). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../unit_filter.h"
#include "huren_err.h"

#include "catalogue.h"
#include "config.h"
#include "identity.h"
#include "directory/publisher.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STARTER HUREN_SOURCE_DIR "/conf/recognition-catalogue.csv"
#define HEADER "code,name,kind,modality,body_part,window_days,hr_scope,aliases\n"

static void starter_catalogue(void **state)
{
    (void)state;
    catalogue *c = NULL;
    char err[HUREN_ERRLEN] = "";
    if (catalogue_load(STARTER, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(catalogue_count(c) >= 15);
    const catalogue_item *it = catalogue_by_code(c, "CT-CHEST-PLAIN");
    assert_non_null(it);
    assert_string_equal(it->name, "胸部CT平扫");
    assert_string_equal(it->kind, "imaging");
    assert_string_equal(it->modality, "CT");
    assert_string_equal(it->body_part, "CHEST");
    assert_int_equal(it->window_days, 30);
    assert_string_equal(it->hr_scope, "province");
    /* local codes: an alias for everybody, a Chinese name, the catalogue code itself */
    assert_ptr_equal(catalogue_by_local_code(c, "H1", "lab", "XCG"),
                     catalogue_by_code(c, "LAB-CBC"));
    assert_ptr_equal(catalogue_by_local_code(c, "H1", "lab", "血常规"),
                     catalogue_by_code(c, "LAB-CBC"));
    assert_ptr_equal(catalogue_by_local_code(c, "H1", "lab", "LAB-LFT"),
                     catalogue_by_code(c, "LAB-LFT"));
    assert_null(catalogue_by_local_code(c, "H1", "imaging", "XCG")); /* kind must agree */
    assert_null(catalogue_by_local_code(c, "H1", "lab", "NOPE"));
    /* a study by modality and body part */
    assert_ptr_equal(catalogue_by_exam(c, "CT\\SR", "chest"), it);
    assert_null(catalogue_by_exam(c, "CT", "KNEE"));
    assert_int_equal(catalogue_scope_rank("national"), 3);
    assert_int_equal(catalogue_scope_rank(""), 0);
    catalogue_free(c);
}

/* Write text to a temp file and load it: returns the error (static) or NULL when it loads. */
static const char *load_text(const char *text, catalogue **out)
{
    static char err[HUREN_ERRLEN];
    char path[] = "/tmp/huren-catalogue-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = catalogue_load(path, out, err, sizeof err);
    unlink(path);
    /* the message starts with the file name */
    if (rc != 0)
        assert_non_null(strstr(err, "/tmp/huren-catalogue-"));
    return rc == 0 ? NULL : strstr(err, ":") + 1;
}

static void institution_aliases_and_quotes(void **state)
{
    (void)state;
    catalogue *c = NULL;
    const char *err = load_text("\xEF\xBB\xBF# comment\n" HEADER
                                "LAB-CBC,\"血常规, 五分类\",lab,,,7,national,CBC|H2:XCG01\n"
                                "LAB-X,\"a \"\"quoted\"\" name\",lab,,,3,none,H3:XCG01\n",
                                &c);
    if (err)
        fail_msg("%s", err);
    assert_string_equal(catalogue_by_code(c, "LAB-CBC")->name, "血常规, 五分类");
    assert_string_equal(catalogue_by_code(c, "LAB-X")->name, "a \"quoted\" name");
    assert_string_equal(catalogue_by_code(c, "LAB-X")->hr_scope, "");
    /* one local code, two hospitals, two items */
    assert_string_equal(catalogue_by_local_code(c, "H2", "lab", "XCG01")->code, "LAB-CBC");
    assert_string_equal(catalogue_by_local_code(c, "H3", "lab", "XCG01")->code, "LAB-X");
    assert_null(catalogue_by_local_code(c, "H4", "lab", "XCG01"));
    catalogue_free(c);
}

static void mistakes(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "0: no header line"},
        {"code,name\n", "1: the first line must be the header"},
        {HEADER "X,n,lab,,,7,none,\nX,m,lab,,,7,none,\n", "3: code: X is defined twice (line 2)"},
        {HEADER "bad code,n,lab,,,7,none,\n", "2: code:"},
        {HEADER "X,,lab,,,7,none,\n", "2: name:"},
        {HEADER "X,n,pathology,,,7,none,\n", "2: kind: \"pathology\""},
        {HEADER "X,n,imaging,,CHEST,7,none,\n", "2: modality: an imaging item needs"},
        {HEADER "X,n,lab,CT,,7,none,\n", "2: modality: a lab item has no"},
        {HEADER "X,n,imaging,CT,chest,7,none,\n", "2: body_part:"},
        {HEADER "X,n,lab,,,0,none,\n", "2: window_days: \"0\""},
        {HEADER "X,n,lab,,,7 days,none,\n", "2: window_days:"},
        {HEADER "X,n,lab,,,7,world,\n", "2: hr_scope: \"world\""},
        {HEADER "X,n,lab,,,7,none,A\nY,n,lab,,,7,none,A\n",
         "3: aliases: \"A\" already stands for X"},
        {HEADER "X,n,lab,,,7,none,bad inst:A\n", "2: aliases:"},
        {HEADER "X,n,lab,,,7,none\n", "2: 7 columns, expected 8"},
        {HEADER "X,\"n,lab,,,7,none,\n", "2: unbalanced double quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        catalogue *c = NULL;
        const char *err = load_text(cases[i].text, &c);
        if (!err || !strstr(err, cases[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err ? err : "(loaded)", cases[i].want);
        assert_null(c);
    }
}

static void publish_hook(void **state)
{
    (void)state;
    config cfg;
    catalogue *cat = NULL;
    char err[HUREN_ERRLEN];
    unsigned char key[32];
    memset(key, 0x42, sizeof key);
    assert_int_equal(config_defaults(&cfg), 0);
    assert_int_equal(config_set(&cfg, "directory", "institution", "H37010002", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "directory", "hr_scope", "city", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "directory", "qualified_from", "20230101", err, sizeof err),
                     0);
    assert_int_equal(catalogue_load(STARTER, &cat, err, sizeof err), 0);
    publisher *p = publisher_new_detached(&cfg, NULL, cat, key, sizeof key);
    assert_non_null(p);

    /* a study: the national id from OtherPatientIDs (after a local id that is not one) */
    huren_index_publish_study st = {.study_uid = "1.2.3",
                                    .study_date = "20240105",
                                    .study_description = "胸部CT平扫",
                                    .modalities = "CT",
                                    .body_parts = "CHEST",
                                    .patient_id = "P100",
                                    .other_patient_ids = "MRN77\\11010519491231002X"};
    huren_index_publish_event ev = {
        .kind = HUREN_INDEX_PUBLISH_STUDY, .record_key = "study:1.2.3", .study = &st};
    char pseudonym[65], want[65], nid[19];
    char *entry = NULL;
    identity_type type;
    assert_int_equal(publisher_describe(&ev, pseudonym, &entry, p), 0);
    assert_int_equal(identity_normalise("11010519491231002X", nid, &type, err, sizeof err), 0);
    assert_int_equal(identity_pseudonym(key, sizeof key, type, nid, want), 0);
    assert_string_equal(pseudonym, want);
    assert_non_null(entry);
    assert_non_null(strstr(entry, "\"item_code\":\"CT-CHEST-PLAIN\""));
    assert_non_null(strstr(entry, "\"hr\":true"));
    assert_non_null(strstr(entry, "\"hr_scope\":\"city\"")); /* narrower than the item's */
    assert_null(strstr(entry, "11010519491231002X"));
    assert_null(strstr(entry, "P100"));
    assert_null(strstr(entry, "1.2.3")); /* the UID travels as the record key, not here */
    free(entry);

    /* before the institution's qualification: no HR mark */
    st.study_date = "20221231";
    assert_int_equal(publisher_describe(&ev, pseudonym, &entry, p), 0);
    assert_non_null(strstr(entry, "\"hr\":false"));
    assert_null(strstr(entry, "hr_scope"));
    free(entry);

    /* no national id anywhere: not published */
    st.other_patient_ids = "MRN77";
    assert_int_equal(publisher_describe(&ev, pseudonym, &entry, p), 0);
    assert_string_equal(pseudonym, "");
    assert_null(entry);
    /* ... unless the HL7 records know this PatientID's national id */
    ev.national_id = "11010519491231002X";
    assert_int_equal(publisher_describe(&ev, pseudonym, &entry, p), 0);
    assert_string_equal(pseudonym, want);
    free(entry);

    /* a study retrieved from another hospital is that hospital's: never published as ours */
    st.copy_of = "H37010002";
    assert_int_equal(publisher_describe(&ev, pseudonym, &entry, p), 0);
    assert_string_equal(pseudonym, "");
    assert_null(entry);
    st.copy_of = NULL;

    /* a lab report by its local code; a cancelled one is withdrawn */
    huren_index_report r = {.kind = HUREN_INDEX_REPORT_LAB,
                            .item_code = "XCG",
                            .version = 2,
                            .observed_time = "20240105083000",
                            .result_status = "C"};
    huren_index_publish_event rev = {.kind = HUREN_INDEX_PUBLISH_REPORT,
                                     .record_key = "report:9",
                                     .report = &r,
                                     .national_id = "11010519491231002X"};
    assert_int_equal(publisher_describe(&rev, pseudonym, &entry, p), 0);
    assert_string_equal(pseudonym, want);
    assert_non_null(strstr(entry, "\"item_code\":\"LAB-CBC\""));
    assert_non_null(strstr(entry, "\"status\":\"corrected\""));
    assert_non_null(strstr(entry, "\"revision\":2"));
    assert_non_null(strstr(entry, "\"date\":\"20240105\""));
    free(entry);
    r.result_status = "X";
    assert_int_equal(publisher_describe(&rev, pseudonym, &entry, p), 0);
    assert_string_equal(pseudonym, "");

    publisher_free_detached(p);
    catalogue_free(cat);
    config_free(&cfg);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starter_catalogue),
        cmocka_unit_test(institution_aliases_and_quotes),
        cmocka_unit_test(mistakes),
        cmocka_unit_test(publish_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
