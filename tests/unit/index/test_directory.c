/* test_directory.c: the regional directory's store (versions, tombstones, refusals, lookups and
 * their plan) and the hospital side's outbox (rows written with the study or report they
 * announce, new versions only when the description changes, superseded rows, pseudonym changes,
 * acknowledgement and deferral, a failing hook failing the put), the scan in key order, and
 * migration 7. */
#include "../dir_entry_fixture.h"
#include "test_index.h"
#include "huren_err.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P1 "1111111111111111111111111111111111111111111111111111111111111111"
#define P2 "2222222222222222222222222222222222222222222222222222222222222222"

static void put1(huren_index *idx, const huren_index_dir_entry *e, huren_index_dir_outcome want)
{
    huren_index_dir_result r;
    assert_int_equal(huren_index_dir_put(idx, e, 1, &r), 0);
    if (r.outcome != want)
        fail_msg("%s v%lld: outcome %d, want %d (%s)", e->record_key, (long long)e->version,
                 r.outcome, want, r.reason);
}

static void dir_versions(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_dir_entry e = dir_fixture_entry(P1, "H37010002", "report:7", 2, "CBC", "20240105");
    put1(t.idx, &e, HUREN_INDEX_DIR_STORED);
    put1(t.idx, &e, HUREN_INDEX_DIR_IGNORED); /* replayed: idempotent */
    e.version = 1;
    e.item_code = "OLD";
    huren_index_dir_result r;
    assert_int_equal(huren_index_dir_put(t.idx, &e, 1, &r), 0);
    assert_int_equal(r.outcome, HUREN_INDEX_DIR_IGNORED);
    assert_int_equal(r.held_version, 2);
    e.version = 3;
    e.item_code = "CBC2";
    put1(t.idx, &e, HUREN_INDEX_DIR_REPLACED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 1);
    assert_string_equal(l.items[0].item_code, "CBC2");
    assert_int_equal(l.items[0].version, 3);
    assert_string_equal(l.items[0].institution, "H37010002");
    assert_string_equal(l.items[0].hr_scope, "province");
    assert_int_equal(l.items[0].hr, 1);
    assert_int_equal(strlen(l.items[0].received_at), 14);
    huren_index_dir_list_free(&l);

    /* the same record key at another institution is another record */
    huren_index_dir_entry o = dir_fixture_entry(P1, "H37010003", "report:7", 1, "CBC", "20240101");
    put1(t.idx, &o, HUREN_INDEX_DIR_STORED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 2);
    huren_index_dir_list_free(&l);

    /* a deletion propagates and leaves a tombstone that an older version cannot undo */
    huren_index_dir_entry d = {.pseudonym = P1,
                               .institution = "H37010002",
                               .record_key = "report:7",
                               .version = 4,
                               .deleted = 1};
    put1(t.idx, &d, HUREN_INDEX_DIR_REPLACED);
    put1(t.idx, &e, HUREN_INDEX_DIR_IGNORED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 1);
    assert_string_equal(l.items[0].institution, "H37010003");
    huren_index_dir_list_free(&l);
    huren_index_dir_filter all = {.include_deleted = 1};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &all, &l), 2);
    huren_index_dir_list_free(&l);
    tfix_close(&t);
}

