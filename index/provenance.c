/* provenance.c: pixel fingerprints (schema 15). Each instance keeps the SHA-256 of its
 * PixelData (computed by the gateway through dicom/ at ingest); a study's root is the SHA-256
 * of its instances' fingerprints sorted, one per line: what a claim, a recognition answer and
 * the directory entry carry. Instances from before step 15 are fingerprinted by the backfill. */
#include "index_int.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKFILL_BATCH 256

/* instances of a study: all, and the fingerprints in byte order ('' = no PixelData) */
static const char *const fingerprints_sql =
    "SELECT i.pixel_sha256 FROM instances i JOIN series se ON se.pk = i.series_pk"
    " JOIN studies st ON st.pk = se.study_pk WHERE st.study_uid = ?1"
    " ORDER BY i.pixel_sha256 COLLATE BINARY";

static int hex64(const char *v)
{
    if (!v || strlen(v) != 64)
        return 0;
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int huren_index__provenance(huren_index *idx, sqlite3 *db, const char *study_uid,
                            huren_index_provenance *out)
{
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof(*out));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int src = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                  ? sqlite3_prepare_v2(db, fingerprints_sql, -1, &s, NULL)
                  : SQLITE_NOMEM;
    if (src == SQLITE_OK)
        sqlite3_bind_text(s, 1, study_uid, -1, SQLITE_STATIC);
    int ok = 1;
    while (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        out->instances++;
        if (!v)
            out->unknown++;
        else if (hex64(v)) {
            out->fingerprinted++;
            ok = ok && EVP_DigestUpdate(md, v, 64) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1;
        }
        src = SQLITE_OK;
    }
    int rc = 0;
    if (src != SQLITE_DONE)
        rc = huren_index__sqlerr(idx, db, src, "reading fingerprints");
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    if (rc == 0 && out->fingerprinted > 0) {
        if (!ok || EVP_DigestFinal_ex(md, h, &hlen) != 1 || hlen != 32) {
            huren_index__seterr(idx, "hashing fingerprints failed");
            rc = HUREN_INDEX_ERROR;
        }
        for (unsigned i = 0; rc == 0 && i < 32; i++)
            snprintf(out->root + 2 * i, 3, "%02x", h[i]);
    }
    sqlite3_finalize(s);
    EVP_MD_CTX_free(md);
    return rc;
}

int huren_index_study_provenance(huren_index *idx, const char *study_uid,
                                 huren_index_provenance *out)
{
    sqlite3 *db = NULL;
    if (!idx || !study_uid || !out)
        return HUREN_INDEX_EINVAL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    rc = huren_index__provenance(idx, db, study_uid, out);
    huren_index__reader_put(idx, db);
    return rc;
}

/* ---- backfill ---- */

typedef struct todo {
    int64_t pk;
    char blob[128];
    char study[65];
    int64_t offset, size;
    char hex[65];
    int state; /* 0 computed, 1 no pixel data, -1 failed (left NULL) */
} todo;

static int todo_read(huren_index *idx, int64_t after, todo *t, size_t max, size_t *n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    *n = 0;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src =
        sqlite3_prepare_v2(db,
                           "SELECT i.pk, i.blob_name, i.blob_offset, i.blob_size, st.study_uid"
                           " FROM instances i JOIN series se ON se.pk = i.series_pk"
                           " JOIN studies st ON st.pk = se.study_pk"
                           " WHERE i.pixel_sha256 IS NULL AND i.pk > ?1"
                           " ORDER BY i.pk LIMIT ?2",
                           -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    }
    while (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        todo *x = &t[(*n)++];
        memset(x, 0, sizeof(*x));
        x->pk = sqlite3_column_int64(s, 0);
        const char *b = (const char *)sqlite3_column_text(s, 1);
        snprintf(x->blob, sizeof(x->blob), "%s", b ? b : "");
        x->offset = sqlite3_column_int64(s, 2);
        x->size = sqlite3_column_int64(s, 3);
        const char *u = (const char *)sqlite3_column_text(s, 4);
        snprintf(x->study, sizeof(x->study), "%s", u ? u : "");
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE)
        rc = huren_index__sqlerr(idx, db, src, "listing instances to fingerprint");
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

static int todo_write(huren_index *idx, const todo *t, size_t n)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = huren_index__wprep(idx,
                            "UPDATE instances SET pixel_sha256 = ?2 WHERE pk = ?1"
                            " AND pixel_sha256 IS NULL",
                            &s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (t[i].state < 0)
            continue;
        sqlite3_bind_int64(s, 1, t[i].pk);
        sqlite3_bind_text(s, 2, t[i].state == 0 ? t[i].hex : "", -1, SQLITE_STATIC);
        rc = huren_index__step_done(idx, s, "storing a fingerprint");
    }
    sqlite3_finalize(s);
    /* the studies' roots changed: the directory hears of them in the same commit */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (t[i].state >= 0 && t[i].study[0] && (i == 0 || strcmp(t[i].study, t[i - 1].study)))
            rc = huren_index__outbox_study(idx, t[i].study);
    return huren_index__txn_end(idx, rc);
}

int huren_index_provenance_backfill(huren_index *idx, huren_index_digest_fn fn, void *payload,
                                    huren_index_backfill_stats *stats)
{
    char path[PATH_MAX];
    if (!idx || !fn || !stats)
        return HUREN_INDEX_EINVAL;
    memset(stats, 0, sizeof(*stats));
    todo *t = calloc(BACKFILL_BATCH, sizeof(*t));
    if (!t) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    int64_t after = 0;
    size_t n = 0;
    int rc;
    while ((rc = todo_read(idx, after, t, BACKFILL_BATCH, &n)) == 0 && n > 0) {
        for (size_t i = 0; i < n; i++) {
            todo *x = &t[i];
            after = x->pk;
            x->state = -1;
            if (!x->blob[0] || huren_index__blob_path(idx, x->blob, path, sizeof(path)) < 0) {
                stats->failed++;
                continue;
            }
            int r = fn(path, x->offset, x->size, x->hex, payload);
            x->state = r == 0 && strlen(x->hex) == 64 ? 0 : r > 0 ? 1 : -1;
            if (x->state == 0)
                stats->fingerprinted++;
            else if (x->state == 1)
                stats->without_pixels++;
            else
                stats->failed++;
        }
        if ((rc = todo_write(idx, t, n)) < 0)
            break;
    }
    free(t);
    return rc;
}
