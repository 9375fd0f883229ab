/* test_put.c: the write path: new, duplicate KEEP and REPLACE (file replaced, old file gone),
 * computed counts, failed puts that leave nothing, hash-derived blob names, concurrent puts
 * from several threads, and the failure-after-rename paths that stand in for a crash. */
#include "test_index.h"
#include "index/index_recognition.h"
#include "index/index_sys.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CT "1.2.840.10008.5.1.4.1.1.2"
#define MR "1.2.840.10008.5.1.4.1.1.4"

struct one {
    char path[PATH_MAX];
    int64_t size;
    int n;
};

static int one_cb(void *payload, const huren_index_row *row)
{
    struct one *o = payload;
    snprintf(o->path, sizeof(o->path), "%s", row->blob_path ? row->blob_path : "");
    o->size = row->blob_size;
    o->n++;
    return 0;
}

/* The blob path and size of one instance, asserting it exists exactly once. */
static struct one blob_of(huren_index *idx, const char *sop)
{
    struct one o = {"", 0, 0};
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, sop};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, &m, 1, 0, 0};
    assert_int_equal(huren_index_find(idx, &q, one_cb, &o), 1);
    assert_int_equal(o.n, 1);
    return o;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* Provenance (schema 15): the root over the sorted fingerprints, without the instance that
 * has no PixelData; the backfill fingerprints instances stored without one, through the
 * gateway's digest, and a failed digest leaves the instance unknown. */
