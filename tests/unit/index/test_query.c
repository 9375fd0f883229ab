/* test_query.c: huren_index_find on a small fixed archive: every match kind with its exact
 * result set, conditions on upper levels, limit/offset, malformed values, and the query plans
 * (EXPLAIN QUERY PLAN) of the hot queries. */
#include "test_index.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT "1.2.840.10008.5.1.4.1.1.2"
#define MR "1.2.840.10008.5.1.4.1.1.4"
#define CR "1.2.840.10008.5.1.4.1.1.1"
#define US "1.2.840.10008.5.1.4.1.1.6.1"

typedef struct fx {
    const char *pid, *name, *birth, *other, *study, *date, *time, *acc, *desc, *series, *mod, *snum,
        *sop, *inum, *cls;
} fx;

/* Patients P1 (two studies), P2, and one with an empty PatientID. */
static const fx data[] = {
    {"PID1", "Wang^Xiaoming=王^小明", "19800101", "110101198001010011\\INS1", "1.2.1", "20200115",
     "101500", "ACC1", "CT CHEST", "1.2.1.1", "CT", "1", "1.2.1.1.1", "1", CT},
    {"PID1", "Wang^Xiaoming=王^小明", "19800101", "110101198001010011\\INS1", "1.2.1", "20200115",
     "101500", "ACC1", "CT CHEST", "1.2.1.1", "CT", "1", "1.2.1.1.2", "2", CT},
    {"PID1", "Wang^Xiaoming=王^小明", "19800101", "110101198001010011\\INS1", "1.2.1", "20200115",
     "101500", "ACC1", "CT CHEST", "1.2.1.2", "MR", "2", "1.2.1.2.1", "1", MR},
    {"PID1", "Wang^Xiaoming=王^小明", "19800101", NULL, "1.2.2", "20210610", "083000", "ACC2", "XR",
     "1.2.2.1", "CR", "1", "1.2.2.1.1", "1", CR},
    {"PID1", "Wang^Xiaoming=王^小明", "19800101", NULL, "1.2.1", "20200115", "101500", "ACC1",
     "CT CHEST", "1.2.1.1", "CT", "1", "1.2.1.1.10", "10", CT},
    {"PID2", "SMITH^John", "19751231", NULL, "1.2.3", "20211231", "235959", "X%_1", "MR [HEAD]",
     "1.2.3.1", "MR", "10", "1.2.3.1.1", "1", MR},
    {"", "Zhang^San=张^三", NULL, NULL, "1.2.4", "20190101", "120000.5", "ACC4", "US", "1.2.4.1",
     "US", "1", "1.2.4.1.1", "1", US},
    {"Q3", "Müller^Hans", NULL, NULL, "1.2.5", "20180101", NULL, NULL, NULL, "1.2.5.1", "OT", NULL,
     "1.2.5.1.1", NULL, "1.2.840.10008.5.1.4.1.1.7"},
};

static tfix T;

static int setup(void **state)
{
    (void)state;
    tfix_open(&T, 0, HUREN_INDEX_DUP_KEEP);
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
        const fx *d = &data[i];
        tinst in;
        tinst_init(&in, d->pid, d->study, d->series, d->sop, d->mod, d->cls);
        in.v[HUREN_INDEX_F_PATIENT_NAME] = d->name;
        in.v[HUREN_INDEX_F_PATIENT_BIRTH_DATE] = d->birth;
        in.v[HUREN_INDEX_F_OTHER_PATIENT_IDS] = d->other;
        in.v[HUREN_INDEX_F_STUDY_DATE] = d->date;
        in.v[HUREN_INDEX_F_STUDY_TIME] = d->time;
        in.v[HUREN_INDEX_F_ACCESSION_NUMBER] = d->acc;
        in.v[HUREN_INDEX_F_STUDY_DESCRIPTION] = d->desc;
        in.v[HUREN_INDEX_F_SERIES_NUMBER] = d->snum;
        in.v[HUREN_INDEX_F_INSTANCE_NUMBER] = d->inum;
        in.v[HUREN_INDEX_F_REFERRING_PHYSICIAN] = "Li^Hua";
        put_ok(T.idx, &in, d->sop);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tfix_close(&T);
    return 0;
}