/* Every entry in key order, a batch at a time after the last one seen, tombstones too. */
static void dir_scan(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_list l;
    int64_t total = -1;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_dir_scan(t.idx, NULL, 2, &l, &total), 0);
    assert_int_equal(total, 0);
    huren_index_dir_list_free(&l);
    huren_index_dir_entry e[5] = {
        dir_fixture_entry(P2, "H1", "report:1", 1, "CBC", "20240105"),
        dir_fixture_entry(P1, "H2", "report:1", 3, "CBC", "20240105"),
        dir_fixture_entry(P1, "H1", "study:9", 1, "CT", "20240105"),
        dir_fixture_entry(P1, "H1", "report:2", 1, "CBC", NULL),
        dir_fixture_entry(P2, "H0", "report:1", 1, "CBC", "20240105"),
    };
    e[4].deleted = 1;
    huren_index_dir_result r[5];
    assert_int_equal(huren_index_dir_put(t.idx, e, 5, r), 0);
    const char *want[] = {P1 "H1report:2", P1 "H1study:9", P1 "H2report:1", P2 "H0report:1",
                          P2 "H1report:1"};
    huren_index_dir_entry after = {0};
    char pk[3][80];
    int seen = 0;
    for (int batch = 0;; batch++) {
        int n = huren_index_dir_scan(t.idx, batch ? &after : NULL, 2, &l, &total);
        assert_true(n >= 0);
        assert_int_equal(total, 5);
        if (n == 0) {
            huren_index_dir_list_free(&l); /* an empty list holds its arena too */
            break;
        }
        for (int i = 0; i < n; i++, seen++) {
            char key[200];
            snprintf(key, sizeof key, "%s%s%s", l.items[i].pseudonym, l.items[i].institution,
                     l.items[i].record_key);
            assert_string_equal(key, want[seen]);
        }
        assert_int_equal(l.items[0].images + l.items[0].report, 0); /* one of each set */
        snprintf(pk[0], sizeof pk[0], "%s", l.items[n - 1].pseudonym);
        snprintf(pk[1], sizeof pk[1], "%s", l.items[n - 1].institution);
        snprintf(pk[2], sizeof pk[2], "%s", l.items[n - 1].record_key);
        after.pseudonym = pk[0];
        after.institution = pk[1];
        after.record_key = pk[2];
        if (seen == 4)
            assert_int_equal(l.items[n - 1].deleted, 1);
        huren_index_dir_list_free(&l);
    }
    assert_int_equal(seen, 5);
    assert_int_equal(huren_index_dir_scan(t.idx, NULL, 0, &l, NULL), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

static void dir_refusals(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_list l;
    huren_index_dir_result r[12];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_dir_entry e[12];
    for (int i = 0; i < 12; i++)
        e[i] = dir_fixture_entry(P1, "H1", "k", 1, "CBC", "20240105");
    e[0].pseudonym = "ABCDEF1111111111111111111111111111111111111111111111111111111111";
    e[1].pseudonym = "111";
    e[2].pseudonym = NULL;
    e[3].institution = NULL;
    e[4].record_key = "has space";
    e[5].version = 0;
    e[6].kind = "pathology";
    e[7].date = "2024-01-05";
    e[8].hr_scope = "world";
    e[9].source_url = "ftp://x";
    e[10].item_name = "tab\there";
    e[11].record_key = "good"; /* the one valid entry of the batch */
    assert_int_equal(huren_index_dir_put(t.idx, e, 12, r), 0);
    const char *want[] = {"pseudonym",  "pseudonym",  "pseudonym", "institution",
                          "record_key", "version",    "kind",      "date",
                          "hr_scope",   "source_url", "item_name"};
    for (int i = 0; i < 11; i++) {
        assert_int_equal(r[i].outcome, HUREN_INDEX_DIR_REFUSED);
        if (strncmp(r[i].reason, want[i], strlen(want[i])) != 0)
            fail_msg("entry %d: reason \"%s\", want %s", i, r[i].reason, want[i]);
    }
    assert_int_equal(r[11].outcome, HUREN_INDEX_DIR_STORED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 1);
    assert_string_equal(l.items[0].record_key, "good");
    huren_index_dir_list_free(&l);
    /* a bounded batch; a malformed lookup */
    assert_int_equal(huren_index_dir_put(t.idx, e, HUREN_INDEX_DIR_BATCH_MAX + 1, r),
                     HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_dir_find(t.idx, "P1", NULL, &l), HUREN_INDEX_EINVAL);
    huren_index_dir_filter f = {.since = "2024"};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &f, &l), HUREN_INDEX_EINVAL);
    f = (huren_index_dir_filter){.kind = "x"};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &f, &l), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