static int digest_content(const char *path, int64_t offset, int64_t size, char hex[65],
                          void *payload)
{
    int *calls = payload;
    (*calls)++;
    char c[64] = "";
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_true(size > 0 && size < (int64_t)sizeof c);
    assert_int_equal(fseek(fp, (long)offset, SEEK_SET), 0);
    assert_int_equal(fread(c, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    int rc = strstr(c, "nopixels") ? 1 : strstr(c, "broken") ? -1 : 0;
    if (rc == 0)
        sha256_hex(c, hex);
    return rc;
}

static void provenance_root(void **state)
{
    (void)state;
    tfix t;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    char a[65], b[65], lines[200], root[65];
    sha256_hex("pixels-a", a);
    sha256_hex("pixels-b", b);
    tinst i1, i2, i3, i4;
    tinst_init(&i1, "P1", "1.2.3", "1.2.3.1", "1.2.3.1.1", "CT", CT);
    tinst_init(&i2, "P1", "1.2.3", "1.2.3.1", "1.2.3.1.2", "CT", CT);
    tinst_init(&i3, "P1", "1.2.3", "1.2.3.2", "1.2.3.2.1", "SR", CT);
    tinst_init(&i4, "P1", "1.2.3", "1.2.3.2", "1.2.3.2.2", "CT", CT);
    i1.v[HUREN_INDEX_F_PIXEL_SHA256] = b;
    i2.v[HUREN_INDEX_F_PIXEL_SHA256] = a;
    i3.v[HUREN_INDEX_F_PIXEL_SHA256] = "";
    put_ok(t.idx, &i1, "one");
    put_ok(t.idx, &i2, "two");
    put_ok(t.idx, &i3, "nopixels");
    put_ok(t.idx, &i4, "pixels-c");
    huren_index_provenance pv;
    assert_int_equal(huren_index_study_provenance(t.idx, "1.2.3", &pv), 0);
    assert_int_equal(pv.instances, 4);
    assert_int_equal(pv.fingerprinted, 2);
    assert_int_equal(pv.unknown, 1);
    snprintf(lines, sizeof lines, "%s\n%s\n", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
    sha256_hex(lines, root);
    assert_string_equal(pv.root, root);
    /* the instance's field is returned by queries */
    int rc = 0;
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, "1.2.3.1.2"};
    char *got =
        find_list(t.idx, HUREN_INDEX_LEVEL_INSTANCE, &m, 1, HUREN_INDEX_F_PIXEL_SHA256, &rc);
    assert_string_equal(got, a);
    free(got);

    /* backfill: only the unknown one, then nothing left */
    int calls = 0;
    huren_index_backfill_stats bs;
    assert_int_equal(huren_index_provenance_backfill(t.idx, digest_content, &calls, &bs), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(bs.fingerprinted, 1);
    char c[65], three[300];
    sha256_hex("pixels-c", c);
    const char *v[3] = {a, b, c};
    for (int x = 0; x < 3; x++) /* sort three */
        for (int y = x + 1; y < 3; y++)
            if (strcmp(v[x], v[y]) > 0) {
                const char *tmp = v[x];
                v[x] = v[y];
                v[y] = tmp;
            }
    snprintf(three, sizeof three, "%s\n%s\n%s\n", v[0], v[1], v[2]);
    sha256_hex(three, root);
    assert_int_equal(huren_index_study_provenance(t.idx, "1.2.3", &pv), 0);
    assert_int_equal(pv.fingerprinted, 3);
    assert_int_equal(pv.unknown, 0);
    assert_string_equal(pv.root, root);
    assert_int_equal(huren_index_provenance_backfill(t.idx, digest_content, &calls, &bs), 0);
    assert_int_equal(calls, 1);

    /* unreadable: stays unknown, counted as failed; a study not held has nothing */
    tinst i5;
    tinst_init(&i5, "P2", "1.2.4", "1.2.4.1", "1.2.4.1.1", "CT", CT);
    put_ok(t.idx, &i5, "broken");
    assert_int_equal(huren_index_provenance_backfill(t.idx, digest_content, &calls, &bs), 0);
    assert_int_equal(bs.failed, 1);
    assert_int_equal(huren_index_study_provenance(t.idx, "1.2.4", &pv), 0);
    assert_int_equal(pv.unknown, 1);
    assert_string_equal(pv.root, "");
    assert_int_equal(huren_index_study_provenance(t.idx, "9.9", &pv), 0);
    assert_int_equal(pv.instances, 0);
    tfix_close(&t);
}

static void put_new_hash_path(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char hex[65], want[PATH_MAX];
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "first"), HUREN_INDEX_PUT_STORED);
    struct one o = blob_of(t.idx, "1.2.3.4.5");
    sha256_hex("1.2.3.4.5", hex);
    snprintf(want, sizeof(want), "%s/blobs/%.2s/%.2s/%s", t.idx->data_dir, hex, hex + 2, hex);
    assert_string_equal(o.path, want);
    assert_null(strstr(o.path, "1.2.3"));
    assert_int_equal(o.size, 5);
    char *c = file_read(o.path);
    assert_string_equal(c, "first");
    free(c);
    assert_int_equal(count_files(huren_index_tmp_dir(t.idx)), 0);
    tfix_close(&t);
}

static void put_duplicate_keep(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "first"), HUREN_INDEX_PUT_STORED);
    assert_int_equal(put_ok(t.idx, &in, "second copy"), HUREN_INDEX_PUT_DUPLICATE);
    struct one o = blob_of(t.idx, "1.2.3.4.5");
    char *c = file_read(o.path);
    assert_string_equal(c, "first");
    free(c);
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.instances, 1);
    assert_int_equal(s.bytes, 5);
    char blobs[PATH_MAX];
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    assert_int_equal(count_files(blobs), 1);
    assert_int_equal(count_files(huren_index_tmp_dir(t.idx)), 0);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void put_duplicate_replace(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char blobs[PATH_MAX];
    int rc;
    tfix_open(&t, 1, HUREN_INDEX_DUP_REPLACE);
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    in.v[HUREN_INDEX_F_STUDY_DESCRIPTION] = "old";
    assert_int_equal(put_ok(t.idx, &in, "first"), HUREN_INDEX_PUT_STORED);
    struct one o1 = blob_of(t.idx, "1.2.3.4.5");

    in.v[HUREN_INDEX_F_STUDY_DESCRIPTION] = "new";
    assert_int_equal(put_ok(t.idx, &in, "second!"), HUREN_INDEX_PUT_REPLACED);
    struct one o2 = blob_of(t.idx, "1.2.3.4.5");
    assert_string_not_equal(o1.path, o2.path);
    assert_false(file_exists(o1.path));
    assert_non_null(strstr(o2.path, "-1"));
    char *c = file_read(o2.path);
    assert_string_equal(c, "second!");
    free(c);
    assert_int_equal(o2.size, 7);
    assert_int_equal(count_files(blobs), 1);

    /* the replacement's attributes are the ones kept; counts did not double */
    huren_index_match m = {HUREN_INDEX_F_STUDY_DESCRIPTION, ""};
    char *l =
        find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_STUDY_DESCRIPTION, &rc);
    assert_string_equal(l, "new");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NUM_INSTANCES,
                  &rc);
    assert_string_equal(l, "1");
    free(l);

    /* a replacement that moves the instance to another series and study */
    tinst_init(&in, "P1", "1.2.9", "1.2.9.4", "1.2.3.4.5", "MR", MR);
    assert_int_equal(put_ok(t.idx, &in, "third"), HUREN_INDEX_PUT_REPLACED);
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.patients, 1);
    assert_int_equal(s.studies, 1);
    assert_int_equal(s.series, 1);
    assert_int_equal(s.instances, 1);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, NULL, 0, HUREN_INDEX_F_MODALITIES_IN_STUDY, &rc);
    assert_string_equal(l, "MR");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NUM_SERIES, &rc);
    assert_string_equal(l, "1");
    free(l);
    assert_int_equal(count_files(blobs), 1);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void counts_computed(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    int rc;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, "P1", "1.1", "1.1.1", "1.1.1.1", "CT", CT);
    put_ok(t.idx, &in, "a");
    tinst_init(&in, "P1", "1.1", "1.1.1", "1.1.1.2", "CT", CT);
    put_ok(t.idx, &in, "bb");
    tinst_init(&in, "P1", "1.1", "1.1.2", "1.1.2.1", "MR", MR);
    put_ok(t.idx, &in, "ccc");
    tinst_init(&in, "P1", "1.2", "1.2.1", "1.2.1.1", "CT", CT);
    put_ok(t.idx, &in, "dddd");
    tinst_init(&in, "P2", "1.3", "1.3.1", "1.3.1.1", "US", "1.2.840.10008.5.1.4.1.1.6.1");
    put_ok(t.idx, &in, "eeeee");

    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.patients, 2);
    assert_int_equal(s.studies, 3);
    assert_int_equal(s.series, 4);
    assert_int_equal(s.instances, 5);
    assert_int_equal(s.bytes, 15);

    char *l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0,
                        HUREN_INDEX_F_PATIENT_NUM_STUDIES, &rc);
    assert_string_equal(l, "2,1");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NUM_SERIES, &rc);
    assert_string_equal(l, "3,1");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NUM_INSTANCES,
                  &rc);
    assert_string_equal(l, "4,1");
    free(l);
    huren_index_match m = {HUREN_INDEX_F_STUDY_UID, "1.1"};
    l = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_MODALITIES_IN_STUDY, &rc);
    assert_string_equal(l, "CT\\MR");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_SOP_CLASSES_IN_STUDY, &rc);
    assert_string_equal(l, CT "\\" MR);
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_STUDY_NUM_SERIES, &rc);
    assert_string_equal(l, "2");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &m, 1, HUREN_INDEX_F_STUDY_NUM_INSTANCES, &rc);
    assert_string_equal(l, "3");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_SERIES, &m, 1, HUREN_INDEX_F_SERIES_NUM_INSTANCES, &rc);
    assert_string_equal(l, "2,1");
    free(l);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void assert_empty_archive(tfix *t)
{
    huren_index_stats s;
    char blobs[PATH_MAX];
    snprintf(blobs, sizeof(blobs), "%s/blobs", t->dir);
    assert_int_equal(huren_index_stats_get(t->idx, &s), 0);
    assert_int_equal(s.patients + s.studies + s.series + s.instances + s.bytes, 0);
    assert_int_equal(count_files(blobs), 0);
    assert_int_equal(count_files(huren_index_tmp_dir(t->idx)), 0);
}

