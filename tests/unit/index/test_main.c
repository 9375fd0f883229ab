/* test_main.c: the index unit test binary: shared fixtures and helpers, and main() running the
 * schema, put, query and records groups. */
#include "test_index.h"
#include "huren_err.h"
#include "../unit_filter.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tfix_open(tfix *t, int fsync, huren_index_dup_policy dup)
{
    char err[HUREN_ERRLEN] = "";
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    snprintf(t->dir, sizeof(t->dir), "%s/huren-index-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(t->dir));
    o.data_dir = t->dir;
    o.fsync = fsync;
    o.dup_policy = dup;
    int rc = huren_index_open(&t->idx, &o, err, sizeof(err));
    if (rc != 0)
        fail_msg("open: %s", err);
}

void tfix_reopen(tfix *t)
{
    char err[HUREN_ERRLEN] = "";
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    o.data_dir = t->dir;
    o.fsync = 0;
    o.dup_policy = t->idx ? t->idx->opts.dup_policy : HUREN_INDEX_DUP_KEEP;
    huren_index_close(t->idx);
    t->idx = NULL;
    int rc = huren_index_open(&t->idx, &o, err, sizeof(err));
    if (rc != 0)
        fail_msg("reopen: %s", err);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tfix_close(tfix *t)
{
    huren_index_close(t->idx);
    t->idx = NULL;
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tmp_write(huren_index *idx, const char *content, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/put-XXXXXX", huren_index_tmp_dir(idx));
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
}

void tinst_init(tinst *t, const char *pid, const char *study, const char *series, const char *sop,
                const char *modality, const char *sop_class)
{
    memset(t, 0, sizeof(*t));
    t->v[HUREN_INDEX_F_PATIENT_ID] = pid;
    t->v[HUREN_INDEX_F_STUDY_UID] = study;
    t->v[HUREN_INDEX_F_SERIES_UID] = series;
    t->v[HUREN_INDEX_F_SOP_INSTANCE_UID] = sop;
    t->v[HUREN_INDEX_F_MODALITY] = modality;
    t->v[HUREN_INDEX_F_SOP_CLASS_UID] = sop_class;
}

huren_index_put_outcome put_ok(huren_index *idx, const tinst *t, const char *content)
{
    char path[PATH_MAX];
    huren_index_put_outcome out = (huren_index_put_outcome)-1;
    tmp_write(idx, content, path, sizeof(path));
    int rc = huren_index_instance_put(idx, t->v, path, &out);
    if (rc != 0)
        fail_msg("put %s: %d %s", t->v[HUREN_INDEX_F_SOP_INSTANCE_UID], rc,
                 huren_index_errmsg(idx));
    assert_false(file_exists(path));
    return out;
}

struct collect {
    huren_index_field f;
    huren_buf b;
    int n;
};

static int collect_cb(void *payload, const huren_index_row *row)
{
    struct collect *c = payload;
    const char *v = row->values[c->f];
    huren_buf_adds(&c->b, c->n++ ? "," : "");
    huren_buf_adds(&c->b, v ? v : "(null)");
    return 0;
}

char *find_list_lim(huren_index *idx, huren_index_level level, const huren_index_match *m, size_t n,
                    huren_index_field f, size_t limit, size_t offset, int *rc)
{
    struct collect c = {f, {0}, 0};
    huren_index_query q = {level, m, n, limit, offset};
    huren_buf_adds(&c.b, "");
    *rc = huren_index_find(idx, &q, collect_cb, &c);
    if (*rc < 0) {
        huren_buf_free(&c.b);
        return NULL;
    }
    assert_int_equal(*rc, c.n);
    return c.b.data;
}

char *find_list(huren_index *idx, huren_index_level level, const huren_index_match *m, size_t n,
                huren_index_field f, int *rc)
{
    return find_list_lim(idx, level, m, n, f, 0, 0, rc);
}

static int64_t count_sql(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

void assert_totals_consistent(tfix *t)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t->idx, &s), 0);
    snprintf(path, sizeof(path), "%s/index.db", t->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(s.patients, count_sql(db, "SELECT count(*) FROM patients"));
    assert_int_equal(s.studies, count_sql(db, "SELECT count(*) FROM studies"));
    assert_int_equal(s.series, count_sql(db, "SELECT count(*) FROM series"));
    assert_int_equal(s.instances, count_sql(db, "SELECT count(*) FROM instances"));
    assert_int_equal(s.bytes, count_sql(db, "SELECT coalesce(sum(blob_size),0) FROM instances"));
    /* and the per-row computed counts agree with the children */
    assert_int_equal(0, count_sql(db, "SELECT count(*) FROM patients p WHERE patient_num_studies"
                                      " <> (SELECT count(*) FROM studies WHERE patient_pk=p.pk)"));
    assert_int_equal(0, count_sql(db, "SELECT count(*) FROM studies st WHERE study_num_instances"
                                      " <> (SELECT count(*) FROM instances i JOIN series se ON"
                                      " se.pk=i.series_pk WHERE se.study_pk=st.pk)"));
    assert_int_equal(0,
                     count_sql(db, "SELECT count(*) FROM series se WHERE series_num_instances"
                                   " <> (SELECT count(*) FROM instances WHERE series_pk=se.pk)"));
    sqlite3_close(db);
}

char *file_read(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

int file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static int nfiles;
static int count_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)sb;
    (void)ftw;
    /* files of their own only: the shared pack files of small instances are not counted */
    if (flag == FTW_F && !strstr(path, "/blobs/pack/"))
        nfiles++;
    return 0;
}

int count_files(const char *dir)
{
    nfiles = 0;
    nftw(dir, count_one, 16, FTW_PHYS);
    return nfiles;
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    int failed = 0;
    failed += _cmocka_run_group_tests("schema", schema_tests, schema_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("put", put_tests, put_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("pack", pack_tests, pack_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("query", query_tests, query_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("records", records_tests, records_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("directory", directory_tests, directory_ntests, NULL, NULL);
    failed +=
        _cmocka_run_group_tests("recognition", recognition_tests, recognition_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("pacs", pacs_tests, pacs_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("shares", shares_tests, shares_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("datacare", datacare_tests, datacare_ntests, NULL, NULL);
    return failed ? 1 : 0;
}