/* The exported checks are the ones put and find apply (other stores of the directory use them). */
static void dir_checks(void **state)
{
    (void)state;
    char why[HUREN_INDEX_DIR_REASON_MAX] = "";
    huren_index_dir_entry e = dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105");
    assert_int_equal(huren_index_dir_entry_check(&e, why), 0);
    e.version = 0;
    assert_int_equal(huren_index_dir_entry_check(&e, why), HUREN_INDEX_EINVAL);
    assert_string_equal(why, "version: must be a whole number >= 1");
    e = dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105");
    e.deleted = 1;
    e.kind = NULL; /* a tombstone needs no kind */
    assert_int_equal(huren_index_dir_entry_check(&e, NULL), 0);
    assert_int_equal(huren_index_dir_entry_check(NULL, why), HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_dir_filter_check(P1, NULL, why), 0);
    huren_index_dir_filter f = {.since = "2024"};
    assert_int_equal(huren_index_dir_filter_check(P1, &f, why), HUREN_INDEX_EINVAL);
    assert_string_equal(why, "since: not YYYYMMDD");
    assert_int_equal(huren_index_dir_filter_check("P1", NULL, why), HUREN_INDEX_EINVAL);
    assert_true(strncmp(why, "pseudonym", 9) == 0);
}

/* An exam's entry says whether it has images and a report; without, the record key says. */
static void dir_exam_parts(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_dir_entry e = dir_fixture_entry(P1, "H1", "study:1.2", 1, "CT-CHEST", "20240105");
    e.kind = "imaging";
    e.images = 1;
    e.report = 1;
    e.report_key = "report:17";
    put1(t.idx, &e, HUREN_INDEX_DIR_STORED);
    huren_index_dir_entry old = dir_fixture_entry(P1, "H1", "report:9", 1, "CBC", "20240104");
    put1(t.idx, &old, HUREN_INDEX_DIR_STORED);
    huren_index_dir_entry bad = dir_fixture_entry(P1, "H1", "study:3", 1, "CT", "20240104");
    bad.report_key = "study:3";
    put1(t.idx, &bad, HUREN_INDEX_DIR_REFUSED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 2);
    assert_string_equal(l.items[0].record_key, "study:1.2");
    assert_int_equal(l.items[0].images, 1);
    assert_int_equal(l.items[0].report, 1);
    assert_string_equal(l.items[0].report_key, "report:17");
    assert_int_equal(l.items[1].images, -1);
    assert_int_equal(l.items[1].report, 1);
    assert_null(l.items[1].report_key);
    huren_index_dir_list_free(&l);
    /* the exam's next version without its report (cancelled): report false */
    e.version = 2;
    e.report = -1;
    e.report_key = NULL;
    put1(t.idx, &e, HUREN_INDEX_DIR_REPLACED);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 2);
    assert_int_equal(l.items[0].report, -1);
    assert_int_equal(l.items[0].images, 1);
    huren_index_dir_list_free(&l);
    tfix_close(&t);
}

/* The same root under two pseudonyms flags both entries, once each; the same root under one
 * pseudonym (a re-publish, another study of the same patient) flags nothing; a bad root is
 * refused; lookups carry the root. */
static void dir_same_pixels(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_flag_list fl;
    huren_index_dir_list l;
    const char *root = "abababababababababababababababababababababababababababababababab";
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_dir_entry a = dir_fixture_entry(P1, "H1", "study:1.2", 1, "CT", "20240105");
    a.kind = "imaging";
    a.pixel_root = root;
    a.pixel_count = 2;
    put1(t.idx, &a, HUREN_INDEX_DIR_STORED);
    huren_index_dir_entry a2 = a;
    a2.record_key = "study:1.3";
    put1(t.idx, &a2, HUREN_INDEX_DIR_STORED);
    assert_int_equal(huren_index_dir_flags_list(t.idx, 0, 0, &fl), 0);
    huren_index_dir_flag_list_free(&fl);
    huren_index_dir_entry b = dir_fixture_entry(P2, "H2", "study:9.9", 1, "CT", "20240106");
    b.kind = "imaging";
    b.pixel_root = root;
    b.pixel_count = 2;
    put1(t.idx, &b, HUREN_INDEX_DIR_STORED);
    b.version = 2;
    put1(t.idx, &b, HUREN_INDEX_DIR_REPLACED);
    assert_int_equal(huren_index_dir_flags_list(t.idx, 0, 0, &fl), 3);
    int h1 = 0, h2 = 0;
    for (size_t i = 0; i < fl.n; i++) {
        assert_string_equal(fl.items[i].kind, "same_pixels");
        assert_string_equal(fl.items[i].pixel_root, root);
        assert_int_equal(strlen(fl.items[i].flagged_at), 14);
        h1 += !strcmp(fl.items[i].institution, "H1");
        h2 +=
            !strcmp(fl.items[i].institution, "H2") && !strcmp(fl.items[i].record_key, "study:9.9");
    }
    assert_int_equal(h1, 2);
    assert_int_equal(h2, 1);
    int64_t last = fl.items[1].id;
    huren_index_dir_flag_list_free(&fl);
    assert_int_equal(huren_index_dir_flags_list(t.idx, last, 0, &fl), 1);
    huren_index_dir_flag_list_free(&fl);
    assert_int_equal(huren_index_dir_find(t.idx, P2, NULL, &l), 1);
    assert_string_equal(l.items[0].pixel_root, root);
    assert_int_equal(l.items[0].pixel_count, 2);
    huren_index_dir_list_free(&l);
    huren_index_dir_entry bad = dir_fixture_entry(P2, "H2", "study:8", 1, "CT", "20240106");
    bad.kind = "imaging";
    bad.pixel_root = "ABAB";
    bad.pixel_count = 1;
    put1(t.idx, &bad, HUREN_INDEX_DIR_REFUSED);
    tfix_close(&t);
}

