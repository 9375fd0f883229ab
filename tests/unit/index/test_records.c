/* test_records.c: clinical records (schema 4): a message's records stored together, dedup of
 * re-sent messages, corrected reports with their history, patient merges, visits with
 * diagnoses and exact charge totals, queries by local and national id, bad input, and many
 * threads sharing group commits. */
#include "test_index.h"
#include "index/index_records.h"
#include "index/index_consents.h"
#include "index/index_directory.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static huren_index_rec_patient patient(const char *id, const char *national, const char *name)
{
    huren_index_rec_patient p = {id, national, national ? "ID" : NULL, name, "F", "19800102"};
    return p;
}

/* A lab report with n observations, values "<tag>-<k>". */
typedef struct tlab {
    huren_index_report r;
    huren_index_observation o[12];
    char values[12][32];
} tlab;

static void tlab_init(tlab *t, const char *order, const char *item, const char *status,
                      const char *observed, int n, const char *tag)
{
    memset(t, 0, sizeof(*t));
    t->r.kind = HUREN_INDEX_REPORT_LAB;
    t->r.placer_number = order;
    t->r.item_code = item;
    t->r.item_name = "血常规";
    t->r.result_status = status;
    t->r.observed_time = observed;
    t->r.specimen = "BLD";
    for (int k = 0; k < n; k++) {
        snprintf(t->values[k], sizeof(t->values[k]), "%s-%d", tag, k);
        t->o[k].set_id = "1";
        t->o[k].value_type = "NM";
        t->o[k].code = "WBC";
        t->o[k].value = t->values[k];
        t->o[k].units = "10*9/L";
        t->o[k].status = status;
    }
    t->r.obs = t->o;
    t->r.nobs = (size_t)n;
}

static int put(huren_index *idx, const char *msgid, const huren_index_rec_patient *p,
               const huren_index_report *r, size_t nr, huren_index_put_outcome *out)
{
    huren_index_records m = {0};
    m.source = "LIS|H1";
    m.message_id = msgid;
    m.message_type = "ORU^R01";
    m.patient = p;
    m.reports = r;
    m.nreports = nr;
    return huren_index_records_put(idx, &m, out);
}