/* Assert that matching (f1,v1)[,(f2,v2)] at level returns exactly want (field out, in order). */
static void expect2(huren_index_level level, huren_index_field f1, const char *v1,
                    huren_index_field f2, const char *v2, huren_index_field out, const char *want)
{
    huren_index_match m[2] = {{f1, v1}, {f2, v2}};
    int rc;
    char *got = find_list(T.idx, level, m, v2 ? 2 : 1, out, &rc);
    if (!got)
        fail_msg("%s=%s: error %d %s", huren_index_field_name(f1), v1, rc,
                 huren_index_errmsg(T.idx));
    if (strcmp(got, want) != 0)
        fail_msg("%s=\"%s\": got \"%s\", want \"%s\"", huren_index_field_name(f1), v1, got, want);
    free(got);
}

static void expect(huren_index_field f, const char *v, const char *want)
{
    expect2(HUREN_INDEX_LEVEL_STUDY, f, v, f, NULL, HUREN_INDEX_F_STUDY_UID, want);
}

static void text_matching(void **state)
{
    (void)state;
    expect(HUREN_INDEX_F_PATIENT_ID, "PID1", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_ID, "pid1", ""); /* TEXT is case-sensitive */
    expect(HUREN_INDEX_F_PATIENT_ID, "PID*", "1.2.1,1.2.2,1.2.3");
    expect(HUREN_INDEX_F_PATIENT_ID, "PID?", "1.2.1,1.2.2,1.2.3");
    expect(HUREN_INDEX_F_PATIENT_ID, "P*2", "1.2.3");
    expect(HUREN_INDEX_F_PATIENT_ID, "*", "1.2.5,1.2.4,1.2.1,1.2.2,1.2.3"); /* universal */
    expect(HUREN_INDEX_F_PATIENT_ID, "", "1.2.5,1.2.4,1.2.1,1.2.2,1.2.3");
    /* SQL LIKE specials are plain characters; '[' is escaped for GLOB */
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "X%_1", "1.2.3");
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "X%*", "1.2.3");
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "ACC_", "");
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "%", "");
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "ACC?", "1.2.4,1.2.1,1.2.2");
    expect(HUREN_INDEX_F_STUDY_DESCRIPTION, "MR [HEAD]", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_DESCRIPTION, "MR [*", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_DESCRIPTION, "*[H?AD]", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_DESCRIPTION, "MR [H]EAD]", "");
    /* a list of alternatives, each exact or wildcard */
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "ACC1\\X%_1", "1.2.1,1.2.3");
    expect(HUREN_INDEX_F_ACCESSION_NUMBER, "ACC4\\X*", "1.2.4,1.2.3");
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_MODALITY, "CR\\US", HUREN_INDEX_F_MODALITY,
            NULL, HUREN_INDEX_F_SERIES_UID, "1.2.4.1,1.2.2.1");
    /* hostile text is just a value */
    expect(HUREN_INDEX_F_PATIENT_ID, "' OR 1=1 --", "");
}

static void pn_matching(void **state)
{
    (void)state;
    expect(HUREN_INDEX_F_PATIENT_NAME, "Wang^Xiaoming=王^小明", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "Wang^Xiaoming", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "WANG^XIAOMING", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "wang*", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "王*", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "王^小明", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "王^?明", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_PATIENT_NAME, "张*", "1.2.4");
    expect(HUREN_INDEX_F_PATIENT_NAME, "smith^john", "1.2.3");
    expect(HUREN_INDEX_F_PATIENT_NAME, "müller*", "1.2.5"); /* folding beyond ASCII */
    expect(HUREN_INDEX_F_PATIENT_NAME, "MÜLLER^HANS", "1.2.5");
    expect(HUREN_INDEX_F_PATIENT_NAME, "Smith^John^^", "1.2.3");
    expect(HUREN_INDEX_F_PATIENT_NAME, "*^SAN", "1.2.4");
    expect(HUREN_INDEX_F_PATIENT_NAME, "Wang", ""); /* exact means the whole value or group */
    expect(HUREN_INDEX_F_PATIENT_NAME, "小明", "");
    expect(HUREN_INDEX_F_REFERRING_PHYSICIAN, "li^HUA", "1.2.5,1.2.4,1.2.1,1.2.2,1.2.3");
}