static void dir_lookup(void **state)
{
    (void)state;
    tfix t;
    huren_index_dir_list l;
    huren_index_dir_result r[5];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_dir_entry e[5] = {dir_fixture_entry(P1, "H1", "a", 1, "CBC", "20240101"),
                                  dir_fixture_entry(P1, "H1", "b", 1, "LFT", "20240301"),
                                  dir_fixture_entry(P1, "H2", "c", 1, "CT-CHEST", "20240201"),
                                  dir_fixture_entry(P2, "H1", "d", 1, "CBC", "20240401"),
                                  dir_fixture_entry(P1, "H2", "e", 1, "CBC", "20231201")};
    e[2].kind = "imaging";
    e[2].modality = "CT";
    assert_int_equal(huren_index_dir_put(t.idx, e, 5, r), 0);
    assert_int_equal(huren_index_dir_find(t.idx, P1, NULL, &l), 4);
    /* newest first */
    assert_string_equal(l.items[0].record_key, "b");
    assert_string_equal(l.items[1].record_key, "c");
    assert_string_equal(l.items[2].record_key, "a");
    assert_string_equal(l.items[3].record_key, "e");
    assert_false(l.truncated);
    huren_index_dir_list_free(&l);
    huren_index_dir_filter f = {.kind = "lab", .item_code = "CBC", .since = "20240101"};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &f, &l), 1);
    assert_string_equal(l.items[0].record_key, "a");
    huren_index_dir_list_free(&l);
    f = (huren_index_dir_filter){.kind = "imaging"};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &f, &l), 1);
    assert_string_equal(l.items[0].modality, "CT");
    huren_index_dir_list_free(&l);
    f = (huren_index_dir_filter){.limit = 2};
    assert_int_equal(huren_index_dir_find(t.idx, P1, &f, &l), 2);
    assert_true(l.truncated);
    huren_index_dir_list_free(&l);
    assert_int_equal(huren_index_dir_find(t.idx,
                                          "3333333333333333333333333333333333333333333333"
                                          "333333333333333333",
                                          NULL, &l),
                     0);
    huren_index_dir_list_free(&l);

    /* the lookup reads one pseudonym's range of the primary key */
    char path[PATH_MAX], plan[1024] = "";
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    snprintf(path, sizeof(path), "%s/index.db", t.dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[2048];
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", huren_index__dir_find_sql());
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        strncat(plan, (const char *)sqlite3_column_text(s, 3), sizeof(plan) - strlen(plan) - 3);
        strcat(plan, " | ");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (!strstr(plan, "SEARCH dir_entries USING PRIMARY KEY (pseudonym=?)"))
        fail_msg("plan: %s", plan);
    tfix_close(&t);
}

/* Concurrent batches share commits and each gets its own results. */
typedef struct tput {
    huren_index *idx;
    int id;
    int stored;
} tput;

