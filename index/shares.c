/* shares.c: cloud film shares (schema 16, index_shares.h). A share is found by the SHA-256 of
 * its token (indexed), and the token then compared in constant time, so that neither the
 * lookup nor the comparison tells how much of a guessed token was right. */
#include "index_int.h"
#include "index_shares.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARE_COLS                                                                                 \
    "pk, study_uid, patient_id, token, pin_hash, pin_failures, created_by, created_at,"            \
    " expires_at, revoked_at, revoked_by, opened"

static void token_hash(const char *token, char out[65])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), h);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int fits(const char *s, size_t cap, int required)
{
    size_t n = strnlen(s, cap);
    return n < cap && (!required || n > 0);
}

int huren_index_share_put(huren_index *idx, const huren_index_share *sh, int64_t *id)
{
    if (!idx || !sh || !fits(sh->study_uid, sizeof sh->study_uid, 1) ||
        !fits(sh->token, sizeof sh->token, 1) || !fits(sh->created_by, sizeof sh->created_by, 1) ||
        !fits(sh->patient_id, sizeof sh->patient_id, 0) ||
        !fits(sh->pin_hash, sizeof sh->pin_hash, 0) || sh->expires_at <= 0) {
        if (idx)
            huren_index__seterr(idx, "share: study, token, creator and expiry are required");
        return HUREN_INDEX_EINVAL;
    }
    char th[65];
    token_hash(sh->token, th);
    sqlite3_stmt *s = NULL;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = huren_index__wprep(idx,
                            "INSERT INTO shares(study_uid, patient_id, token, token_hash, pin_hash,"
                            " created_by, created_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                            &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, sh->study_uid, -1, SQLITE_STATIC);
        huren_index__bind_opt(s, 2, sh->patient_id);
        sqlite3_bind_text(s, 3, sh->token, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, th, -1, SQLITE_STATIC);
        huren_index__bind_opt(s, 5, sh->pin_hash);
        sqlite3_bind_text(s, 6, sh->created_by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 7, sh->created_at ? sh->created_at : (int64_t)time(NULL));
        sqlite3_bind_int64(s, 8, sh->expires_at);
        rc = huren_index__step_done(idx, s, "storing share");
    }
    sqlite3_finalize(s);
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(idx->wdb);
    return huren_index__txn_end(idx, rc);
}

static void copy_col(char *out, size_t cap, sqlite3_stmt *s, int i)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", v ? (const char *)v : "");
}

static void share_fill(sqlite3_stmt *s, huren_index_share *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(s, 0);
    copy_col(o->study_uid, sizeof o->study_uid, s, 1);
    copy_col(o->patient_id, sizeof o->patient_id, s, 2);
    copy_col(o->token, sizeof o->token, s, 3);
    copy_col(o->pin_hash, sizeof o->pin_hash, s, 4);
    o->pin_failures = sqlite3_column_int(s, 5);
    copy_col(o->created_by, sizeof o->created_by, s, 6);
    o->created_at = sqlite3_column_int64(s, 7);
    o->expires_at = sqlite3_column_int64(s, 8);
    o->revoked_at = sqlite3_column_int64(s, 9);
    copy_col(o->revoked_by, sizeof o->revoked_by, s, 10);
    o->opened = sqlite3_column_int64(s, 11);
}

/* Run a read; each row goes to *out (grown when many). Returns rows or a negative code. */
static int share_read(huren_index *idx, const char *sql, int64_t id, const char *text,
                      huren_index_share **out, size_t max)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db), n = 0, src = SQLITE_OK;
    if (rc == 0 && (src = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK)
        rc = huren_index__sqlerr(idx, db, src, "preparing shares");
    if (rc == 0) {
        if (text)
            sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, 1, id);
        size_t cap = max;
        while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
            if ((size_t)n == cap) {
                huren_index_share *g = realloc(*out, (cap *= 2) * sizeof *g);
                if (!g) {
                    huren_index__seterr(idx, "out of memory");
                    rc = HUREN_INDEX_ERROR;
                    break;
                }
                *out = g;
            }
            share_fill(s, &(*out)[n++]);
        }
        if (rc == 0 && src != SQLITE_DONE)
            rc = huren_index__sqlerr(idx, db, src, "reading shares");
    }
    sqlite3_finalize(s);
    if (db)
        huren_index__reader_put(idx, db);
    return rc < 0 ? rc : n;
}