static void date_time_matching(void **state)
{
    (void)state;
    expect(HUREN_INDEX_F_STUDY_DATE, "20200115", "1.2.1");
    expect(HUREN_INDEX_F_STUDY_DATE, "20200101-20211231", "1.2.1,1.2.2,1.2.3");
    expect(HUREN_INDEX_F_STUDY_DATE, "20210101-", "1.2.2,1.2.3");
    expect(HUREN_INDEX_F_STUDY_DATE, "-20200115", "1.2.5,1.2.4,1.2.1");
    expect(HUREN_INDEX_F_STUDY_DATE, "20210611-20211230", "");
    expect(HUREN_INDEX_F_PATIENT_BIRTH_DATE, "19700101-19791231", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_TIME, "-0900", "1.2.2");
    expect(HUREN_INDEX_F_STUDY_TIME, "2359-", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_TIME, "083000", "1.2.2");
    /* an upper bound includes its whole precision: 12:00 includes 12:00:00.5 */
    expect(HUREN_INDEX_F_STUDY_TIME, "1000-1200", "1.2.4,1.2.1");
    expect(HUREN_INDEX_F_STUDY_TIME, "1000-115959", "1.2.1");
    expect2(HUREN_INDEX_LEVEL_PATIENT, HUREN_INDEX_F_PATIENT_BIRTH_DATE, "-19800101",
            HUREN_INDEX_F_PATIENT_ID, NULL, HUREN_INDEX_F_PATIENT_ID, "PID1,PID2");
}

static void uid_and_multi_matching(void **state)
{
    (void)state;
    expect(HUREN_INDEX_F_STUDY_UID, "1.2.3", "1.2.3");
    expect(HUREN_INDEX_F_STUDY_UID, "1.2.1\\1.2.3", "1.2.1,1.2.3");
    expect(HUREN_INDEX_F_STUDY_UID, "1.2.1\\1.2.9\\1.2.4", "1.2.4,1.2.1");
    expect(HUREN_INDEX_F_STUDY_UID, "1.2", "");
    expect(HUREN_INDEX_F_MODALITIES_IN_STUDY, "MR", "1.2.1,1.2.3");
    expect(HUREN_INDEX_F_MODALITIES_IN_STUDY, "CT\\US", "1.2.4,1.2.1");
    expect(HUREN_INDEX_F_MODALITIES_IN_STUDY, "C*", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_MODALITIES_IN_STUDY, "PT", "");
    expect(HUREN_INDEX_F_SOP_CLASSES_IN_STUDY, MR, "1.2.1,1.2.3");
    expect(HUREN_INDEX_F_SOP_CLASSES_IN_STUDY, CR "\\" US, "1.2.4,1.2.2");
    expect(HUREN_INDEX_F_OTHER_PATIENT_IDS, "110101198001010011", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_OTHER_PATIENT_IDS, "INS*", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_OTHER_PATIENT_IDS, "110101198001010011\\INS1", "1.2.1,1.2.2");
    expect(HUREN_INDEX_F_OTHER_PATIENT_IDS, "INS2", "");
    /* the computed value itself */
    expect2(HUREN_INDEX_LEVEL_STUDY, HUREN_INDEX_F_STUDY_UID, "1.2.1", HUREN_INDEX_F_STUDY_UID,
            NULL, HUREN_INDEX_F_MODALITIES_IN_STUDY, "CT\\MR");
}