static void put_failures_store_nothing(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char path[PATH_MAX], outside[PATH_MAX];
    huren_index_put_outcome out;
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);

    /* the temp file does not exist */
    snprintf(path, sizeof(path), "%s/missing", huren_index_tmp_dir(t.idx));
    assert_int_equal(huren_index_instance_put(t.idx, in.v, path, &out), HUREN_INDEX_EIO);
    assert_non_null(strstr(huren_index_errmsg(t.idx), "temp file"));
    assert_empty_archive(&t);

    /* a required UID is missing or empty: refused, temp file removed */
    static const huren_index_field req[] = {HUREN_INDEX_F_STUDY_UID, HUREN_INDEX_F_SERIES_UID,
                                            HUREN_INDEX_F_SOP_INSTANCE_UID,
                                            HUREN_INDEX_F_SOP_CLASS_UID};
    for (size_t i = 0; i < 4; i++) {
        tinst bad = in;
        bad.v[req[i]] = (i % 2) ? "" : NULL;
        tmp_write(t.idx, "x", path, sizeof(path));
        assert_int_equal(huren_index_instance_put(t.idx, bad.v, path, &out), HUREN_INDEX_EINVAL);
        assert_non_null(strstr(huren_index_errmsg(t.idx), huren_index_field_name(req[i])));
        assert_false(file_exists(path));
    }
    assert_empty_archive(&t);

    /* a path outside tmp/ is refused and left alone; so is one that climbs out of it */
    snprintf(outside, sizeof(outside), "%s/outside", t.dir);
    FILE *fp = fopen(outside, "w");
    fputs("x", fp);
    fclose(fp);
    assert_int_equal(huren_index_instance_put(t.idx, in.v, outside, &out), HUREN_INDEX_EINVAL);
    assert_true(file_exists(outside));
    snprintf(path, sizeof(path), "%s/../outside", huren_index_tmp_dir(t.idx));
    assert_int_equal(huren_index_instance_put(t.idx, in.v, path, &out), HUREN_INDEX_EINVAL);
    assert_true(file_exists(outside));
    assert_int_equal(huren_index_instance_put(t.idx, in.v, NULL, &out), HUREN_INDEX_EINVAL);
    unlink(outside);
    assert_empty_archive(&t);
    tfix_close(&t);
}

