/* test_pack.c: small instances in shared pack files: bytes at the recorded offset, one file for
 * many instances, KEEP_TMP leaves the temp file for reuse, a replacement leaves the old bytes
 * unreferenced, bytes of a batch that never committed are trimmed at open, and packs rotate. */
#include "test_index.h"
#include "huren_err.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CT "1.2.840.10008.5.1.4.1.1.2"

static void open_packed(tfix *t, int64_t max_instance, int64_t max_bytes,
                        huren_index_dup_policy dup)
{
    char err[HUREN_ERRLEN] = "";
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    if (!t->dir[0] || !file_exists(t->dir)) {
        snprintf(t->dir, sizeof(t->dir), "%s/huren-pack-XXXXXX", P_tmpdir);
        assert_non_null(mkdtemp(t->dir));
    }
    o.data_dir = t->dir;
    o.fsync = 1;
    o.dup_policy = dup;
    o.pack_max_instance = max_instance;
    o.pack_max_bytes = max_bytes;
    if (huren_index_open(&t->idx, &o, err, sizeof(err)) != 0)
        fail_msg("open: %s", err);
}

struct where {
    char path[PATH_MAX];
    int64_t off, size;
};

static int where_cb(void *payload, const huren_index_row *row)
{
    struct where *w = payload;
    snprintf(w->path, sizeof(w->path), "%s", row->blob_path);
    w->off = row->blob_offset;
    w->size = row->blob_size;
    return 0;
}

static struct where where_of(huren_index *idx, const char *sop)
{
    struct where w = {"", -1, -1};
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, sop};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, &m, 1, 0, 0};
    assert_int_equal(huren_index_find(idx, &q, where_cb, &w), 1);
    return w;
}

/* The bytes an instance row points at. */
static char *bytes_of(huren_index *idx, const char *sop)
{
    struct where w = where_of(idx, sop);
    char *buf = calloc(1, (size_t)w.size + 1);
    int fd = open(w.path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, (size_t)w.size, w.off), w.size);
    close(fd);
    return buf;
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static void packs_hold_small_instances(void **state)
{
    (void)state;
    tfix t = {0};
    tinst in;
    char sop[64];
    open_packed(&t, 100, 0, HUREN_INDEX_DUP_KEEP);
    for (int i = 0; i < 5; i++) {
        snprintf(sop, sizeof(sop), "1.2.3.4.%d", i);
        tinst_init(&in, "P1", "1.2.3", "1.2.3.4", sop, "CT", CT);
        char content[32];
        snprintf(content, sizeof(content), "instance number %d", i);
        assert_int_equal(put_ok(t.idx, &in, content), HUREN_INDEX_PUT_STORED);
    }
    /* a large one still gets a file of its own */
    char big[256];
    memset(big, 'B', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.99", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, big), HUREN_INDEX_PUT_STORED);

    char blobs[PATH_MAX];
    snprintf(blobs, sizeof(blobs), "%s/blobs", t.dir);
    assert_int_equal(count_files(blobs), 1); /* the big one; packs are not counted */
    struct where w0 = where_of(t.idx, "1.2.3.4.0"), w4 = where_of(t.idx, "1.2.3.4.4");
    assert_string_equal(w0.path, w4.path);
    assert_non_null(strstr(w0.path, "/blobs/pack/"));
    assert_int_equal(w0.off, 0);
    assert_true(w4.off > w0.off);
    char *b = bytes_of(t.idx, "1.2.3.4.3");
    assert_string_equal(b, "instance number 3");
    free(b);
    assert_int_equal(where_of(t.idx, "1.2.3.4.99").off, 0);
    b = bytes_of(t.idx, "1.2.3.4.99");
    assert_string_equal(b, big);
    free(b);
    /* zeros are written ahead of the pack's end (appends then overwrite, and their fdatasync
     * flushes data only); the measure leaves them out, and closing cuts them */
    huren_index_pack_stats ps;
    assert_int_equal(huren_index_pack_usage(t.idx, &ps), 0);
    assert_int_equal(ps.bytes, 5 * 17);
    assert_int_equal(ps.garbage_bytes, 0);
    assert_true(ps.ahead_bytes > 0);
    assert_int_equal(file_size(w0.path), 5 * 17 + ps.ahead_bytes);
    huren_index_close(t.idx);
    t.idx = NULL;
    assert_int_equal(file_size(w0.path), 5 * 17);
    tfix_close(&t);
}

static void keep_tmp_and_replace(void **state)
{
    (void)state;
    tfix t = {0};
    tinst in;
    char path[PATH_MAX];
    huren_index_put_outcome out;
    open_packed(&t, 100, 0, HUREN_INDEX_DUP_REPLACE);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    tmp_write(t.idx, "old bytes", path, sizeof(path));
    assert_int_equal(huren_index_instance_put_ex(t.idx, in.v, path, HUREN_INDEX_PUT_KEEP_TMP, &out),
                     0);
    assert_int_equal(out, HUREN_INDEX_PUT_STORED);
    assert_true(file_exists(path)); /* left for the caller to reuse */
    tmp_write(t.idx, "new bytes!", path, sizeof(path));
    assert_int_equal(huren_index_instance_put_ex(t.idx, in.v, path, 0, &out), 0);
    assert_int_equal(out, HUREN_INDEX_PUT_REPLACED);
    assert_false(file_exists(path));
    char *b = bytes_of(t.idx, "1.2.3.4.5");
    assert_string_equal(b, "new bytes!");
    free(b);
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.instances, 1);
    assert_int_equal(s.bytes, 10);
    tfix_close(&t);
}