static void *put_thread(void *arg)
{
    tput *t = arg;
    huren_index_dir_entry e[50];
    huren_index_dir_result r[50];
    char keys[50][32];
    for (int b = 0; b < 20; b++) {
        for (int i = 0; i < 50; i++) {
            snprintf(keys[i], sizeof(keys[i]), "report:%d-%d-%d", t->id, b, i);
            e[i] = dir_fixture_entry(P2, "H1", keys[i], 1, "CBC", "20240105");
        }
        if (huren_index_dir_put(t->idx, e, 50, r) != 0)
            return NULL;
        for (int i = 0; i < 50; i++)
            t->stored += r[i].outcome == HUREN_INDEX_DIR_STORED;
    }
    return NULL;
}

static void dir_concurrent(void **state)
{
    (void)state;
    tfix t;
    pthread_t th[4];
    tput arg[4];
    huren_index_dir_list l;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    for (int i = 0; i < 4; i++) {
        arg[i] = (tput){t.idx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, put_thread, &arg[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(arg[i].stored, 1000);
    }
    huren_index_dir_filter f = {.limit = 1000};
    assert_int_equal(huren_index_dir_find(t.idx, P2, &f, &l), 1000);
    assert_true(l.truncated);
    huren_index_dir_list_free(&l);
    tfix_close(&t);
}

/* ---- the outbox ---- */

static char hook_pseudonym[65] = P1;
static int hook_fail, hook_calls;

static int hook(const huren_index_publish_event *ev, char pseudonym[65], char **entry,
                void *payload)
{
    (void)payload;
    hook_calls++;
    if (hook_fail)
        return -1;
    char buf[512];
    if (ev->kind == HUREN_INDEX_PUBLISH_STUDY) {
        if (!ev->study->other_patient_ids && !ev->national_id)
            return 0; /* not publishable: pseudonym stays "" */
        snprintf(buf, sizeof(buf), "study %s %s %s%s%s%s", ev->study->modalities,
                 ev->study->body_parts ? ev->study->body_parts : "-",
                 ev->national_id ? ev->national_id : "-", ev->report_key ? " +" : "",
                 ev->report_key ? ev->report_key : "",
                 ev->report && ev->report->result_status ? ev->report->result_status : "");
    } else {
        snprintf(buf, sizeof(buf), "report %s %s v%d nid=%s", ev->report->item_code,
                 ev->report->result_status ? ev->report->result_status : "-", ev->report->version,
                 ev->national_id ? ev->national_id : "-");
    }
    memcpy(pseudonym, hook_pseudonym, 65);
    *entry = strdup(buf);
    return 0;
}

static int outbox_list(huren_index *idx, huren_index_outbox_batch *b)
{
    int n = huren_index_outbox_fetch(idx, INT64_MAX / 2, 100, b);
    assert_true(n >= 0);
    return n;
}

static void outbox_study(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    huren_index_outbox_batch b;
    huren_index_outbox_stats st;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_publish_set(t.idx, hook, NULL);
    memcpy(hook_pseudonym, P1, 65);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.1", "1.2.3.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    in.v[HUREN_INDEX_F_OTHER_PATIENT_IDS] = "110105194912310029";
    in.v[HUREN_INDEX_F_BODY_PART] = "CHEST";
    put_ok(t.idx, &in, "a");
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "study:1.2.3");
    assert_int_equal(b.items[0].version, 1);
    assert_string_equal(b.items[0].pseudonym, P1);
    assert_string_equal(b.items[0].entry, "study CT CHEST -");
    huren_index_outbox_batch_free(&b);
    /* another instance that changes nothing the directory sees: no new version */
    in.v[HUREN_INDEX_F_SOP_INSTANCE_UID] = "1.2.3.1.2";
    put_ok(t.idx, &in, "b");
    assert_int_equal(outbox_list(t.idx, &b), 1);
    huren_index_outbox_batch_free(&b);
    /* a new series with another modality: version 2 supersedes the unsent version 1 */
    in.v[HUREN_INDEX_F_SERIES_UID] = "1.2.3.2";
    in.v[HUREN_INDEX_F_SOP_INSTANCE_UID] = "1.2.3.2.1";
    in.v[HUREN_INDEX_F_MODALITY] = "SR";
    put_ok(t.idx, &in, "c");
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_int_equal(b.items[0].version, 2);
    assert_string_equal(b.items[0].entry, "study CT\\SR CHEST -");
    int64_t id = b.items[0].id;
    huren_index_outbox_batch_free(&b);
    /* deferred: hidden until its time, counted; acknowledged: gone */
    assert_int_equal(huren_index_outbox_defer(t.idx, &id, 1, 2000000000, "directory down"), 0);
    assert_int_equal(huren_index_outbox_fetch(t.idx, 1999999999, 10, &b), 0);
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_fetch(t.idx, 2000000000, 10, &b), 1);
    assert_int_equal(b.items[0].attempts, 1);
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_stats_get(t.idx, &st), 0);
    assert_int_equal(st.backlog, 1);
    assert_int_equal(st.deferred, 1);
    assert_true(st.oldest_created > 0);
    assert_int_equal(huren_index_outbox_ack(t.idx, &id, 1), 0);
    assert_int_equal(huren_index_outbox_ack(t.idx, &id, 1), 0); /* again: harmless */
    assert_int_equal(huren_index_outbox_stats_get(t.idx, &st), 0);
    assert_int_equal(st.backlog, 0);

    /* a study without any national id is not published, and counted */
    tinst_init(&in, "P9", "9.9", "9.9.1", "9.9.1.1", "MR", "1.2.840.10008.5.1.4.1.1.4");
    put_ok(t.idx, &in, "d");
    assert_int_equal(outbox_list(t.idx, &b), 0);
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_stats_get(t.idx, &st), 0);
    assert_int_equal(st.unpublishable, 1);

    /* persists across a reopen (with the hook installed again) */
    tfix_reopen(&t);
    huren_index_publish_set(t.idx, hook, NULL);
    assert_int_equal(huren_index_outbox_stats_get(t.idx, &st), 0);
    assert_int_equal(st.unpublishable, 1);
    tfix_close(&t);
}