static void levels_with_upper_conditions(void **state)
{
    (void)state;
    expect2(HUREN_INDEX_LEVEL_PATIENT, HUREN_INDEX_F_PATIENT_NAME, "*", HUREN_INDEX_F_PATIENT_ID,
            NULL, HUREN_INDEX_F_PATIENT_ID, "(null),PID1,PID2,Q3");
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_STUDY_UID, "1.2.1", HUREN_INDEX_F_STUDY_UID,
            NULL, HUREN_INDEX_F_SERIES_UID, "1.2.1.1,1.2.1.2");
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_STUDY_UID, "1.2.1", HUREN_INDEX_F_MODALITY,
            "MR", HUREN_INDEX_F_SERIES_UID, "1.2.1.2");
    /* below the study level rows stay grouped by study (date order), then by number */
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_MODALITY, "*R", HUREN_INDEX_F_MODALITY, NULL,
            HUREN_INDEX_F_SERIES_UID, "1.2.1.2,1.2.2.1,1.2.3.1");
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_PATIENT_ID, "PID1", HUREN_INDEX_F_MODALITY,
            NULL, HUREN_INDEX_F_SERIES_UID, "1.2.1.1,1.2.1.2,1.2.2.1");
    /* instance numbers sort as numbers: 1 < 2 < 10 */
    expect2(HUREN_INDEX_LEVEL_INSTANCE, HUREN_INDEX_F_PATIENT_ID, "PID1", HUREN_INDEX_F_MODALITY,
            "CT", HUREN_INDEX_F_SOP_INSTANCE_UID, "1.2.1.1.1,1.2.1.1.2,1.2.1.1.10");
    expect2(HUREN_INDEX_LEVEL_INSTANCE, HUREN_INDEX_F_PATIENT_NAME, "王*", HUREN_INDEX_F_STUDY_DATE,
            "20210101-", HUREN_INDEX_F_SOP_INSTANCE_UID, "1.2.2.1.1");
    /* rows carry the fields of the levels above */
    expect2(HUREN_INDEX_LEVEL_INSTANCE, HUREN_INDEX_F_SOP_INSTANCE_UID, "1.2.3.1.1",
            HUREN_INDEX_F_SOP_CLASS_UID, NULL, HUREN_INDEX_F_PATIENT_NAME, "SMITH^John");
    expect2(HUREN_INDEX_LEVEL_INSTANCE, HUREN_INDEX_F_SOP_INSTANCE_UID, "1.2.3.1.1",
            HUREN_INDEX_F_SOP_CLASS_UID, MR, HUREN_INDEX_F_ACCESSION_NUMBER, "X%_1");
    expect2(HUREN_INDEX_LEVEL_SERIES, HUREN_INDEX_F_SERIES_UID, "1.2.3.1", HUREN_INDEX_F_MODALITY,
            NULL, HUREN_INDEX_F_PATIENT_NUM_STUDIES, "1");
}

static void limit_offset(void **state)
{
    (void)state;
    int rc;
    char *l =
        find_list_lim(T.idx, HUREN_INDEX_LEVEL_STUDY, NULL, 0, HUREN_INDEX_F_STUDY_UID, 2, 1, &rc);
    assert_string_equal(l, "1.2.4,1.2.1");
    free(l);
    l = find_list_lim(T.idx, HUREN_INDEX_LEVEL_STUDY, NULL, 0, HUREN_INDEX_F_STUDY_UID, 0, 3, &rc);
    assert_string_equal(l, "1.2.2,1.2.3");
    free(l);
    l = find_list_lim(T.idx, HUREN_INDEX_LEVEL_STUDY, NULL, 0, HUREN_INDEX_F_STUDY_UID, 10, 10,
                      &rc);
    assert_string_equal(l, "");
    assert_int_equal(rc, 0);
    free(l);
    l = find_list_lim(T.idx, HUREN_INDEX_LEVEL_INSTANCE, NULL, 0, HUREN_INDEX_F_SOP_INSTANCE_UID, 1,
                      0, &rc);
    assert_int_equal(rc, 1);
    free(l);
}

static void expect_einval(huren_index_level level, huren_index_field f, const char *v)
{
    huren_index_match m = {f, v};
    huren_index_query q = {level, &m, 1, 0, 0};
    int rc = huren_index_find(T.idx, &q, NULL, NULL);
    if (rc != HUREN_INDEX_EINVAL)
        fail_msg("%s=\"%s\": %d, want EINVAL", huren_index_field_name(f), v, rc);
    if (!strstr(huren_index_errmsg(T.idx), huren_index_field_name(f)))
        fail_msg("message \"%s\" does not name %s", huren_index_errmsg(T.idx),
                 huren_index_field_name(f));
}

