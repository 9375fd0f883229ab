/* pacs_cache.c: the fetch cache of studies held at a PACS (schema step 14). The instances a
 * fetch brought are marked as copies (pacs_cached); a study all of whose instances are such
 * copies may be evicted, least recently read first: its instances and series go, the study
 * row stays as held only at its PACS (NEARLINE, republished) so that it can be fetched again.
 * Last reads arrive in batches from the gateway, never one write per instance read. */
#include "index_int.h"
#include "index_pacs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int uid_check(huren_index *idx, const char *uid)
{
    if (!uid || !*uid || strlen(uid) > 64) {
        huren_index__seterr(idx, "not a UID");
        return HUREN_INDEX_EINVAL;
    }
    return 0;
}

/* One statement on the writer: text ?1, int ?2 (when ni). */
static int wrun(huren_index *idx, const char *sql, const char *t, const int64_t *i2,
                const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    if (i2)
        sqlite3_bind_int64(s, 2, *i2);
    rc = huren_index__step_done(idx, s, what);
    sqlite3_finalize(s);
    return rc;
}

int huren_index_pacs_cache_mark(huren_index *idx, const char *study_uid, int64_t now)
{
    int rc = uid_check(idx, study_uid);
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    rc = wrun(idx,
              "INSERT OR IGNORE INTO pacs_cached(instance_pk, study_pk, bytes)"
              " SELECT i.pk, st.pk, i.blob_size FROM studies st"
              " JOIN pacs_studies ps ON ps.study_pk = st.pk"
              " JOIN series se ON se.study_pk = st.pk JOIN instances i ON i.series_pk = se.pk"
              " WHERE st.study_uid=?1",
              study_uid, NULL, "marking fetched instances");
    if (rc == 0)
        rc = wrun(idx,
                  "UPDATE pacs_studies SET last_read = max(last_read, ?2)"
                  " WHERE study_pk = (SELECT pk FROM studies WHERE study_uid=?1)",
                  study_uid, &now, "noting a read");
    return huren_index__txn_end(idx, rc);
}

int huren_index_pacs_cache_touch(huren_index *idx, const char *const *study_uids, const int64_t *at,
                                 size_t n)
{
    if (!n)
        return 0;
    int rc = huren_index__txn_begin(idx);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (study_uids[i] && *study_uids[i])
            rc = wrun(idx,
                      "UPDATE pacs_studies SET last_read = max(last_read, ?2)"
                      " WHERE study_pk = (SELECT pk FROM studies WHERE study_uid=?1)",
                      study_uids[i], &at[i], "noting reads");
    return huren_index__txn_end(idx, rc);
}

/* A read of one row on a reader connection (text ?1, int ?2 when i2). */
static int rread(huren_index *idx, const char *sql, const char *t, const int64_t *i2,
                 int (*row)(void *ctx, sqlite3_stmt *s), void *ctx, const char *what)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, t ? t : "", -1, SQLITE_STATIC);
        if (i2)
            sqlite3_bind_int64(s, 2, *i2);
        while ((src = sqlite3_step(s)) == SQLITE_ROW && row(ctx, s) == 0)
            ;
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(idx, db, src, what);
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

static int usage_row(void *ctx, sqlite3_stmt *s)
{
    int64_t *out = ctx;
    out[0] = sqlite3_column_int64(s, 0);
    out[1] = sqlite3_column_int64(s, 1);
    return 1;
}

int huren_index_pacs_cache_usage(huren_index *idx, const char *pacs, int64_t *bytes,
                                 int64_t *studies)
{
    int64_t r[2] = {0, 0};
    int rc = rread(idx,
                   "SELECT coalesce(sum(c.bytes), 0), count(DISTINCT c.study_pk)"
                   " FROM pacs_cached c JOIN pacs_studies ps ON ps.study_pk = c.study_pk"
                   " WHERE ps.pacs=?1",
                   pacs, NULL, usage_row, r, "measuring the fetch cache");
    if (bytes)
        *bytes = r[0];
    if (studies)
        *studies = r[1];
    return rc;
}

typedef struct lru_ctx {
    huren_index_pacs_cached *out;
    size_t max, n;
} lru_ctx;

static int lru_row(void *ctx, sqlite3_stmt *s)
{
    lru_ctx *c = ctx;
    if (c->n == c->max)
        return 1;
    huren_index_pacs_cached *e = &c->out[c->n++];
    const char *u = (const char *)sqlite3_column_text(s, 0);
    snprintf(e->study_uid, sizeof e->study_uid, "%s", u ? u : "");
    e->bytes = sqlite3_column_int64(s, 1);
    e->last_read = sqlite3_column_int64(s, 2);
    return 0;
}

