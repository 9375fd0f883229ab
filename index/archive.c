/* archive.c: the handle. Opening creates data_dir/{blobs,tmp}, clears tmp/, opens the writer
 * connection (WAL, migrations) and keeps a pool of reader connections so that queries never
 * wait for writes. Also the totals for health and metrics. */
#include "index_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_ok(const char *path)
{
    return (mkdir(path, 0750) == 0 || errno == EEXIST) ? 0 : -errno;
}

static int conn_open(huren_index *idx, sqlite3 **out, int writer, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(idx->db_path, &db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, idx->opts.busy_timeout_ms);
    if (rc == SQLITE_OK && writer) {
        /* temp_store=MEMORY: the writer's statement journals (one statement's undo, small) stay
         * in memory; on disk each put's journal was a new file created and unlinked in
         * /var/tmp. Durability is the WAL's and does not change. */
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
                 " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                 idx->opts.fsync ? "FULL" : "OFF");
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "PRAGMA query_only=1; PRAGMA cache_size=-16384;", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "opening %s: %s", idx->db_path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return SQLITE_OK;
}

static int journal_is_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return wal;
}

static int dirs_make(huren_index *idx, const char *data_dir, char *err, size_t errlen)
{
    char abs[PATH_MAX];
    int rc = mkdir_ok(data_dir);
    if (rc == 0 && !realpath(data_dir, abs))
        rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "data folder %.300s: %s", data_dir, strerror(-rc));
        return HUREN_INDEX_EIO;
    }
    if (asprintf(&idx->data_dir, "%s", abs) < 0 || asprintf(&idx->blob_dir, "%s/blobs", abs) < 0 ||
        asprintf(&idx->tmp_dir, "%s/tmp", abs) < 0 ||
        asprintf(&idx->db_path, "%s/index.db", abs) < 0) {
        snprintf(err, errlen, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    if ((rc = mkdir_ok(idx->blob_dir)) < 0 || (rc = mkdir_ok(idx->tmp_dir)) < 0 ||
        (rc = huren_index__tmp_clean(idx)) < 0) {
        snprintf(err, errlen, "preparing %.300s: %s", abs, strerror(-rc));
        return HUREN_INDEX_EIO;
    }
    return 0;
}

int huren_index_open(huren_index **out, const huren_index_options *opts, char *err, size_t errlen)
{
    char ebuf[HUREN_INDEX__ERR_MAX] = "";
    huren_index *idx = NULL;
    int rc = HUREN_INDEX_ERROR;
    if (out)
        *out = NULL;
    if (!out || !opts || !opts->data_dir || !*opts->data_dir) {
        snprintf(ebuf, sizeof(ebuf), "data_dir is required");
        rc = HUREN_INDEX_EINVAL;
        goto done;
    }
    if (!(idx = calloc(1, sizeof(*idx)))) {
        snprintf(ebuf, sizeof(ebuf), "out of memory");
        goto done;
    }
    idx->pending_fd = -1;
    idx->pack_fd = -1;
    idx->wal_fd = -1;
    idx->opts = *opts;
    if (idx->opts.pack_max_bytes <= 0)
        idx->opts.pack_max_bytes = HUREN_INDEX_PACK_MAX_BYTES;
    idx->opts.data_dir = NULL; /* not owned; the absolute copy is idx->data_dir */
    if (idx->opts.busy_timeout_ms < 0)
        idx->opts.busy_timeout_ms = 0;
    idx->batch_max = opts->group_commit_max > 0 ? opts->group_commit_max : 1;
    pthread_mutex_init(&idx->qlock, NULL);
    pthread_cond_init(&idx->qcond, NULL);
    pthread_mutex_init(&idx->rlock, NULL);
    pthread_mutex_init(&idx->slock, NULL);
    pthread_cond_init(&idx->scond, NULL);
    pthread_cond_init(&idx->dcond, NULL);
    if (!(idx->batch = calloc((size_t)idx->batch_max, sizeof(*idx->batch)))) {
        snprintf(ebuf, sizeof(ebuf), "out of memory");
        goto done;
    }
    if ((rc = dirs_make(idx, opts->data_dir, ebuf, sizeof(ebuf))) < 0)
        goto done;
    rc = HUREN_INDEX_ERROR;
    if (conn_open(idx, &idx->wdb, 1, ebuf, sizeof(ebuf)) != SQLITE_OK)
        goto done;
    if (!journal_is_wal(idx->wdb)) {
        snprintf(ebuf, sizeof(ebuf), "%s: cannot switch to WAL mode", idx->db_path);
        goto done;
    }
    (void)huren_index__schema_current(idx->wdb, &idx->schema_version_opened); /* migrate says */
    if (huren_index__schema_migrate(idx->wdb, 0, &idx->schema_version, ebuf, sizeof(ebuf)))
        goto done;
    if ((rc = huren_index__rows_prepare(idx, idx->wdb, &idx->rows)) < 0 ||
        (rc = huren_index__recrows_prepare(idx, idx->wdb, &idx->recrows)) < 0) {
        snprintf(ebuf, sizeof(ebuf), "%s", huren_index_errmsg(idx));
        goto done;
    }
    if ((rc = huren_index__pending_open(idx, ebuf, sizeof(ebuf))) < 0 ||
        (rc = huren_index__pack_open(idx, ebuf, sizeof(ebuf))) < 0 ||
        (rc = huren_index__durable_open(idx, ebuf, sizeof(ebuf))) < 0)
        goto done;
    *out = idx;
    idx = NULL;
    rc = HUREN_INDEX_OK;
done:
    if (rc < 0 && err && errlen)
        snprintf(err, errlen, "%s", ebuf);
    huren_index_close(idx);
    return rc;
}

void huren_index_close(huren_index *idx)
{
    if (!idx)
        return;
    if (idx->wdb) {
        huren_index__writer_acquire(idx); /* let a running group commit finish */
        sqlite3_exec(idx->wdb, "PRAGMA optimize", NULL, NULL, NULL);
    }
    huren_index__durable_close(idx); /* outstanding deferred commits synced first */
    for (int i = 0; i < idx->nreaders; i++)
        sqlite3_close(idx->readers[i]);
    huren_index__rows_finalize(idx->rows);
    huren_index__recrows_finalize(idx->recrows);
    huren_index__dirrows_finalize(idx->dirrows);
    huren_index__outrows_finalize(idx->outrows);
    sqlite3_close(idx->wdb); /* the last connection checkpoints and removes the WAL */
    if (idx->pending_fd >= 0)
        close(idx->pending_fd);
    huren_index__pack_close(idx);
    pthread_mutex_destroy(&idx->qlock);
    pthread_cond_destroy(&idx->qcond);
    pthread_mutex_destroy(&idx->rlock);
    pthread_mutex_destroy(&idx->slock);
    pthread_cond_destroy(&idx->scond);
    pthread_cond_destroy(&idx->dcond);
    free(idx->batch);
    free(idx->data_dir);
    free(idx->blob_dir);
    free(idx->tmp_dir);
    free(idx->db_path);
    free(idx);
}

int huren_index_schema_version(const huren_index *idx)
{
    return idx ? idx->schema_version : 0;
}

int huren_index_schema_version_opened(const huren_index *idx)
{
    return idx ? idx->schema_version_opened : 0;
}

const char *huren_index_tmp_dir(const huren_index *idx)
{
    return idx ? idx->tmp_dir : NULL;
}

int huren_index__reader_get(huren_index *idx, sqlite3 **out)
{
    char ebuf[HUREN_INDEX__ERR_MAX];
    *out = NULL;
    pthread_mutex_lock(&idx->rlock);
    if (idx->nreaders > 0)
        *out = idx->readers[--idx->nreaders];
    pthread_mutex_unlock(&idx->rlock);
    if (*out)
        return 0;
    if (conn_open(idx, out, 0, ebuf, sizeof(ebuf)) != SQLITE_OK) {
        huren_index__seterr(idx, "%s", ebuf);
        return HUREN_INDEX_ERROR;
    }
    return 0;
}

void huren_index__reader_put(huren_index *idx, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&idx->rlock);
    if (idx->nreaders < HUREN_INDEX__READERS_IDLE) {
        idx->readers[idx->nreaders++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&idx->rlock);
    sqlite3_close(db);
}

int huren_index_stats_get(huren_index *idx, huren_index_stats *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc;
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = huren_index__reader_get(idx, &db)) < 0)
        return rc;
    int src = sqlite3_prepare_v2(
        db, "SELECT patients, studies, series, instances, bytes FROM totals WHERE id = 1", -1, &st,
        NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        out->patients = sqlite3_column_int64(st, 0);
        out->studies = sqlite3_column_int64(st, 1);
        out->series = sqlite3_column_int64(st, 2);
        out->instances = sqlite3_column_int64(st, 3);
        out->bytes = sqlite3_column_int64(st, 4);
        src = SQLITE_OK;
    }
    if (src == SQLITE_DONE)
        src = SQLITE_OK; /* no totals row: an empty archive */
    rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "reading totals");
    sqlite3_finalize(st);
    huren_index__reader_put(idx, db);
    return rc;
}