static void uncommitted_tail_trimmed_at_open(void **state)
{
    (void)state;
    tfix t = {0};
    tinst in;
    open_packed(&t, 100, 0, HUREN_INDEX_DUP_KEEP);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "committed"), HUREN_INDEX_PUT_STORED);
    struct where w = where_of(t.idx, "1.2.3.4.5");
    huren_index_close(t.idx);
    t.idx = NULL;
    /* what a batch killed before its commit leaves: bytes past the last committed instance */
    int fd = open(w.path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage", 7), 7);
    close(fd);
    assert_int_equal(file_size(w.path), 9 + 7);
    open_packed(&t, 100, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(file_size(w.path), 9);
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.6", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "next"), HUREN_INDEX_PUT_STORED);
    char *b = bytes_of(t.idx, "1.2.3.4.6");
    assert_string_equal(b, "next");
    free(b);
    assert_int_equal(where_of(t.idx, "1.2.3.4.6").off, 9);
    tfix_close(&t);
}

static void packs_rotate(void **state)
{
    (void)state;
    tfix t = {0};
    tinst in;
    char sop[64];
    open_packed(&t, 100, 50, HUREN_INDEX_DUP_KEEP);
    for (int i = 0; i < 6; i++) {
        snprintf(sop, sizeof(sop), "1.2.3.4.%d", i);
        tinst_init(&in, "P1", "1.2.3", "1.2.3.4", sop, "CT", CT);
        assert_int_equal(put_ok(t.idx, &in, "twenty bytes of data"), HUREN_INDEX_PUT_STORED);
    }
    struct where a = where_of(t.idx, "1.2.3.4.0"), b = where_of(t.idx, "1.2.3.4.1"),
                 c = where_of(t.idx, "1.2.3.4.2");
    assert_string_equal(a.path, b.path);
    assert_string_not_equal(a.path, c.path); /* 60 bytes would pass 50: a new pack */
    assert_int_equal(c.off, 0);
    for (int i = 0; i < 6; i++) {
        snprintf(sop, sizeof(sop), "1.2.3.4.%d", i);
        char *bytes = bytes_of(t.idx, sop);
        assert_string_equal(bytes, "twenty bytes of data");
        free(bytes);
    }
    tfix_close(&t);
}

/* HUREN_INDEX_PUT_DEFER_SYNC: the put returns once committed (rows visible), the syncer
 * fdatasyncs the WAL behind it, huren_index_durable_wait() returns once it has; a put without
 * the flag is synced by SQLite and counts the deferred ones before it as synced. */
static void deferred_wal_sync(void **state)
{
    (void)state;
    tfix t = {0};
    tinst in;
    char sop[64], tmp[PATH_MAX];
    open_packed(&t, 1000, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_durable_wait(t.idx), 0); /* nothing deferred: at once */
    for (int i = 0; i < 20; i++) {
        snprintf(sop, sizeof(sop), "1.2.3.4.%d", i);
        tinst_init(&in, "P1", "1.2.3", "1.2.3.4", sop, "CT", CT);
        tmp_write(t.idx, "deferred", tmp, sizeof(tmp));
        huren_index_put_outcome o;
        assert_int_equal(
            huren_index_instance_put_ex(t.idx, in.v, tmp, HUREN_INDEX_PUT_DEFER_SYNC, &o), 0);
        assert_int_equal(o, HUREN_INDEX_PUT_STORED);
        char *b = bytes_of(t.idx, sop); /* committed: visible before the wait */
        assert_string_equal(b, "deferred");
        free(b);
        assert_int_equal(huren_index_durable_wait(t.idx), 0);
    }
    int64_t deferred = 0, syncs = 0;
    huren_index__durable_stats(t.idx, &deferred, &syncs);
    assert_int_equal(deferred, 20);
    assert_true(syncs >= 1 && syncs <= 20);
    pthread_mutex_lock(&t.idx->slock);
    assert_true(t.idx->synced_seq == t.idx->deferred_seq);
    pthread_mutex_unlock(&t.idx->slock);
    /* a put without the flag runs FULL again, and a later wait has nothing to wait for */
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.99", "CT", CT);
    assert_int_equal(put_ok(t.idx, &in, "full"), HUREN_INDEX_PUT_STORED);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(t.idx->wdb, "PRAGMA synchronous", -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
    sqlite3_finalize(st);
    assert_int_equal(huren_index_durable_wait(t.idx), 0);
    /* everything is there after a reopen */
    tfix_reopen(&t);
    char *b = bytes_of(t.idx, "1.2.3.4.19");
    assert_string_equal(b, "deferred");
    free(b);
    tfix_close(&t);
}

const struct CMUnitTest pack_tests[] = {
    cmocka_unit_test(deferred_wal_sync),    cmocka_unit_test(packs_hold_small_instances),
    cmocka_unit_test(keep_tmp_and_replace), cmocka_unit_test(uncommitted_tail_trimmed_at_open),
    cmocka_unit_test(packs_rotate),
};
const size_t pack_ntests = sizeof(pack_tests) / sizeof(pack_tests[0]);