int huren_index_pacs_cache_lru(huren_index *idx, const char *pacs, huren_index_pacs_cached *out,
                               size_t max, size_t *n)
{
    lru_ctx c = {out, max, 0};
    int64_t lim = (int64_t)max;
    int rc = rread(idx,
                   "SELECT st.study_uid, sum(c.bytes), ps.last_read FROM pacs_studies ps"
                   " JOIN studies st ON st.pk = ps.study_pk"
                   " JOIN pacs_cached c ON c.study_pk = st.pk WHERE ps.pacs=?1"
                   " GROUP BY st.pk HAVING count(*) = st.study_num_instances"
                   " ORDER BY ps.last_read, st.pk LIMIT ?2",
                   pacs, &lim, lru_row, &c, "listing the fetch cache");
    *n = c.n;
    return rc;
}

typedef struct evictee {
    int64_t pk, size;
    char uid[65];
    char name[HUREN_INDEX__BLOB_NAME_MAX];
} evictee;

/* The study's instances when every one is a fetched copy; ENOTFOUND otherwise. */
static int evictees_collect(huren_index *idx, const char *study_uid, evictee **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(
        idx,
        "SELECT i.pk, i.sop_instance_uid, coalesce(i.blob_name, ''), i.blob_size,"
        " c.instance_pk IS NOT NULL FROM studies st JOIN pacs_studies ps ON ps.study_pk = st.pk"
        " JOIN series se ON se.study_pk = st.pk JOIN instances i ON i.series_pk = se.pk"
        " LEFT JOIN pacs_cached c ON c.instance_pk = i.pk WHERE st.study_uid=?1",
        &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, study_uid, -1, SQLITE_STATIC);
    size_t cap = 0;
    int src, direct = 0;
    *out = NULL;
    *n = 0;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        direct |= !sqlite3_column_int(s, 4);
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            evictee *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                huren_index__seterr(idx, "out of memory");
                rc = HUREN_INDEX_ERROR;
                break;
            }
            *out = v;
        }
        evictee *e = &(*out)[(*n)++];
        e->pk = sqlite3_column_int64(s, 0);
        snprintf(e->uid, sizeof e->uid, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(e->name, sizeof e->name, "%s", (const char *)sqlite3_column_text(s, 2));
        e->size = sqlite3_column_int64(s, 3);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = huren_index__sqlerr(idx, idx->wdb, src, "listing a cached study");
    sqlite3_finalize(s);
    if (rc == 0 && (direct || *n == 0)) {
        huren_index__seterr(idx, "study %s: %s", study_uid,
                            direct ? "has instances stored here directly" : "no cached instance");
        rc = HUREN_INDEX_ENOTFOUND;
    }
    return rc;
}

/* Inside the transaction: the rows (own files journalled first), the study republished. */
static int evictees_remove(huren_index *idx, const char *study_uid, const evictee *v, size_t n,
                           int64_t *bytes)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (v[i].name[0] && !huren_index__pack_is(v[i].name) &&
            (rc = huren_index__pending_add(idx, v[i].name, v[i].uid)) < 0) {
            huren_index__seterr(idx, "writing the pending-blob journal: %s", strerror(-rc));
            return HUREN_INDEX_EIO;
        }
        rc = huren_index__rows_remove_ex(idx->rows, v[i].pk, 1);
        *bytes += v[i].size;
    }
    return rc == 0 ? huren_index__outbox_study(idx, study_uid) : rc;
}

int huren_index_pacs_cache_evict(huren_index *idx, const char *study_uid, int64_t *bytes)
{
    evictee *v = NULL;
    size_t n = 0;
    int64_t freed = 0;
    int rc = uid_check(idx, study_uid);
    if (rc < 0)
        return rc;
    huren_index__writer_acquire(idx);
    int src = sqlite3_exec(idx->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "BEGIN");
    if (rc == 0)
        rc = evictees_collect(idx, study_uid, &v, &n);
    if (rc == 0)
        rc = evictees_remove(idx, study_uid, v, n, &freed);
    if (rc == 0 && (src = sqlite3_exec(idx->wdb, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        rc = huren_index__sqlerr(idx, idx->wdb, src, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[PATH_MAX];
        if (v[i].name[0] && !huren_index__pack_is(v[i].name) &&
            huren_index__blob_path(idx, v[i].name, path, sizeof path) == 0)
            (void)unlink(path);
    }
    huren_index__pending_clear(idx);
    huren_index__writer_release(idx);
    free(v);
    if (bytes)
        *bytes = rc == 0 ? freed : 0;
    return rc;
}