static void malformed_values(void **state)
{
    (void)state;
    const huren_index_level S = HUREN_INDEX_LEVEL_STUDY;
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "2020-2021-2022");
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "2020a101");
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "20201301");
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "2020");
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "-");
    expect_einval(S, HUREN_INDEX_F_STUDY_DATE, "20200101-2021");
    expect_einval(S, HUREN_INDEX_F_PATIENT_BIRTH_DATE, "1980*");
    expect_einval(S, HUREN_INDEX_F_STUDY_TIME, "25");
    expect_einval(S, HUREN_INDEX_F_STUDY_TIME, "12:00");
    expect_einval(S, HUREN_INDEX_F_STUDY_TIME, "1200.5");
    expect_einval(S, HUREN_INDEX_F_STUDY_TIME, "0800-0900-1000");
    expect_einval(S, HUREN_INDEX_F_STUDY_UID, "1.2.x");
    expect_einval(S, HUREN_INDEX_F_STUDY_UID, "1.2.3\\\\1.2.4");
    expect_einval(S, HUREN_INDEX_F_STUDY_UID, "1.2.*");
    expect_einval(S, HUREN_INDEX_F_STUDY_UID, "'; DROP TABLE studies; --");
    expect_einval(S, HUREN_INDEX_F_MODALITIES_IN_STUDY, "CT\\\\MR");
    expect_einval(S, HUREN_INDEX_F_ACCESSION_NUMBER, "ACC1\\");
    expect_einval(S, HUREN_INDEX_F_STUDY_NUM_SERIES, "2");
    expect_einval(S, HUREN_INDEX_F_SERIES_UID, "1.2.1.1"); /* below the level */
    expect_einval(HUREN_INDEX_LEVEL_PATIENT, HUREN_INDEX_F_MODALITY, "CT");
    /* and the archive is still all there */
    expect(HUREN_INDEX_F_PATIENT_ID, "*", "1.2.5,1.2.4,1.2.1,1.2.2,1.2.3");

    huren_index_query q = {(huren_index_level)7, NULL, 0, 0, 0};
    assert_int_equal(huren_index_find(T.idx, &q, NULL, NULL), HUREN_INDEX_EINVAL);
    q.level = HUREN_INDEX_LEVEL_STUDY;
    q.nmatches = 1;
    assert_int_equal(huren_index_find(T.idx, &q, NULL, NULL), HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_find(T.idx, NULL, NULL, NULL), HUREN_INDEX_EINVAL);
}

static int stop_after_one(void *payload, const huren_index_row *row)
{
    int *n = payload;
    (void)row;
    return ++*n >= 1;
}

static void callback_cancel(void **state)
{
    (void)state;
    int n = 0;
    huren_index_query q = {HUREN_INDEX_LEVEL_STUDY, NULL, 0, 0, 0};
    assert_int_equal(huren_index_find(T.idx, &q, stop_after_one, &n), HUREN_INDEX_ECANCEL);
    assert_int_equal(n, 1);
}