static int put_report(huren_index *idx, const char *msgid, const char *national, const char *status,
                      const char *pid)
{
    huren_index_rec_patient p = {pid, national, national ? "ID" : NULL, "张三", "F", "19800102"};
    huren_index_report r = {.kind = HUREN_INDEX_REPORT_LAB,
                            .placer_number = "ORD1",
                            .item_code = "CBC",
                            .item_name = "血常规",
                            .result_status = status,
                            .observed_time = "20240105"};
    huren_index_records m = {.source = "LIS|H1",
                             .message_id = msgid,
                             .message_type = "ORU^R01",
                             .patient = &p,
                             .reports = &r,
                             .nreports = 1};
    huren_index_put_outcome out;
    return huren_index_records_put(idx, &m, &out);
}

static void outbox_reports(void **state)
{
    (void)state;
    tfix t;
    huren_index_outbox_batch b;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_publish_set(t.idx, hook, NULL);
    memcpy(hook_pseudonym, P1, 65);
    assert_int_equal(put_report(t.idx, "m1", "110105194912310029", "F", "L1"), 0);
    assert_int_equal(put_report(t.idx, "m1", "110105194912310029", "F", "L1"), 0); /* dup */
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "report:1");
    assert_string_equal(b.items[0].entry, "report CBC F v1 nid=110105194912310029");
    huren_index_outbox_batch_free(&b);
    /* a correction: version 2, the unsent version 1 superseded */
    assert_int_equal(put_report(t.idx, "m2", NULL, "C", "L1"), 0);
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_int_equal(b.items[0].version, 2);
    assert_string_equal(b.items[0].entry, "report CBC C v2 nid=110105194912310029");
    int64_t id = b.items[0].id;
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_ack(t.idx, &id, 1), 0);

    /* the patient's identity changes (another pseudonym): a deletion under the old one and the
     * entry under the new one, same version */
    memcpy(hook_pseudonym, P2, 65);
    huren_index_rec_patient p = {"L1", "11010519491231002X", "ID", NULL, NULL, NULL};
    huren_index_records adt = {
        .source = "HIS|H1", .message_id = "a1", .message_type = "ADT^A08", .patient = &p};
    huren_index_put_outcome out;
    assert_int_equal(huren_index_records_put(t.idx, &adt, &out), 0);
    assert_int_equal(outbox_list(t.idx, &b), 2);
    assert_string_equal(b.items[0].pseudonym, P1);
    assert_true(b.items[0].deleted);
    assert_null(b.items[0].entry);
    assert_int_equal(b.items[0].version, 3);
    assert_string_equal(b.items[1].pseudonym, P2);
    assert_false(b.items[1].deleted);
    assert_int_equal(b.items[1].version, 3);
    huren_index_outbox_batch_free(&b);
    tfix_close(&t);
}