static void exec_on(const char *dir, const char *sql)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/index.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A failure after the file was renamed into the blob store (as a crash before the commit would
 * leave it) must leave no new file and no row, and keep the old instance of a REPLACE whole. */
static void put_fails_after_rename(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char path[PATH_MAX], blobs[PATH_MAX];
    huren_index_put_outcome out;
    tfix_open(&t, 1, HUREN_INDEX_DUP_REPLACE);
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    exec_on(t.dir, "CREATE TRIGGER inject BEFORE INSERT ON instances"
                   " WHEN NEW.sop_class_uid = '9.9' BEGIN SELECT RAISE(ABORT, 'injected'); END");

    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", "9.9");
    tmp_write(t.idx, "doomed", path, sizeof(path));
    assert_int_equal(huren_index_instance_put(t.idx, in.v, path, &out), HUREN_INDEX_ERROR);
    assert_non_null(strstr(huren_index_errmsg(t.idx), "injected"));
    assert_false(file_exists(path));
    assert_empty_archive(&t);

    /* REPLACE: the old instance survives a failed replacement, file and row */
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "old"), HUREN_INDEX_PUT_STORED);
    struct one o1 = blob_of(t.idx, "1.2.3.4.5");
    in.v[HUREN_INDEX_F_SOP_CLASS_UID] = "9.9";
    tmp_write(t.idx, "new", path, sizeof(path));
    assert_int_equal(huren_index_instance_put(t.idx, in.v, path, &out), HUREN_INDEX_ERROR);
    struct one o2 = blob_of(t.idx, "1.2.3.4.5");
    assert_string_equal(o1.path, o2.path);
    char *c = file_read(o2.path);
    assert_string_equal(c, "old");
    free(c);
    assert_int_equal(count_files(blobs), 1);
    assert_int_equal(count_files(huren_index_tmp_dir(t.idx)), 0);

    /* a file left under the next generation's name by a crash is simply overwritten */
    char hex_path[PATH_MAX + 8];
    snprintf(hex_path, sizeof(hex_path), "%s-1", o1.path);
    FILE *fp = fopen(hex_path, "w");
    fputs("orphan", fp);
    fclose(fp);
    in.v[HUREN_INDEX_F_SOP_CLASS_UID] = CT;
    assert_int_equal(put_ok(t.idx, &in, "newer"), HUREN_INDEX_PUT_REPLACED);
    struct one o3 = blob_of(t.idx, "1.2.3.4.5");
    assert_string_equal(o3.path, hex_path);
    c = file_read(o3.path);
    assert_string_equal(c, "newer");
    free(c);
    assert_false(file_exists(o1.path));
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void write_file(const char *path, const char *content)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* What a kill -9 between rename and commit (or between commit and removing a replaced file)
 * leaves behind: the next open removes exactly the files no committed row references. */
static void pending_journal_recovery(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char blobs[PATH_MAX], journal[PATH_MAX], lines[4096], hex[65];
    char orphan_new[PATH_MAX + 256], orphan_gen[PATH_MAX + 8], name_a[128], name_b[128];
    tfix_open(&t, 1, HUREN_INDEX_DUP_REPLACE);
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    snprintf(journal, sizeof(journal), "%s/pending", t.dir);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "kept"), HUREN_INDEX_PUT_STORED);
    struct one a = blob_of(t.idx, "1.2.3.4.5");
    /* after a batch the journal is empty */
    char *c = file_read(journal);
    assert_string_equal(c, "");
    free(c);

    /* an uncommitted replacement of A (generation 1), and an uncommitted new instance B */
    snprintf(orphan_gen, sizeof(orphan_gen), "%s-1", a.path);
    write_file(orphan_gen, "uncommitted replacement");
    sha256_hex("1.2.3.4.6", hex);
    snprintf(name_b, sizeof(name_b), "%.2s/%.2s/%s", hex, hex + 2, hex);
    snprintf(orphan_new, sizeof(orphan_new), "%s/%.2s", blobs, hex);
    mkdir(orphan_new, 0750);
    snprintf(orphan_new, sizeof(orphan_new), "%s/%.2s/%.2s", blobs, hex, hex + 2);
    mkdir(orphan_new, 0750);
    snprintf(orphan_new, sizeof(orphan_new), "%s/%s", blobs, name_b);
    write_file(orphan_new, "uncommitted new");
    snprintf(name_a, sizeof(name_a), "%s", a.path + strlen(blobs) + 1);
    snprintf(lines, sizeof(lines),
             "%s-1 1.2.3.4.5\n%s 1.2.3.4.6\n%s 1.2.3.4.5\n"
             "../../index.db 1.2.3.4.5\n%s 9.9.9\ngarbage\n",
             name_a, name_b, name_a, name_a);
    write_file(journal, lines);
    assert_int_equal(count_files(blobs), 3);

    tfix_reopen(&t);
    assert_false(file_exists(orphan_gen));
    assert_false(file_exists(orphan_new));
    assert_true(file_exists(a.path)); /* referenced: kept, whatever the journal says */
    assert_int_equal(count_files(blobs), 1);
    c = file_read(journal);
    assert_string_equal(c, "");
    free(c);
    char db[PATH_MAX];
    snprintf(db, sizeof(db), "%s/index.db", t.dir);
    assert_true(file_exists(db));
    struct one a2 = blob_of(t.idx, "1.2.3.4.5");
    c = file_read(a2.path);
    assert_string_equal(c, "kept");
    free(c);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

