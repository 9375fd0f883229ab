/* test_datacare.c: data care in the archive: an index made at each earlier schema version opens
 * (migrating to the latest) with its rows intact and takes new puts; a study's deletion (rows,
 * totals, pack garbage, own files, codes); compaction (garbage gone, every remaining instance's
 * bytes unchanged); an online backup that opens as an archive. */
#include "test_index.h"
#include "huren_err.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CT "1.2.840.10008.5.1.4.1.1.2"

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

/* An index.db at schema version v with one patient, study, series and instance, written with
 * the columns of step 1 (and the totals row from step 3 on). */
static void make_old(const char *dir, int v)
{
    char path[PATH_MAX], err[HUREN_ERRLEN] = "";
    sqlite3 *db = NULL;
    int got = 0;
    snprintf(path, sizeof path, "%s/index.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, v, &got, err, sizeof err), 0);
    assert_int_equal(got, v);
    exec_ok(db,
            "INSERT INTO patients(pk, patient_id, patient_name, patient_num_studies,"
            " patient_num_series, patient_num_instances) VALUES (1, 'OLD1', 'Old^One', 1, 1, 1);"
            "INSERT INTO studies(pk, patient_pk, study_uid, study_date, modalities_in_study,"
            " sop_classes_in_study, study_num_series, study_num_instances)"
            " VALUES (1, 1, '1.9.1', '20200101', 'CT', '" CT "', 1, 1);"
            "INSERT INTO series(pk, study_pk, series_uid, modality, series_num_instances)"
            " VALUES (1, 1, '1.9.1.1', 'CT', 1);"
            "INSERT INTO instances(pk, series_pk, sop_instance_uid, sop_class_uid, blob_name,"
            " blob_size) VALUES (1, 1, '1.9.1.1.1', '" CT "', 'old-blob', 7);");
    if (v >= 2)
        exec_ok(db, "INSERT INTO study_sop_classes VALUES (1, '" CT "', 1)");
    if (v >= 3)
        exec_ok(db, "UPDATE totals SET patients=1, studies=1, series=1, instances=1, bytes=7");
    sqlite3_close(db);
}

static void upgrade_from_each_version(void **state)
{
    (void)state;
    for (int v = 1; v < huren_index__schema_latest(); v++) {
        tfix t = {0};
        char err[HUREN_ERRLEN] = "";
        snprintf(t.dir, sizeof t.dir, "%s/huren-upgrade-XXXXXX", P_tmpdir);
        assert_non_null(mkdtemp(t.dir));
        make_old(t.dir, v);
        huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
        o.data_dir = t.dir;
        o.fsync = 0;
        if (huren_index_open(&t.idx, &o, err, sizeof err) != 0)
            fail_msg("opening an index of schema %d: %s", v, err);
        assert_int_equal(huren_index_schema_version(t.idx), huren_index__schema_latest());
        int rc = 0;
        char *l = find_list(t.idx, HUREN_INDEX_LEVEL_INSTANCE, NULL, 0,
                            HUREN_INDEX_F_SOP_INSTANCE_UID, &rc);
        assert_non_null(l);
        assert_string_equal(l, "1.9.1.1.1");
        free(l);
        l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NAME, &rc);
        assert_string_equal(l, "Old^One");
        free(l);
        tinst in;
        tinst_init(&in, "NEW1", "1.9.2", "1.9.2.1", "1.9.2.1.1", "CT", CT);
        assert_int_equal(put_ok(t.idx, &in, "new dicom"), HUREN_INDEX_PUT_STORED);
        assert_totals_consistent(&t);
        tfix_close(&t);
    }
}

/* The bytes of one instance as a reader finds them (blob_path, offset, size). */
typedef struct got {
    char data[64];
    int n;
} got;

static int read_row(void *p, const huren_index_row *r)
{
    got *g = p;
    int fd = open(r->blob_path, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(r->blob_size < (int64_t)sizeof g->data);
    g->n = (int)pread(fd, g->data, (size_t)r->blob_size, (off_t)r->blob_offset);
    g->data[g->n > 0 ? g->n : 0] = 0;
    close(fd);
    return 0;
}

static void content_is(huren_index *idx, const char *sop, const char *want)
{
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, sop};
    huren_index_query q = {.level = HUREN_INDEX_LEVEL_INSTANCE, .matches = &m, .nmatches = 1};
    got g = {{0}, 0};
    assert_int_equal(huren_index_find(idx, &q, read_row, &g), 1);
    assert_string_equal(g.data, want);
}