/* One exam, one entry: an exam report and the study with its accession number are described
 * together under the study's key, whichever arrives first; the report's own entry goes. */
static int put_exam_report(huren_index *idx, const char *msgid, const char *status)
{
    huren_index_rec_patient p = {"L1", "110105194912310029", "ID", "张三", "F", "19800102"};
    huren_index_report r = {.kind = HUREN_INDEX_REPORT_EXAM,
                            .placer_number = "ORD7",
                            .accession_number = "ACC7",
                            .item_code = "CT-CHEST",
                            .item_name = "胸部CT",
                            .result_status = status,
                            .observed_time = "20240105"};
    huren_index_records m = {.source = "RIS|H1",
                             .message_id = msgid,
                             .message_type = "ORU^R01",
                             .patient = &p,
                             .reports = &r,
                             .nreports = 1};
    huren_index_put_outcome out;
    return huren_index_records_put(idx, &m, &out);
}

static void outbox_exam(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    huren_index_outbox_batch b;
    huren_index_outbox_stats st;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_publish_set(t.idx, hook, NULL);
    memcpy(hook_pseudonym, P1, 65);
    /* the report first: published on its own */
    assert_int_equal(put_exam_report(t.idx, "r1", "F"), 0);
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "report:1");
    int64_t id = b.items[0].id;
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_ack(t.idx, &id, 1), 0);
    /* then its study: one entry with both, and the report's own entry withdrawn */
    tinst_init(&in, "L1", "7.7", "7.7.1", "7.7.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    in.v[HUREN_INDEX_F_OTHER_PATIENT_IDS] = "110105194912310029";
    in.v[HUREN_INDEX_F_ACCESSION_NUMBER] = "ACC7";
    put_ok(t.idx, &in, "a");
    assert_int_equal(outbox_list(t.idx, &b), 2);
    assert_string_equal(b.items[0].record_key, "study:7.7");
    assert_string_equal(b.items[0].entry, "study CT - 110105194912310029 +report:1F");
    assert_string_equal(b.items[1].record_key, "report:1");
    assert_true(b.items[1].deleted);
    assert_int_equal(b.items[1].version, 2);
    int64_t ids[2] = {b.items[0].id, b.items[1].id};
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_ack(t.idx, ids, 2), 0);
    /* a correction of the report is a new version of the study's entry, nothing else */
    assert_int_equal(put_exam_report(t.idx, "r2", "C"), 0);
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "study:7.7");
    assert_int_equal(b.items[0].version, 2);
    assert_string_equal(b.items[0].entry, "study CT - 110105194912310029 +report:1C");
    id = b.items[0].id;
    huren_index_outbox_batch_free(&b);
    assert_int_equal(huren_index_outbox_ack(t.idx, &id, 1), 0);
    /* a study first, then its report: the study's entry takes it, the report never goes alone */
    tinst_init(&in, "L1", "8.8", "8.8.1", "8.8.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    in.v[HUREN_INDEX_F_OTHER_PATIENT_IDS] = "110105194912310029";
    in.v[HUREN_INDEX_F_ACCESSION_NUMBER] = "ACC8";
    put_ok(t.idx, &in, "b");
    huren_index_rec_patient p = {"L1", "110105194912310029", "ID", NULL, NULL, NULL};
    huren_index_report r = {.kind = HUREN_INDEX_REPORT_EXAM,
                            .placer_number = "ORD8",
                            .accession_number = "ACC8",
                            .item_code = "CT-CHEST",
                            .result_status = "F",
                            .observed_time = "20240106"};
    huren_index_records m = {.source = "RIS|H1",
                             .message_id = "r3",
                             .message_type = "ORU^R01",
                             .patient = &p,
                             .reports = &r,
                             .nreports = 1};
    huren_index_put_outcome out;
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "study:8.8");
    assert_int_equal(b.items[0].version, 2);
    assert_string_equal(b.items[0].entry, "study CT - 110105194912310029 +report:2F");
    /* the version in flight superseded by a newer one (its report corrected): acknowledging
     * the old id (the sender's answer arriving late) must not remove the new row, whose id is
     * never the old one's */
    int64_t inflight = b.items[0].id;
    huren_index_outbox_batch_free(&b);
    r.result_status = "C";
    m.message_id = "r5";
    assert_int_equal(huren_index_records_put(t.idx, &m, &out), 0);
    assert_int_equal(huren_index_outbox_ack(t.idx, &inflight, 1), 0);
    assert_int_equal(outbox_list(t.idx, &b), 1);
    assert_string_equal(b.items[0].record_key, "study:8.8");
    assert_true(b.items[0].id != inflight);
    assert_int_equal(b.items[0].version, 3);
    assert_string_equal(b.items[0].entry, "study CT - 110105194912310029 +report:2C");
    huren_index_outbox_batch_free(&b);
    /* merged reports are not counted as unpublishable */
    assert_int_equal(huren_index_outbox_stats_get(t.idx, &st), 0);
    assert_int_equal(st.unpublishable, 0);
    tfix_close(&t);
}