/* ---- a real kill -9 in the middle of concurrent puts and replacements ---- */

static void *crash_worker(void *arg)
{
    huren_index *idx = arg;
    for (unsigned i = 0;; i++) {
        char sop[64], content[96], path[PATH_MAX];
        tinst in;
        snprintf(sop, sizeof(sop), "5.1.1.%u", (unsigned)(rand() % 40));
        snprintf(content, sizeof(content), "%s gen %u", sop, i);
        tinst_init(&in, "K", "5.1", "5.1.1", sop, "CT", CT);
        snprintf(path, sizeof(path), "%s/c%lu-%u", huren_index_tmp_dir(idx),
                 (unsigned long)pthread_self(), i);
        FILE *fp = fopen(path, "w");
        if (!fp)
            continue;
        fputs(content, fp);
        fclose(fp);
        huren_index_put_outcome out;
        huren_index_instance_put(idx, in.v, path, &out);
    }
    return NULL;
}

static int check_blob_content(void *payload, const huren_index_row *row)
{
    int *bad = payload;
    char *c = row->blob_path ? file_read(row->blob_path) : NULL;
    const char *sop = row->values[HUREN_INDEX_F_SOP_INSTANCE_UID];
    if (!c || strncmp(c, sop, strlen(sop)) != 0 || c[strlen(sop)] != ' ')
        ++*bad;
    free(c);
    return 0;
}

static void kill9_during_puts(void **state)
{
    (void)state;
    tfix t;
    char blobs[PATH_MAX];
    tfix_open(&t, 0, HUREN_INDEX_DUP_REPLACE);
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    huren_index_close(t.idx);
    t.idx = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        huren_index *idx = NULL;
        huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
        pthread_t th[4];
        o.data_dir = t.dir;
        o.fsync = 0;
        o.dup_policy = HUREN_INDEX_DUP_REPLACE;
        if (huren_index_open(&idx, &o, NULL, 0) < 0)
            _exit(1);
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, crash_worker, idx);
        for (;;)
            pause();
    }
    usleep(300 * 1000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));

    tfix_reopen(&t);
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    print_message("after kill -9: %lld instances, %d blob files\n", (long long)s.instances,
                  count_files(blobs));
    assert_true(s.instances > 0);
    assert_int_equal(count_files(blobs), (int)s.instances);
    assert_int_equal(count_files(huren_index_tmp_dir(t.idx)), 0);
    int bad = 0;
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, NULL, 0, 0, 0};
    assert_int_equal(huren_index_find(t.idx, &q, check_blob_content, &bad), (int)s.instances);
    assert_int_equal(bad, 0);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static void empty_patient_id_and_updates(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    int rc;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, NULL, "1.5", "1.5.1", "1.5.1.1", "CT", CT);
    in.v[HUREN_INDEX_F_PATIENT_NAME] = "Anon";
    assert_int_equal(put_ok(t.idx, &in, "a"), HUREN_INDEX_PUT_STORED);
    tinst_init(&in, "", "1.6", "1.6.1", "1.6.1.1", "CT", CT);
    in.v[HUREN_INDEX_F_PATIENT_NAME] = "Anon^Newer";
    in.v[HUREN_INDEX_F_PATIENT_SEX] = "F";
    assert_int_equal(put_ok(t.idx, &in, "b"), HUREN_INDEX_PUT_STORED);
    /* both land on the one patient with id '', whose attributes follow the newest put */
    char *l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NAME, &rc);
    assert_string_equal(l, "Anon^Newer");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_NUM_STUDIES,
                  &rc);
    assert_string_equal(l, "2");
    free(l);
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_ID, &rc);
    assert_string_equal(l, "(null)");
    free(l);
    /* a later instance without a sex does not erase it */
    tinst_init(&in, "", "1.6", "1.6.1", "1.6.1.2", "CT", CT);
    put_ok(t.idx, &in, "c");
    l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0, HUREN_INDEX_F_PATIENT_SEX, &rc);
    assert_string_equal(l, "F");
    free(l);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

#define NTHREADS 8
#define PER_THREAD 40