static void store_and_dedup(void **state)
{
    (void)state;
    tfix t;
    tlab a, b;
    huren_index_put_outcome out = -1;
    huren_index_report_list l;
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient p = patient("P1", "110101198001020011", "王^小明");
    tlab_init(&a, "ORD1", "CBC", "F", "20240101080000", 3, "a");
    tlab_init(&b, "ORD2", "LFT", "F", "20240301080000", 2, "b");
    huren_index_report two[2] = {a.r, b.r};
    assert_int_equal(put(t.idx, "M1", &p, two, 2, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_STORED);
    /* the same control id again: acknowledged, stored once */
    assert_int_equal(put(t.idx, "M1", &p, two, 2, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_DUPLICATE);

    assert_int_equal(huren_index_reports_find(t.idx, "P1", NULL, &l), 2);
    assert_string_equal(l.items[0].item_code, "LFT"); /* newest first */
    assert_string_equal(l.items[1].item_code, "CBC");
    assert_int_equal(l.items[1].nobs, 3);
    assert_string_equal(l.items[1].obs[2].value, "a-2");
    assert_string_equal(l.items[1].item_name, "血常规");
    assert_string_equal(l.items[1].patient_id, "P1");
    assert_int_equal(l.items[1].version, 1);
    assert_string_equal(l.items[1].message_id, "M1");
    huren_index_report_list_free(&l);
    /* by national id; with filters */
    assert_int_equal(huren_index_reports_find(t.idx, "110101198001020011", NULL, &l), 2);
    huren_index_report_list_free(&l);
    huren_index_report_filter f = {HUREN_INDEX_REPORT_LAB, "CBC", NULL, 0};
    assert_int_equal(huren_index_reports_find(t.idx, "P1", &f, &l), 1);
    huren_index_report_list_free(&l);
    f.item_code = NULL;
    f.since = "20240201";
    assert_int_equal(huren_index_reports_find(t.idx, "P1", &f, &l), 1);
    assert_string_equal(l.items[0].item_code, "LFT");
    huren_index_report_list_free(&l);
    f.since = NULL;
    f.kind = HUREN_INDEX_REPORT_EXAM;
    assert_int_equal(huren_index_reports_find(t.idx, "P1", &f, &l), 0);
    huren_index_report_list_free(&l);
    assert_int_equal(huren_index_reports_find(t.idx, "NOBODY", NULL, &l), 0);
    huren_index_report_list_free(&l);
    char pid[64];
    assert_int_equal(huren_index_rec_patient_exists(t.idx, "110101198001020011", pid, sizeof pid),
                     1);
    assert_string_equal(pid, "P1");
    assert_int_equal(huren_index_rec_patient_exists(t.idx, "NOBODY", NULL, 0), 0);
    /* durable across reopen */
    tfix_reopen(&t);
    assert_int_equal(huren_index_reports_find(t.idx, "P1", NULL, &l), 2);
    huren_index_report_list_free(&l);
    tfix_close(&t);
}

static void correction_history(void **state)
{
    (void)state;
    tfix t;
    tlab a, c;
    huren_index_put_outcome out;
    huren_index_report_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient p = patient("P2", NULL, "Li^Lei");
    tlab_init(&a, "ORD9", "GLU", "F", "20240101", 2, "first");
    assert_int_equal(put(t.idx, "M10", &p, &a.r, 1, &out), 0);
    assert_int_equal(huren_index_reports_find(t.idx, "P2", NULL, &l), 1);
    int64_t id = l.items[0].id;
    huren_index_report_list_free(&l);
    tlab_init(&c, "ORD9", "GLU", "C", "20240101", 1, "fixed");
    assert_int_equal(put(t.idx, "M11", &p, &c.r, 1, &out), 0);
    assert_int_equal(huren_index_report_get(t.idx, id, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].version, 2);
    assert_string_equal(l.items[0].result_status, "C");
    assert_int_equal(l.items[0].nobs, 1);
    assert_string_equal(l.items[0].obs[0].value, "fixed-0");
    assert_int_equal(l.items[1].version, 1);
    assert_string_equal(l.items[1].result_status, "F");
    assert_int_equal(l.items[1].nobs, 2);
    assert_string_equal(l.items[1].obs[1].value, "first-1");
    assert_non_null(l.items[1].replaced_at);
    assert_string_equal(l.items[1].message_id, "M10");
    huren_index_report_list_free(&l);
    /* only the current version is listed */
    assert_int_equal(huren_index_reports_find(t.idx, "P2", NULL, &l), 1);
    assert_int_equal(l.items[0].id, id);
    huren_index_report_list_free(&l);
    assert_int_equal(huren_index_report_get(t.idx, id + 100, &l), HUREN_INDEX_ENOTFOUND);
    tfix_close(&t);
}

static void merge_patients(void **state)
{
    (void)state;
    tfix t;
    tlab a, b;
    huren_index_put_outcome out;
    huren_index_report_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient old = patient("OLD", "110101198001020011", "Zhang^San");
    huren_index_rec_patient keep = patient("KEEP", NULL, "Zhang^San");
    tlab_init(&a, "O1", "CBC", "F", "20240101", 1, "old");
    tlab_init(&b, "O2", "CBC", "F", "20240102", 1, "keep");
    assert_int_equal(put(t.idx, "M1", &old, &a.r, 1, &out), 0);
    assert_int_equal(put(t.idx, "M2", &keep, &b.r, 1, &out), 0);
    huren_index_visit v = {"V-OLD", "O", "内科", "20240101", NULL};
    huren_index_records m = {.source = "HIS|H1", .message_id = "A01", .patient = &old, .visit = &v};
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);

    huren_index_records merge = {.source = "HIS|H1",
                                 .message_id = "A40",
                                 .message_type = "ADT^A40",
                                 .patient = &keep,
                                 .merge_from_patient_id = "OLD"};
    assert_int_equal(huren_index_records_put(t.idx, &merge, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_STORED);
    /* both patients' reports under the survivor, found by either id and the national id */
    const char *ids[] = {"KEEP", "OLD", "110101198001020011"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(huren_index_reports_find(t.idx, ids[i], NULL, &l), 2);
        assert_string_equal(l.items[0].patient_id, "KEEP");
        assert_string_equal(l.items[1].obs[0].value, "old-0");
        huren_index_report_list_free(&l);
    }
    huren_index_visit_record vr;
    assert_int_equal(huren_index_visit_get(t.idx, "KEEP", "V-OLD", &vr), 0);
    assert_string_equal(vr.patient.patient_id, "KEEP");
    assert_string_equal(vr.patient.national_id, "110101198001020011"); /* carried over */
    huren_index_visit_record_free(&vr);
    /* a later message about the old id lands on the survivor */
    tlab_init(&a, "O3", "LFT", "F", "20240103", 1, "late");
    assert_int_equal(put(t.idx, "M3", &old, &a.r, 1, &out), 0);
    assert_int_equal(huren_index_reports_find(t.idx, "KEEP", NULL, &l), 3);
    huren_index_report_list_free(&l);
    /* merging an unknown patient */
    merge.message_id = "A40b";
    merge.merge_from_patient_id = "GHOST";
    assert_int_equal(huren_index_records_put(t.idx, &merge, &out), HUREN_INDEX_ENOTFOUND);
    /* the merge is remembered */
    sqlite3 *db;
    char path[300];
    snprintf(path, sizeof path, "%s/index.db", t.dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT from_patient_id || '>' || into_patient_id FROM"
                                        " patient_merges",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "OLD>KEEP");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tfix_close(&t);
}

static void visit_charges(void **state)
{
    (void)state;
    tfix t;
    huren_index_put_outcome out;
    huren_index_visit_record vr;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient p = patient("P5", "110101198001020011", "Zhao^Liu");
    huren_index_visit v = {"V5", "I", "心内科", "20240105", "20240110"};
    huren_index_diagnosis d[2] = {{"1", "I21.9", "急性心肌梗死", "ICD-10", "F", NULL},
                                  {"2", "E11.9", "2型糖尿病", "ICD-10", "F", NULL}};
    huren_index_charge c[3] = {
        {"T1", "110200001", "CT", "1", 12050, 1, 12050, "20240105", NULL},
        {"T2", "250101015", "血常规", "3", 1033, 1, 3099, "20240106", NULL},
        {NULL, "X", "材料", "0.5", 0, 0, 1, "20240107", NULL},
    };
    huren_index_records m = {.source = "HIS|H1",
                             .message_id = "D1",
                             .patient = &p,
                             .visit = &v,
                             .diagnoses = d,
                             .ndiagnoses = 2,
                             .charges = c,
                             .ncharges = 3};
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);
    /* a re-sent charge with its transaction id replaces; a diagnosis is not doubled */
    c[1].amount_fen = 3100;
    m.message_id = "D2";
    m.ncharges = 2;
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);
    assert_int_equal(huren_index_visit_get(t.idx, "110101198001020011", "V5", &vr), 0);
    assert_int_equal(vr.ndiagnoses, 2);
    assert_string_equal(vr.diagnoses[0].code, "I21.9");
    assert_string_equal(vr.diagnoses[1].description, "2型糖尿病");
    assert_int_equal(vr.ncharges, 3);
    assert_int_equal(vr.total_fen, 12050 + 3100 + 1);
    assert_string_equal(vr.charges[2].quantity, "0.5");
    assert_false(vr.charges[2].has_unit_price);
    assert_string_equal(vr.visit.department, "心内科");
    huren_index_visit_record_free(&vr);
    assert_int_equal(huren_index_visit_get(t.idx, "OTHER", "V5", &vr), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_visit_get(t.idx, "P5", "V6", &vr), HUREN_INDEX_ENOTFOUND);

    /* underwriting: the diagnoses of a period, across visits, by resident id */
    huren_index_visit v2 = {"V6", "O", "内分泌科", "20250301", NULL};
    huren_index_diagnosis d2[1] = {{"1", "E11.9", NULL, "ICD-10", "F", "20250302"}};
    huren_index_records m2 = {.source = "HIS|H1",
                              .message_id = "D3",
                              .patient = &p,
                              .visit = &v2,
                              .diagnoses = d2,
                              .ndiagnoses = 1};
    assert_int_equal(huren_index_records_put(t.idx, &m2, &out), 0);
    huren_index_diagnosis_list dl;
    assert_int_equal(
        huren_index_patient_diagnoses(t.idx, "110101198001020011", "20200101", "20260101", &dl), 3);
    assert_string_equal(dl.items[0].code, "I21.9");
    assert_string_equal(dl.items[0].day, "20240105"); /* the visit's admission */
    assert_string_equal(dl.items[2].day, "20250302"); /* its own time */
    assert_string_equal(dl.items[2].visit_number, "V6");
    huren_index_diagnosis_list_free(&dl);
    assert_int_equal(huren_index_patient_diagnoses(t.idx, "P5", "20250101", "20260101", &dl), 1);
    huren_index_diagnosis_list_free(&dl);
    assert_int_equal(huren_index_patient_diagnoses(t.idx, "OTHER", "20000101", "20990101", &dl), 0);
    huren_index_diagnosis_list_free(&dl);

    /* and its consent keeps the scope and the record period */
    huren_index_consent uc = {.patient_id = "P5",
                              .purpose = HUREN_INDEX_CONSENT_UNDERWRITING,
                              .grantee = "INS",
                              .valid_from = 10,
                              .expires_at = 20,
                              .form_ref = "F",
                              .created_by = "dr",
                              .scope = "diagnoses,labs",
                              .record_from = 1,
                              .record_to = 5};
    int64_t id = 0;
    huren_index_consent_list cl;
    assert_int_equal(huren_index_consent_put(t.idx, &uc, &id), 0);
    assert_int_equal(huren_index_consent_get(t.idx, id, &cl), 0);
    assert_int_equal(cl.items[0].purpose, HUREN_INDEX_CONSENT_UNDERWRITING);
    assert_string_equal(cl.items[0].scope, "diagnoses,labs");
    assert_int_equal(cl.items[0].record_to, 5);
    huren_index_consent_list_free(&cl);
    tfix_close(&t);
}