static void outbox_hook_failure(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char path[PATH_MAX];
    huren_index_outbox_batch b;
    huren_index_put_outcome out;
    int rc;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_publish_set(t.idx, hook, NULL);
    hook_fail = 1;
    tinst_init(&in, "P1", "1.2.3", "1.2.3.1", "1.2.3.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    in.v[HUREN_INDEX_F_OTHER_PATIENT_IDS] = "110105194912310029";
    tmp_write(t.idx, "x", path, sizeof(path));
    assert_int_not_equal(huren_index_instance_put(t.idx, in.v, path, &out), 0);
    assert_non_null(strstr(huren_index_errmsg(t.idx), "publish hook"));
    assert_int_not_equal(put_report(t.idx, "m1", "110105194912310029", "F", "L1"), 0);
    hook_fail = 0;
    /* nothing of either put was stored */
    huren_index_match m = {HUREN_INDEX_F_STUDY_UID, "1.2.3"};
    char *list = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_STUDY_UID, &rc);
    assert_string_equal(list, "");
    free(list);
    assert_int_equal(huren_index_rec_patient_exists(t.idx, "L1", NULL, 0), 0);
    assert_int_equal(outbox_list(t.idx, &b), 0);
    huren_index_outbox_batch_free(&b);
    /* and it works again once the hook does */
    put_ok(t.idx, &in, "x");
    assert_int_equal(outbox_list(t.idx, &b), 1);
    huren_index_outbox_batch_free(&b);
    tfix_close(&t);
}

static void migrate_directory(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    char err[HUREN_ERRLEN] = "";
    int v = -1;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, 5, &v, err, sizeof(err)), 0);
    assert_int_equal(
        sqlite3_exec(db, "INSERT INTO patients(patient_id) VALUES ('P')", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, 0, &v, err, sizeof(err)), 0);
    assert_int_equal(v, huren_index__schema_latest());
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM patients),"
                                        " (SELECT count(*) FROM sqlite_master WHERE name IN"
                                        " ('dir_entries','outbox','publish_state'))",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    assert_int_equal(sqlite3_column_int(s, 1), 3);
    sqlite3_finalize(s);
    /* every unique key of the directory starts with the pseudonym */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM pragma_index_list('dir_entries') l"
                                        " WHERE l.[unique] AND (SELECT name FROM"
                                        " pragma_index_info(l.name) WHERE seqno=0)<>'pseudonym'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

const struct CMUnitTest directory_tests[] = {
    cmocka_unit_test(dir_versions),        cmocka_unit_test(dir_refusals),
    cmocka_unit_test(dir_lookup),          cmocka_unit_test(dir_concurrent),
    cmocka_unit_test(outbox_study),        cmocka_unit_test(outbox_reports),
    cmocka_unit_test(outbox_exam),         cmocka_unit_test(dir_exam_parts),
    cmocka_unit_test(outbox_hook_failure), cmocka_unit_test(migrate_directory),
    cmocka_unit_test(dir_checks),          cmocka_unit_test(dir_scan),
    cmocka_unit_test(dir_same_pixels),
};
const size_t directory_ntests = sizeof(directory_tests) / sizeof(directory_tests[0]);