/* The plan of a query, one detail line per row of EXPLAIN QUERY PLAN, joined by " | ". */
static char *plan_of(huren_index_level level, const huren_index_match *m, size_t n)
{
    huren_buf sql = {0}, plan = {0};
    huren_index__params params = {0};
    huren_index_query q = {level, m, n, 0, 0};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(huren_index__find_sql(T.idx, &q, &sql, &params), 0);
    assert_int_equal(huren_index__reader_get(T.idx, &db), 0);
    huren_buf_adds(&plan, "");
    char *eqp = NULL;
    assert_true(asprintf(&eqp, "EXPLAIN QUERY PLAN %s", sql.data) > 0);
    assert_int_equal(sqlite3_prepare_v2(db, eqp, -1, &st, NULL), SQLITE_OK);
    for (size_t i = 0; i < params.n; i++)
        sqlite3_bind_text(st, (int)i + 1, params.v[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, (int)params.n + 1, -1);
    sqlite3_bind_int64(st, (int)params.n + 2, 0);
    while (sqlite3_step(st) == SQLITE_ROW) {
        huren_buf_adds(&plan, plan.len ? " | " : "");
        huren_buf_adds(&plan, (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    huren_index__reader_put(T.idx, db);
    free(eqp);
    huren_index__params_free(&params);
    huren_buf_free(&sql);
    return plan.data;
}

static void query_plans(void **state)
{
    (void)state;
    /* the hot C-FIND: STUDY level by exact PatientID */
    huren_index_match m = {HUREN_INDEX_F_PATIENT_ID, "PID1"};
    char *p = plan_of(HUREN_INDEX_LEVEL_STUDY, &m, 1);
    print_message("plan STUDY by PatientID: %s\n", p);
    assert_non_null(strstr(p, "SEARCH p USING"));
    assert_non_null(strstr(p, "INDEX sqlite_autoindex_patients_1 (patient_id=?)"));
    assert_non_null(strstr(p, "SEARCH st USING INDEX studies_patient (patient_pk=?)"));
    assert_null(strstr(p, "SCAN st"));
    free(p);

    /* PN: one index per name column, combined */
    m = (huren_index_match){HUREN_INDEX_F_PATIENT_NAME, "王*"};
    p = plan_of(HUREN_INDEX_LEVEL_STUDY, &m, 1);
    print_message("plan STUDY by PatientName: %s\n", p);
    assert_non_null(strstr(p, "MULTI-INDEX OR"));
    assert_non_null(strstr(p, "patients_name_ideo"));
    assert_null(strstr(p, "SCAN p"));
    free(p);

    m = (huren_index_match){HUREN_INDEX_F_STUDY_DATE, "20200101-20201231"};
    p = plan_of(HUREN_INDEX_LEVEL_STUDY, &m, 1);
    print_message("plan STUDY by date range: %s\n", p);
    assert_non_null(strstr(p, "studies_date"));
    free(p);

    m = (huren_index_match){HUREN_INDEX_F_STUDY_UID, "1.2.1"};
    p = plan_of(HUREN_INDEX_LEVEL_INSTANCE, &m, 1);
    print_message("plan INSTANCE by StudyUID: %s\n", p);
    assert_non_null(strstr(p, "sqlite_autoindex_studies_1 (study_uid=?)"));
    assert_null(strstr(p, "SCAN"));
    free(p);

    m = (huren_index_match){HUREN_INDEX_F_ACCESSION_NUMBER, "ACC1"};
    p = plan_of(HUREN_INDEX_LEVEL_STUDY, &m, 1);
    print_message("plan STUDY by accession: %s\n", p);
    assert_non_null(strstr(p, "studies_accession"));
    free(p);

    m = (huren_index_match){HUREN_INDEX_F_MODALITIES_IN_STUDY, "MR\\CT"};
    p = plan_of(HUREN_INDEX_LEVEL_STUDY, &m, 1);
    print_message("plan STUDY by modalities: %s\n", p);
    assert_non_null(strstr(p, "series_modality"));
    free(p);
}

const struct CMUnitTest query_tests[] = {
    cmocka_unit_test_setup_teardown(text_matching, setup, teardown),
    cmocka_unit_test_setup_teardown(pn_matching, setup, teardown),
    cmocka_unit_test_setup_teardown(date_time_matching, setup, teardown),
    cmocka_unit_test_setup_teardown(uid_and_multi_matching, setup, teardown),
    cmocka_unit_test_setup_teardown(levels_with_upper_conditions, setup, teardown),
    cmocka_unit_test_setup_teardown(limit_offset, setup, teardown),
    cmocka_unit_test_setup_teardown(malformed_values, setup, teardown),
    cmocka_unit_test_setup_teardown(callback_cancel, setup, teardown),
    cmocka_unit_test_setup_teardown(query_plans, setup, teardown),
};
const size_t query_ntests = sizeof(query_tests) / sizeof(query_tests[0]);