struct worker {
    huren_index *idx;
    int id;
    int stored;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char study[64], series[64], sop[64], pid[32], path[PATH_MAX];
        tinst in;
        snprintf(pid, sizeof(pid), "T%d", w->id % 3);
        snprintf(study, sizeof(study), "2.%d", w->id % 3);
        snprintf(series, sizeof(series), "2.%d.%d", w->id % 3, w->id);
        snprintf(sop, sizeof(sop), "2.%d.%d.%d", w->id % 3, w->id, i);
        tinst_init(&in, pid, study, series, sop, "CT", CT);
        snprintf(path, sizeof(path), "%s/w%d-%d", huren_index_tmp_dir(w->idx), w->id, i);
        FILE *fp = fopen(path, "w");
        if (!fp)
            return NULL;
        fputs(sop, fp);
        fclose(fp);
        huren_index_put_outcome out;
        if (huren_index_instance_put(w->idx, in.v, path, &out) == 0 &&
            out == HUREN_INDEX_PUT_STORED)
            w->stored++;
    }
    return NULL;
}

struct reader {
    huren_index *idx;
    atomic_int *stop;
    int queries, errors, went_back;
};

static int count_rows_cb(void *payload, const huren_index_row *row)
{
    (void)row;
    ++*(int *)payload;
    return 0;
}

/* Queries run on their own connections while puts commit: never an error, never fewer rows
 * than a previous query saw. */
static void *reader_run(void *arg)
{
    struct reader *r = arg;
    huren_index_match m = {HUREN_INDEX_F_PATIENT_ID, "T*"};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, &m, 1, 0, 0};
    int last = 0;
    while (!atomic_load(r->stop)) {
        int n = 0;
        if (huren_index_find(r->idx, &q, count_rows_cb, &n) < 0)
            r->errors++;
        if (n < last)
            r->went_back++;
        last = n;
        r->queries++;
    }
    return NULL;
}

static void *errmsg_run(void *arg)
{
    return (void *)huren_index_errmsg(arg);
}

static void concurrent_puts(void **state)
{
    (void)state;
    tfix t;
    pthread_t th[NTHREADS], rth[2];
    struct worker w[NTHREADS];
    struct reader rd[2];
    atomic_int stop = 0;
    int rc;
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    for (int i = 0; i < 2; i++) {
        rd[i] = (struct reader){t.idx, &stop, 0, 0, 0};
        assert_int_equal(pthread_create(&rth[i], NULL, reader_run, &rd[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){t.idx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].stored, PER_THREAD);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(rth[i], NULL);
        assert_int_equal(rd[i].errors, 0);
        assert_int_equal(rd[i].went_back, 0);
        assert_true(rd[i].queries > 0);
    }
    /* error messages are per thread */
    huren_index_match bad = {HUREN_INDEX_F_STUDY_DATE, "nope"};
    huren_index_query bq = {HUREN_INDEX_LEVEL_STUDY, &bad, 1, 0, 0};
    assert_int_equal(huren_index_find(t.idx, &bq, NULL, NULL), HUREN_INDEX_EINVAL);
    assert_non_null(strstr(huren_index_errmsg(t.idx), "study_date"));
    pthread_t eth;
    void *other = NULL;
    assert_int_equal(pthread_create(&eth, NULL, errmsg_run, t.idx), 0);
    pthread_join(eth, &other);
    assert_string_equal((const char *)other, "");
    /* puts that arrive while a commit runs share the next one */
    print_message("group commit: %lld puts in %lld transactions\n",
                  (long long)t.idx->committed_puts, (long long)t.idx->commits);
    assert_int_equal(t.idx->committed_puts, NTHREADS * PER_THREAD);
    assert_true(t.idx->commits <= t.idx->committed_puts);
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.patients, 3);
    assert_int_equal(s.studies, 3);
    assert_int_equal(s.series, NTHREADS);
    assert_int_equal(s.instances, NTHREADS * PER_THREAD);
    char *l = find_list(t.idx, HUREN_INDEX_LEVEL_PATIENT, NULL, 0,
                        HUREN_INDEX_F_PATIENT_NUM_INSTANCES, &rc);
    assert_string_equal(l, "120,120,80");
    free(l);
    /* every row's file is there with its own content */
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, "2.1.4.17"};
    struct one o = blob_of(t.idx, m.value);
    char *c = file_read(o.path);
    assert_string_equal(c, "2.1.4.17");
    free(c);
    char blobs[PATH_MAX];
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    assert_int_equal(count_files(blobs), NTHREADS * PER_THREAD);
    tfix_reopen(&t);
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.instances, NTHREADS * PER_THREAD);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