int huren_index_share_get(huren_index *idx, int64_t id, huren_index_share *out)
{
    huren_index_share *p = out;
    int n = share_read(idx, "SELECT " SHARE_COLS " FROM shares WHERE pk = ?1", id, NULL, &p, 1);
    return n < 0 ? n : n == 0 ? HUREN_INDEX_ENOTFOUND : 0;
}

int huren_index_share_by_token(huren_index *idx, const char *token, huren_index_share *out)
{
    char th[65];
    if (!token || !*token || strlen(token) >= sizeof out->token)
        return HUREN_INDEX_ENOTFOUND;
    token_hash(token, th);
    huren_index_share *p = out;
    int n =
        share_read(idx, "SELECT " SHARE_COLS " FROM shares WHERE token_hash = ?1", 0, th, &p, 1);
    if (n < 0)
        return n;
    size_t len = strlen(token);
    if (n == 0 || strlen(out->token) != len || CRYPTO_memcmp(out->token, token, len) != 0)
        return HUREN_INDEX_ENOTFOUND;
    return 0;
}

int huren_index_shares_find(huren_index *idx, const char *study_uid, huren_index_share **out,
                            size_t *n)
{
    *n = 0;
    if (!(*out = malloc(4 * sizeof **out)))
        return HUREN_INDEX_ERROR;
    int rc = share_read(idx,
                        "SELECT " SHARE_COLS " FROM shares WHERE ?1 = '' OR study_uid = ?1"
                        " ORDER BY pk DESC",
                        0, study_uid ? study_uid : "", out, 4);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        return rc;
    }
    *n = (size_t)rc;
    return 0;
}

/* One UPDATE of share id (bound as ?1), in its own transaction; ENOTFOUND when no row. */
static int share_update(huren_index *idx, const char *sql, int64_t id, int64_t at, const char *by)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = huren_index__wprep(idx, sql, &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, at);
        if (by)
            sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
        rc = huren_index__step_done(idx, s, "updating share");
    }
    sqlite3_finalize(s);
    if (rc == 0 && sqlite3_changes(idx->wdb) == 0) {
        rc = huren_index__wprep(idx, "SELECT 1 FROM shares WHERE pk = ?1", &s);
        if (rc == 0) {
            sqlite3_bind_int64(s, 1, id);
            if (sqlite3_step(s) != SQLITE_ROW) {
                huren_index__seterr(idx, "no share %lld", (long long)id);
                rc = HUREN_INDEX_ENOTFOUND;
            }
        }
        sqlite3_finalize(s);
    }
    return huren_index__txn_end(idx, rc);
}

int huren_index_share_revoke(huren_index *idx, int64_t id, const char *by, int64_t at)
{
    if (!idx || !by || !*by || strlen(by) > 256)
        return HUREN_INDEX_EINVAL;
    return share_update(idx,
                        "UPDATE shares SET revoked_at = ?2, revoked_by = ?3 WHERE pk = ?1 AND"
                        " revoked_at = 0",
                        id, at > 0 ? at : (int64_t)time(NULL), by);
}

int huren_index_share_pin_failed(huren_index *idx, int64_t id, int *failures)
{
    int rc = share_update(idx,
                          "UPDATE shares SET pin_failures = pin_failures + 1 + 0 * ?2"
                          " WHERE pk = ?1",
                          id, 0, NULL);
    huren_index_share sh;
    if (rc == 0 && (rc = huren_index_share_get(idx, id, &sh)) == 0 && failures)
        *failures = sh.pin_failures;
    return rc;
}

int huren_index_share_pin_ok(huren_index *idx, int64_t id)
{
    return share_update(idx, "UPDATE shares SET pin_failures = 0 * ?2 WHERE pk = ?1", id, 0, NULL);
}

int huren_index_share_opened(huren_index *idx, int64_t id)
{
    return share_update(idx, "UPDATE shares SET opened = opened + 1 + 0 * ?2 WHERE pk = ?1", id, 0,
                        NULL);
}