static void bad_records(void **state)
{
    (void)state;
    tfix t;
    tlab a;
    huren_index_put_outcome out;
    huren_index_report_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient p = patient("P6", NULL, NULL);
    tlab_init(&a, NULL, "CBC", "F", NULL, 1, "x"); /* no order number */
    assert_int_equal(put(t.idx, "B1", &p, &a.r, 1, &out), HUREN_INDEX_EINVAL);
    assert_non_null(strstr(huren_index_errmsg(t.idx), "order number"));
    tlab_init(&a, "O", "CBC", "F", NULL, 1, "x");
    assert_int_equal(put(t.idx, NULL, &p, &a.r, 1, &out), HUREN_INDEX_EINVAL);
    assert_int_equal(put(t.idx, "B2", NULL, &a.r, 1, &out), HUREN_INDEX_EINVAL);
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = 0;
    a.r.item_name = big;
    assert_int_equal(put(t.idx, "B3", &p, &a.r, 1, &out), HUREN_INDEX_EINVAL);
    a.r.item_name = NULL;
    a.o[0].value = big; /* long text values are fine */
    assert_int_equal(put(t.idx, "B4", &p, &a.r, 1, &out), 0);
    free(big);
    huren_index_records m = {.source = "X", .message_id = "B5", .patient = &p};
    huren_index_charge c = {.amount_fen = 1};
    m.charges = &c;
    m.ncharges = 1; /* a charge without a visit */
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), HUREN_INDEX_EINVAL);
    /* nothing of the refused messages was stored, and their ids stay free */
    assert_int_equal(huren_index_reports_find(t.idx, "P6", NULL, &l), 1);
    huren_index_report_list_free(&l);
    tlab_init(&a, "O2", "CBC", "F", NULL, 1, "x");
    assert_int_equal(put(t.idx, "B1", &p, &a.r, 1, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_STORED);
    tfix_close(&t);
}