static int seed_cb(void *payload, size_t i, const char *values[HUREN_INDEX_F_COUNT])
{
    static char study[32], series[32], sop[32], pid[32];
    (void)payload;
    snprintf(pid, sizeof(pid), "S%zu", i / 100);
    snprintf(study, sizeof(study), "3.%zu", i / 10);
    snprintf(series, sizeof(series), "3.%zu.1", i / 10);
    snprintf(sop, sizeof(sop), "3.%zu.1.%zu", i / 10, i % 10);
    values[HUREN_INDEX_F_PATIENT_ID] = pid;
    values[HUREN_INDEX_F_STUDY_UID] = study;
    values[HUREN_INDEX_F_SERIES_UID] = series;
    values[HUREN_INDEX_F_SOP_INSTANCE_UID] = sop;
    values[HUREN_INDEX_F_SOP_CLASS_UID] = CT;
    values[HUREN_INDEX_F_MODALITY] = "CT";
    return 0;
}

static void seed_rows(void **state)
{
    (void)state;
    tfix t;
    huren_index_stats s;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_seed(t.idx, 25000, seed_cb, NULL), 0);
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.patients, 250);
    assert_int_equal(s.studies, 2500);
    assert_int_equal(s.instances, 25000);
    assert_int_equal(s.bytes, 0);
    /* seeding again skips what is there */
    assert_int_equal(huren_index_seed(t.idx, 100, seed_cb, NULL), 0);
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.instances, 25000);
    tfix_close(&t);
}

/* ---- retrieved copies (schema 9) ---- */

typedef struct copy_rows {
    char copy_of[64], patient[64], source_pid[64], source_issuer[64];
    int n, copies;
} copy_rows;

static int copy_row_cb(void *payload, const huren_index_row *row)
{
    copy_rows *c = payload;
    c->n++;
    if (row->copy_of) {
        c->copies++;
        snprintf(c->copy_of, sizeof c->copy_of, "%s", row->copy_of);
        snprintf(c->source_pid, sizeof c->source_pid, "%s",
                 row->copy_patient_id ? row->copy_patient_id : "(null)");
        snprintf(c->source_issuer, sizeof c->source_issuer, "%s",
                 row->copy_issuer ? row->copy_issuer : "(null)");
    }
    snprintf(c->patient, sizeof c->patient, "%s",
             row->values[HUREN_INDEX_F_PATIENT_ID] ? row->values[HUREN_INDEX_F_PATIENT_ID] : "");
    return 0;
}

static copy_rows copy_find(huren_index *idx, huren_index_level level, const char *study)
{
    copy_rows c = {0};
    huren_index_match m = {HUREN_INDEX_F_STUDY_UID, study};
    huren_index_query q = {level, &m, 1, 0, 0};
    assert_true(huren_index_find(idx, &q, copy_row_cb, &c) >= 0);
    return c;
}

static void put_copy_ok(huren_index *idx, const tinst *t, const huren_index_copy *copy,
                        huren_index_put_outcome expect)
{
    char path[PATH_MAX];
    huren_index_put_outcome out = (huren_index_put_outcome)-1;
    tmp_write(idx, "copy bytes", path, sizeof path);
    int rc = huren_index_instance_put_copy(idx, t->v, path, 0, copy, &out);
    if (rc != 0)
        fail_msg("put copy: %d %s", rc, huren_index_errmsg(idx));
    assert_int_equal(out, expect);
}