static void open_with(tfix *t, int64_t pack_max_instance)
{
    char err[HUREN_ERRLEN] = "";
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    snprintf(t->dir, sizeof t->dir, "%s/huren-index-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(t->dir));
    o.data_dir = t->dir;
    o.fsync = 1;
    o.pack_max_instance = pack_max_instance; /* 0: every instance a file of its own */
    if (huren_index_open(&t->idx, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
}

static void put_two_studies(tfix *t)
{
    tinst in;
    char sop[64], body[64];
    for (int s = 1; s <= 2; s++)
        for (int i = 0; i < 5; i++) {
            char study[32], series[32];
            snprintf(study, sizeof study, "1.8.%d", s);
            snprintf(series, sizeof series, "1.8.%d.1", s);
            snprintf(sop, sizeof sop, "1.8.%d.1.%d", s, i);
            snprintf(body, sizeof body, "instance %d of study %d", i, s);
            tinst_init(&in, s == 1 ? "DEL1" : "KEEP1", study, series, sop, "CT", CT);
            assert_int_equal(put_ok(t->idx, &in, body), HUREN_INDEX_PUT_STORED);
        }
}

static void delete_then_compact(void **state)
{
    (void)state;
    tfix t;
    huren_index_study_deleted d;
    huren_index_pack_stats ps;
    huren_index_compact_stats cs;
    open_with(&t, 4096);
    put_two_studies(&t);
    assert_int_equal(huren_index_pack_usage(t.idx, &ps), 0);
    assert_int_equal(ps.garbage_bytes, 0);
    assert_int_equal(huren_index_study_delete(t.idx, "1.8.9", &d), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_study_delete(t.idx, "1.8.x", &d), HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_study_delete(t.idx, "1.8.1", &d), 0);
    assert_int_equal(d.instances, 5);
    assert_string_equal(d.patient_id, "DEL1");
    assert_true(d.pack_bytes > 0);
    assert_totals_consistent(&t);
    int rc = 0;
    char *l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_ID, &rc);
    assert_string_equal(l, "KEEP1"); /* the patient went with the last study */
    free(l);
    assert_int_equal(huren_index_pack_usage(t.idx, &ps), 0);
    assert_int_equal(ps.garbage_bytes, d.pack_bytes);

    /* below the threshold: nothing moves */
    assert_int_equal(huren_index_compact(t.idx, 0.99, 0, &cs), 0);
    assert_int_equal(cs.packs_rewritten, 0);
    assert_int_equal(huren_index_compact(t.idx, 1.5, 0, &cs), HUREN_INDEX_EINVAL);
    /* serving: the rewritten pack stays for readers that found it, until the grace passed */
    char old_pack[PATH_MAX];
    snprintf(old_pack, sizeof old_pack, "%s/blobs/pack/00000000", t.dir);
    assert_int_equal(huren_index_compact(t.idx, 0.1, 60, &cs), 0);
    assert_int_equal(cs.packs_rewritten, 1);
    assert_int_equal(cs.instances_moved, 5);
    assert_int_equal(cs.packs_retired, 1);
    assert_int_equal(cs.bytes_freed, 0);
    assert_true(file_exists(old_pack));
    assert_int_equal(huren_index_compact(t.idx, 0.1, 60, &cs), 0);
    assert_int_equal(cs.packs_rewritten, 0); /* still within the grace: left */
    assert_int_equal(cs.packs_retired, 1);
    assert_true(file_exists(old_pack));
    content_is(t.idx, "1.8.2.1.0", "instance 0 of study 2");
    assert_int_equal(huren_index_compact(t.idx, 0.1, 0, &cs), 0);
    assert_false(file_exists(old_pack));
    assert_int_equal(cs.packs_rewritten, 1);
    assert_int_equal(cs.instances_moved, 0);
    assert_int_equal(huren_index_pack_usage(t.idx, &ps), 0);
    assert_int_equal(ps.garbage_bytes, 0);
    assert_int_equal(ps.packs, 1);
    for (int i = 0; i < 5; i++) {
        char sop[32], body[64];
        snprintf(sop, sizeof sop, "1.8.2.1.%d", i);
        snprintf(body, sizeof body, "instance %d of study 2", i);
        content_is(t.idx, sop, body);
    }
    /* the archive goes on: a reopen keeps the moved rows, a new put lands */
    tfix_reopen(&t);
    content_is(t.idx, "1.8.2.1.4", "instance 4 of study 2");
    tinst in;
    tinst_init(&in, "KEEP1", "1.8.2", "1.8.2.1", "1.8.2.1.9", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "late"), HUREN_INDEX_PUT_STORED);
    content_is(t.idx, "1.8.2.1.9", "late");
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void delete_own_files(void **state)
{
    (void)state;
    tfix t;
    open_with(&t, 0);
    put_two_studies(&t);
    char blobs[PATH_MAX];
    snprintf(blobs, sizeof blobs, "%s/blobs", t.dir);
    int before = count_files(blobs);
    huren_index_study_deleted d;
    assert_int_equal(huren_index_study_delete(t.idx, "1.8.1", &d), 0);
    assert_int_equal(d.files_removed, 5);
    assert_int_equal(d.pack_bytes, 0);
    assert_int_equal(count_files(blobs), before - 5);
    content_is(t.idx, "1.8.2.1.0", "instance 0 of study 2");
    tfix_close(&t);
}

static void backup_opens(void **state)
{
    (void)state;
    tfix t, b = {0};
    char err[HUREN_ERRLEN] = "";
    huren_index_backup_stats st;
    open_with(&t, 4096);
    put_two_studies(&t);
    snprintf(b.dir, sizeof b.dir, "%s/huren-backup-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(b.dir));
    assert_int_equal(huren_index_backup(t.dir, b.dir, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.instances, 10);
    assert_int_equal(st.packs, 1);
    /* a second backup into the same folder is refused */
    assert_int_equal(huren_index_backup(t.dir, b.dir, 0, &st, err, sizeof err), HUREN_INDEX_EINVAL);
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    o.data_dir = b.dir;
    assert_int_equal(huren_index_open(&b.idx, &o, err, sizeof err), 0);
    content_is(b.idx, "1.8.1.1.3", "instance 3 of study 1");
    assert_totals_consistent(&b);
    tfix_close(&b);
    tfix_close(&t);
}

typedef struct listed {
    char text[512];
    int64_t bytes;
} listed;

static int list_one(void *p, const huren_index_retention_study *st)
{
    listed *l = p;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s%s/%s/%s", n ? "," : "", st->study_uid,
             st->study_date, st->patient_id);
    l->bytes += st->bytes;
    return 0;
}

static void retention_candidates(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char path[PATH_MAX];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    const char *rows[][3] = {{"1.7.1", "20000101", "A"},
                             {"1.7.2", "20050101", "B"},
                             {"1.7.3", "20100101", "C"},
                             {"1.7.4", "", "D"},
                             {"1.7.5", "20260101", "E"}};
    for (int i = 0; i < 5; i++) {
        char series[32], sop[32];
        snprintf(series, sizeof series, "%s.1", rows[i][0]);
        snprintf(sop, sizeof sop, "%s.1.1", rows[i][0]);
        tinst_init(&in, rows[i][2], rows[i][0], series, sop, "CT", CT);
        in.v[HUREN_INDEX_F_STUDY_DATE] = rows[i][1][0] ? rows[i][1] : NULL;
        assert_int_equal(put_ok(t.idx, &in, "12345"), HUREN_INDEX_PUT_STORED);
    }
    listed l = {"", 0};
    assert_int_equal(huren_index_retention_candidates(t.idx, "20100101", 1, list_one, &l), 2);
    assert_string_equal(l.text, "1.7.1/20000101/A,1.7.2/20050101/B");
    assert_int_equal(l.bytes, 10);
    /* B has a claim, C's study a recognition decision: protected */
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/index.db", t.dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "INSERT INTO claims(claim_id, insurer, request_id, request_hash, consent_pk,"
                " patient_id, visit_number, jws, created_at)"
                " VALUES ('c1', 'INS', 'r1', 'h', 1, 'B', 'V1', x'00', 0);"
                "INSERT INTO rec_prompts(pk, prompt_id, created_at, day, pseudonym, item_code)"
                " VALUES (1, 'p1', 0, '20260101', 'x', 'CT');"
                "INSERT INTO rec_decisions(decision_id, prompt_pk, result_key, decision,"
                " created_at) VALUES ('d1', 1, 'H1/study:1.7.3', 'accepted', 0);");
    sqlite3_close(db);
    l = (listed){"", 0};
    assert_int_equal(huren_index_retention_candidates(t.idx, NULL, 1, list_one, &l), 2);
    assert_string_equal(l.text, "1.7.1/20000101/A,1.7.5/20260101/E");
    l = (listed){"", 0};
    assert_int_equal(huren_index_retention_candidates(t.idx, NULL, 0, list_one, &l), 4);
    assert_int_equal(huren_index_retention_candidates(t.idx, "2010", 0, list_one, &l),
                     HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

const struct CMUnitTest datacare_tests[] = {
    cmocka_unit_test(retention_candidates), cmocka_unit_test(upgrade_from_each_version),
    cmocka_unit_test(delete_then_compact),  cmocka_unit_test(delete_own_files),
    cmocka_unit_test(backup_opens),
};
const size_t datacare_ntests = sizeof(datacare_tests) / sizeof(datacare_tests[0]);