/* A failing write in the middle of a message leaves nothing of it (savepoint). */
static void message_atomic(void **state)
{
    (void)state;
    tfix t;
    huren_index_put_outcome out;
    huren_index_report_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_rec_patient p = patient("P7", NULL, NULL);
    huren_index_visit v = {"V7", NULL, NULL, NULL, NULL};
    tlab a;
    tlab_init(&a, "O7", "CBC", "F", NULL, 1, "x");
    huren_index_records m = {.source = "S",
                             .message_id = "A1",
                             .patient = &p,
                             .visit = &v,
                             .reports = &a.r,
                             .nreports = 1,
                             .merge_from_patient_id = "GHOST"};
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_rec_patient_exists(t.idx, "P7", NULL, 0), 0);
    m.merge_from_patient_id = NULL;
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_STORED); /* the id was not taken by the failure */
    assert_int_equal(huren_index_reports_find(t.idx, "P7", NULL, &l), 1);
    assert_string_equal(l.items[0].visit_number, "V7");
    huren_index_report_list_free(&l);
    tfix_close(&t);
}

#define THREADS 8
#define PER_THREAD 50

typedef struct worker {
    huren_index *idx;
    int n;
    int failures;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char msgid[32], order[32], pid[32];
        tlab a;
        huren_index_put_outcome out;
        snprintf(msgid, sizeof msgid, "W%d-%d", w->n, i);
        snprintf(order, sizeof order, "O%d-%d", w->n, i);
        snprintf(pid, sizeof pid, "PW%d", w->n % 3);
        huren_index_rec_patient p = patient(pid, NULL, NULL);
        tlab_init(&a, order, "CBC", "F", NULL, 10, "w");
        if (put(w->idx, msgid, &p, &a.r, 1, &out) != 0 || out != HUREN_INDEX_PUT_STORED)
            w->failures++;
    }
    return NULL;
}

static void concurrent_group_commit(void **state)
{
    (void)state;
    tfix t;
    pthread_t th[THREADS];
    worker w[THREADS];
    huren_index_report_list l;
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){t.idx, i, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    int total = 0;
    for (int i = 0; i < 3; i++) {
        char pid[8];
        snprintf(pid, sizeof pid, "PW%d", i);
        int n = huren_index_reports_find(t.idx, pid, NULL, &l);
        assert_true(n > 0);
        assert_int_equal(l.items[0].nobs, 10);
        total += n;
        huren_index_report_list_free(&l);
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    /* the puts shared commits */
    assert_true(t.idx->commits < THREADS * PER_THREAD);
    tfix_close(&t);
}

const struct CMUnitTest records_tests[] = {
    cmocka_unit_test(store_and_dedup),
    cmocka_unit_test(correction_history),
    cmocka_unit_test(merge_patients),
    cmocka_unit_test(visit_charges),
    cmocka_unit_test(bad_records),
    cmocka_unit_test(message_atomic),
    cmocka_unit_test(concurrent_group_commit),
};
const size_t records_ntests = sizeof(records_tests) / sizeof(records_tests[0]);