static void put_copy_marks_source(void **state)
{
    (void)state;
    tfix t;
    tinst a, b, own;
    char inst[64];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_copy src = {"HB", "https://gw-b", "B-77", "HOSP-B", 1700000000};
    /* indexed under this hospital's id; the source's kept beside it */
    tinst_init(&a, "A-123", "1.2.9", "1.2.9.1", "1.2.9.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    tinst_init(&b, "A-123", "1.2.9", "1.2.9.1", "1.2.9.1.2", "CT", "1.2.840.10008.5.1.4.1.1.2");
    put_copy_ok(t.idx, &a, &src, HUREN_INDEX_PUT_STORED);
    put_copy_ok(t.idx, &b, &src, HUREN_INDEX_PUT_STORED);
    copy_rows c = copy_find(t.idx, HUREN_INDEX_LEVEL_INSTANCE, "1.2.9");
    assert_int_equal(c.n, 2);
    assert_int_equal(c.copies, 2);
    assert_string_equal(c.copy_of, "HB");
    assert_string_equal(c.patient, "A-123");
    assert_string_equal(c.source_pid, "B-77");
    assert_string_equal(c.source_issuer, "HOSP-B");
    c = copy_find(t.idx, HUREN_INDEX_LEVEL_STUDY, "1.2.9");
    assert_int_equal(c.copies, 1);
    assert_string_equal(c.copy_of, "HB");
    assert_int_equal(huren_index_study_copy_of(t.idx, "1.2.9", inst, sizeof inst), 1);
    assert_string_equal(inst, "HB");

    /* a copy of our patient's study does not change our patient's data */
    tinst mine, theirs;
    tinst_init(&mine, "A-5", "1.2.10", "1.2.10.1", "1.2.10.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    mine.v[HUREN_INDEX_F_PATIENT_NAME] = "Wang^Xiaoming";
    assert_int_equal(put_ok(t.idx, &mine, "own"), HUREN_INDEX_PUT_STORED);
    tinst_init(&theirs, "A-5", "1.2.11", "1.2.11.1", "1.2.11.1.1", "CT",
               "1.2.840.10008.5.1.4.1.1.2");
    theirs.v[HUREN_INDEX_F_PATIENT_NAME] = "WANG^XM";
    put_copy_ok(t.idx, &theirs, &src, HUREN_INDEX_PUT_STORED);
    huren_index_match pm = {HUREN_INDEX_F_PATIENT_ID, "A-5"};
    int frc;
    char *names =
        find_list(t.idx, HUREN_INDEX_LEVEL_STUDY, &pm, 1, HUREN_INDEX_F_PATIENT_NAME, &frc);
    assert_string_equal(names, "Wang^Xiaoming,Wang^Xiaoming");
    free(names);

    /* a copy of an instance held already stays what it was (kept duplicate) */
    put_copy_ok(t.idx, &a, &src, HUREN_INDEX_PUT_DUPLICATE);
    /* an own instance added to the study: the study is no longer a copy; the copies stay */
    tinst_init(&own, "A-123", "1.2.9", "1.2.9.2", "1.2.9.2.1", "SR",
               "1.2.840.10008.5.1.4.1.1.88.11");
    assert_int_equal(put_ok(t.idx, &own, "own"), HUREN_INDEX_PUT_STORED);
    assert_int_equal(huren_index_study_copy_of(t.idx, "1.2.9", inst, sizeof inst), 0);
    c = copy_find(t.idx, HUREN_INDEX_LEVEL_STUDY, "1.2.9");
    assert_int_equal(c.copies, 0);
    c = copy_find(t.idx, HUREN_INDEX_LEVEL_INSTANCE, "1.2.9");
    assert_int_equal(c.n, 3);
    assert_int_equal(c.copies, 2);

    /* an own study is no copy; an unknown one neither */
    assert_int_equal(huren_index_study_copy_of(t.idx, "7.7", inst, sizeof inst), 0);
    /* a copy needs its source */
    char path[PATH_MAX];
    huren_index_copy bad = {NULL, NULL, NULL, NULL, 0};
    tmp_write(t.idx, "x", path, sizeof path);
    assert_int_equal(huren_index_instance_put_copy(t.idx, a.v, path, 0, &bad, NULL),
                     HUREN_INDEX_EINVAL);
    assert_false(file_exists(path)); /* a refused put removes its file */
    assert_totals_consistent(&t);
    tfix_close(&t);
}

/* A replaced copy (DUP_REPLACE) drops its mark with its row and the study's count follows. */
static void put_copy_replaced_by_own(void **state)
{
    (void)state;
    tfix t;
    tinst a;
    char inst[64];
    tfix_open(&t, 0, HUREN_INDEX_DUP_REPLACE);
    huren_index_copy src = {"HB", NULL, "B-1", NULL, 0};
    tinst_init(&a, "A-1", "1.3.9", "1.3.9.1", "1.3.9.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    put_copy_ok(t.idx, &a, &src, HUREN_INDEX_PUT_STORED);
    assert_int_equal(huren_index_study_copy_of(t.idx, "1.3.9", inst, sizeof inst), 1);
    assert_int_equal(put_ok(t.idx, &a, "own now"), HUREN_INDEX_PUT_REPLACED);
    assert_int_equal(huren_index_study_copy_of(t.idx, "1.3.9", inst, sizeof inst), 0);
    copy_rows c = copy_find(t.idx, HUREN_INDEX_LEVEL_INSTANCE, "1.3.9");
    assert_int_equal(c.n, 1);
    assert_int_equal(c.copies, 0);
    put_copy_ok(t.idx, &a, &src, HUREN_INDEX_PUT_REPLACED);
    assert_int_equal(huren_index_study_copy_of(t.idx, "1.3.9", inst, sizeof inst), 1);
    assert_totals_consistent(&t);
    tfix_close(&t);
}

const struct CMUnitTest put_tests[] = {
    cmocka_unit_test(put_copy_marks_source),  cmocka_unit_test(put_copy_replaced_by_own),
    cmocka_unit_test(put_new_hash_path),      cmocka_unit_test(provenance_root),
    cmocka_unit_test(put_duplicate_keep),     cmocka_unit_test(put_duplicate_replace),
    cmocka_unit_test(counts_computed),        cmocka_unit_test(put_failures_store_nothing),
    cmocka_unit_test(put_fails_after_rename), cmocka_unit_test(pending_journal_recovery),
    cmocka_unit_test(kill9_during_puts),      cmocka_unit_test(empty_patient_id_and_updates),
    cmocka_unit_test(concurrent_puts),        cmocka_unit_test(seed_rows),
};
const size_t put_ntests = sizeof(put_tests) / sizeof(put_tests[0]);
