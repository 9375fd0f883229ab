/* consents.c: the patients' consents and the signed claims handed to insurers (schema 6).
 * Writes are rare (a consent per case, a claim per insurer request) and take the writer
 * connection for one short transaction of their own; reads run on pooled reader connections
 * and copy their answers into an arena. Which consent allows what is the gateway's rule. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_MAX 256

static const char *purpose_name(huren_index_consent_purpose p)
{
    return p == HUREN_INDEX_CONSENT_RECOGNITION ? "recognition" : "claim";
}

static int text_ok(const char *s, int required)
{
    if (!s || !*s)
        return !required;
    return strlen(s) <= TEXT_MAX;
}

static int consent_check(huren_index *idx, const huren_index_consent *c)
{
    if (!text_ok(c->patient_id, 1) || !text_ok(c->grantee, 1) || !text_ok(c->form_ref, 1) ||
        !text_ok(c->created_by, 1) || !text_ok(c->national_id, 0) || !text_ok(c->policy_ref, 0)) {
        huren_index__seterr(idx,
                            "consent: patient, grantee, form reference and creator are "
                            "required (each up to %d bytes)",
                            TEXT_MAX);
        return HUREN_INDEX_EINVAL;
    }
    if (c->nvisits > HUREN_INDEX_CONSENT_MAX_VISITS || (c->nvisits && !c->visits)) {
        huren_index__seterr(idx, "consent: more than %d visits", HUREN_INDEX_CONSENT_MAX_VISITS);
        return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < c->nvisits; i++)
        if (!text_ok(c->visits[i], 1)) {
            huren_index__seterr(idx, "consent: visit %zu is empty or too long", i + 1);
            return HUREN_INDEX_EINVAL;
        }
    if (c->expires_at <= c->valid_from) {
        huren_index__seterr(idx, "consent: expiry is not after the start");
        return HUREN_INDEX_EINVAL;
    }
    return 0;
}

static int consent_insert(huren_index *idx, const huren_index_consent *c, int64_t *id)
{
    static const char *const sql =
        "INSERT INTO consents(patient_id, national_id, policy_ref, purpose, grantee, valid_from,"
        " expires_at, form_ref, created_by, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx, sql, &s);
    if (rc == 0) {
        huren_index__bind_opt(s, 1, c->patient_id);
        huren_index__bind_opt(s, 2, c->national_id);
        huren_index__bind_opt(s, 3, c->policy_ref);
        sqlite3_bind_text(s, 4, purpose_name(c->purpose), -1, SQLITE_STATIC);
        huren_index__bind_opt(s, 5, c->grantee);
        sqlite3_bind_int64(s, 6, c->valid_from);
        sqlite3_bind_int64(s, 7, c->expires_at);
        huren_index__bind_opt(s, 8, c->form_ref);
        huren_index__bind_opt(s, 9, c->created_by);
        sqlite3_bind_int64(s, 10, c->created_at ? c->created_at : (int64_t)time(NULL));
        rc = huren_index__step_done(idx, s, "storing consent");
    }
    sqlite3_finalize(s);
    if (rc < 0)
        return rc;
    *id = sqlite3_last_insert_rowid(idx->wdb);
    if ((rc = huren_index__wprep(idx, "INSERT OR IGNORE INTO consent_visits VALUES (?1, ?2)", &s)) <
        0)
        return rc;
    for (size_t i = 0; i < c->nvisits && rc == 0; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, *id);
        sqlite3_bind_text(s, 2, c->visits[i], -1, SQLITE_STATIC);
        rc = huren_index__step_done(idx, s, "storing consent visits");
    }
    sqlite3_finalize(s);
    return rc;
}

int huren_index_consent_put(huren_index *idx, const huren_index_consent *c, int64_t *id)
{
    int64_t pk = 0;
    if (!idx || !c)
        return HUREN_INDEX_EINVAL;
    int rc = consent_check(idx, c);
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    rc = huren_index__txn_end(idx, consent_insert(idx, c, &pk));
    if (rc == 0 && id)
        *id = pk;
    return rc;
}

int huren_index_consent_revoke(huren_index *idx, int64_t id, const char *by, int64_t at)
{
    sqlite3_stmt *s = NULL;
    if (!idx || !text_ok(by, 1))
        return HUREN_INDEX_EINVAL;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = huren_index__wprep(idx,
                            "UPDATE consents SET revoked_at = ?2, revoked_by = ?3 WHERE pk = ?1 AND"
                            " revoked_at = 0",
                            &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, at > 0 ? at : (int64_t)time(NULL));
        sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
        rc = huren_index__step_done(idx, s, "revoking consent");
    }
    sqlite3_finalize(s);
    if (rc == 0 && sqlite3_changes(idx->wdb) == 0) {
        rc = huren_index__wprep(idx, "SELECT 1 FROM consents WHERE pk = ?1", &s);
        if (rc == 0) {
            sqlite3_bind_int64(s, 1, id);
            if (sqlite3_step(s) != SQLITE_ROW) {
                huren_index__seterr(idx, "no consent %lld", (long long)id);
                rc = HUREN_INDEX_ENOTFOUND;
            }
        }
        sqlite3_finalize(s);
    }
    return huren_index__txn_end(idx, rc);
}

/* ---- reads ---- */

#define CONSENT_COLS                                                                               \
    "c.pk, c.patient_id, c.national_id, c.policy_ref, c.purpose, c.grantee, c.valid_from,"         \
    " c.expires_at, c.form_ref, c.created_by, c.created_at, c.revoked_at, c.revoked_by"

/* The local ids a local or national id stands for, merges followed both ways. */
#define IDS_OF_PATIENT                                                                             \
    "SELECT p2.patient_id FROM rec_patients p2 WHERE coalesce(p2.merged_into, p2.pk) IN ("         \
    " SELECT coalesce(merged_into, pk) FROM rec_patients WHERE patient_id=?1"                      \
    " UNION SELECT coalesce(merged_into, pk) FROM rec_patients WHERE national_id=?1)"

typedef struct reader {
    huren_index *idx;
    sqlite3 *db;
    huren_index__arena *arena;
} reader;

static const char *col(reader *r, sqlite3_stmt *s, int i)
{
    return huren_index__col_copy_opt(r->arena, s, i);
}

static int visits_load(reader *r, sqlite3_stmt *vs, huren_index_consent *c)
{
    const char **v = NULL;
    size_t cap = 0;
    int src;
    sqlite3_reset(vs);
    sqlite3_bind_int64(vs, 1, c->id);
    while ((src = sqlite3_step(vs)) == SQLITE_ROW) {
        if (c->nvisits == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            const char **n = huren_index__arena_alloc(r->arena, ncap * sizeof(*n));
            if (!n)
                return 0; /* oom, reported at the end */
            if (cap)
                memcpy(n, v, cap * sizeof(*n));
            v = n;
            cap = ncap;
        }
        v[c->nvisits++] = col(r, vs, 0);
    }
    c->visits = v;
    return src == SQLITE_DONE ? 0 : huren_index__sqlerr(r->idx, r->db, src, "consent visits");
}

static void consent_fill(reader *r, sqlite3_stmt *s, huren_index_consent *c)
{
    const char *purpose = (const char *)sqlite3_column_text(s, 4);
    c->id = sqlite3_column_int64(s, 0);
    c->patient_id = col(r, s, 1);
    c->national_id = col(r, s, 2);
    c->policy_ref = col(r, s, 3);
    c->purpose = purpose && !strcmp(purpose, "recognition") ? HUREN_INDEX_CONSENT_RECOGNITION
                                                            : HUREN_INDEX_CONSENT_CLAIM;
    c->grantee = col(r, s, 5);
    c->valid_from = sqlite3_column_int64(s, 6);
    c->expires_at = sqlite3_column_int64(s, 7);
    c->form_ref = col(r, s, 8);
    c->created_by = col(r, s, 9);
    c->created_at = sqlite3_column_int64(s, 10);
    c->revoked_at = sqlite3_column_int64(s, 11);
    c->revoked_by = col(r, s, 12);
}

/* Every row of s into out, each with its visits. */
static int consents_read(reader *r, sqlite3_stmt *s, huren_index_consent_list *out)
{
    sqlite3_stmt *vs = NULL;
    size_t cap = 0;
    int src = sqlite3_prepare_v2(r->db,
                                 "SELECT visit_number FROM consent_visits WHERE consent_pk=?1"
                                 " ORDER BY visit_number",
                                 -1, &vs, NULL);
    if (src != SQLITE_OK)
        return huren_index__sqlerr(r->idx, r->db, src, "preparing consent visits");
    int rc = 0;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            huren_index_consent *n = huren_index__arena_alloc(r->arena, ncap * sizeof(*n));
            if (!n)
                break;
            if (cap)
                memcpy(n, out->items, cap * sizeof(*n));
            out->items = n;
            cap = ncap;
        }
        huren_index_consent *c = &out->items[out->n++];
        consent_fill(r, s, c);
        rc = visits_load(r, vs, c);
    }
    if (rc == 0 && src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(r->idx, r->db, src, "reading consents");
    sqlite3_finalize(vs);
    return rc;
}

/* Prepare sql on a reader, let bind() fill it, read the consents. */
static int consents_query(huren_index *idx, const char *sql,
                          void (*bind)(sqlite3_stmt *, const void *), const void *arg,
                          huren_index_consent_list *out)
{
    reader r = {idx, NULL, NULL};
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof(*out));
    if (!(r.arena = huren_index__arena_new())) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    out->arena_ = r.arena;
    int rc = huren_index__reader_get(idx, &r.db);
    if (rc == 0) {
        int src = sqlite3_prepare_v2(r.db, sql, -1, &s, NULL);
        rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, r.db, src, "preparing consents");
    }
    if (rc == 0) {
        bind(s, arg);
        rc = consents_read(&r, s, out);
    }
    sqlite3_finalize(s);
    if (r.db)
        huren_index__reader_put(idx, r.db);
    if (rc == 0 && huren_index__arena_oom(r.arena)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    if (rc < 0)
        huren_index_consent_list_free(out);
    return rc;
}

static void bind_filter(sqlite3_stmt *s, const void *arg)
{
    const huren_index_consent_filter *f = arg;
    huren_index__bind_opt(s, 1, f->patient);
    if (f->purpose >= 0)
        sqlite3_bind_text(s, 2, purpose_name((huren_index_consent_purpose)f->purpose), -1,
                          SQLITE_STATIC);
    huren_index__bind_opt(s, 3, f->grantee);
    huren_index__bind_opt(s, 4, f->policy_ref);
}

int huren_index_consents_find(huren_index *idx, const huren_index_consent_filter *f,
                              huren_index_consent_list *out)
{
    static const char *const sql =
        "SELECT " CONSENT_COLS " FROM consents c WHERE"
        " (?1 IS NULL OR c.patient_id = ?1 OR c.national_id = ?1 OR c.patient_id IN "
        "(" IDS_OF_PATIENT "))"
        " AND (?2 IS NULL OR c.purpose = ?2) AND (?3 IS NULL OR c.grantee = ?3)"
        " AND (?4 IS NULL OR c.policy_ref = ?4) ORDER BY c.pk DESC LIMIT 1000";
    if (!idx || !f || !out ||
        ((!f->patient || !*f->patient) && (!f->policy_ref || !*f->policy_ref)))
        return HUREN_INDEX_EINVAL;
    int rc = consents_query(idx, sql, bind_filter, f, out);
    return rc < 0 ? rc : (int)out->n;
}

static void bind_id(sqlite3_stmt *s, const void *arg)
{
    sqlite3_bind_int64(s, 1, *(const int64_t *)arg);
}

int huren_index_consent_get(huren_index *idx, int64_t id, huren_index_consent_list *out)
{
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    int rc = consents_query(idx, "SELECT " CONSENT_COLS " FROM consents c WHERE c.pk = ?1", bind_id,
                            &id, out);
    if (rc == 0 && out->n == 0) {
        huren_index_consent_list_free(out);
        huren_index__seterr(idx, "no consent %lld", (long long)id);
        return HUREN_INDEX_ENOTFOUND;
    }
    return rc;
}

void huren_index_consent_list_free(huren_index_consent_list *l)
{
    if (!l)
        return;
    huren_index__arena_free(l->arena_);
    memset(l, 0, sizeof(*l));
}

/* ---- claims ---- */

int huren_index_claim_put(huren_index *idx, const huren_index_claim *c, int *existing)
{
    static const char *const sql =
        "INSERT INTO claims(claim_id, insurer, request_id, request_hash, consent_pk, patient_id,"
        " visit_number, jws, created_at, version, replaces, data_hash, parts)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) ON CONFLICT DO NOTHING";
    sqlite3_stmt *s = NULL;
    if (!idx || !c || !text_ok(c->claim_id, 1) || !text_ok(c->insurer, 1) ||
        !text_ok(c->request_id, 1) || !text_ok(c->request_hash, 1) || !text_ok(c->patient_id, 1) ||
        !text_ok(c->visit_number, 1) || !c->jws || !c->jws_len) {
        if (idx)
            huren_index__seterr(idx, "claim: a required value is missing or too long");
        return HUREN_INDEX_EINVAL;
    }
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    if ((rc = huren_index__wprep(idx, sql, &s)) == 0) {
        const char *t[] = {c->claim_id, c->insurer, c->request_id, c->request_hash};
        for (int i = 0; i < 4; i++)
            sqlite3_bind_text(s, i + 1, t[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, c->consent_id);
        sqlite3_bind_text(s, 6, c->patient_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, c->visit_number, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(s, 8, c->jws, c->jws_len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 9, c->created_at ? c->created_at : (int64_t)time(NULL));
        sqlite3_bind_int64(s, 10, c->version > 0 ? c->version : 1);
        huren_index__bind_opt(s, 11, c->replaces);
        huren_index__bind_opt(s, 12, c->data_hash);
        huren_index__bind_opt(s, 13, c->parts);
        rc = huren_index__step_done(idx, s, "storing claim");
    }
    sqlite3_finalize(s);
    if (rc == 0 && existing)
        *existing = sqlite3_changes(idx->wdb) == 0;
    return huren_index__txn_end(idx, rc);
}

static int claim_row(huren_index *idx, sqlite3 *db, sqlite3_stmt *s, huren_index_claim *out)
{
    reader r = {idx, db, huren_index__arena_new()};
    out->arena_ = r.arena;
    if (!r.arena)
        return HUREN_INDEX_ERROR;
    out->claim_id = col(&r, s, 0);
    out->insurer = col(&r, s, 1);
    out->request_id = col(&r, s, 2);
    out->request_hash = col(&r, s, 3);
    out->consent_id = sqlite3_column_int64(s, 4);
    out->patient_id = col(&r, s, 5);
    out->visit_number = col(&r, s, 6);
    size_t n = (size_t)sqlite3_column_bytes(s, 7);
    char *jws = huren_index__arena_alloc(r.arena, n + 1);
    if (jws) {
        memcpy(jws, sqlite3_column_blob(s, 7), n);
        jws[n] = 0;
    }
    out->jws = jws;
    out->jws_len = n;
    out->created_at = sqlite3_column_int64(s, 8);
    out->version = sqlite3_column_int64(s, 9);
    out->replaces = col(&r, s, 10);
    out->data_hash = col(&r, s, 11);
    out->parts = col(&r, s, 12);
    return huren_index__arena_oom(r.arena) ? HUREN_INDEX_ERROR : 0;
}

#define CLAIM_COLUMNS                                                                              \
    "SELECT claim_id, insurer, request_id, request_hash, consent_pk, patient_id, visit_number,"    \
    " jws, created_at, version, replaces, data_hash, parts FROM claims WHERE "

/* The one claim the query (four parameters, NULL for unused) selects. */
static int claim_query(huren_index *idx, const char *sql, const char *const p[4],
                       huren_index_claim *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof(*out));
    int rc = huren_index__reader_get(idx, &db), src;
    if (rc < 0)
        return rc;
    if ((src = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) == SQLITE_OK) {
        for (int i = 0; i < 4; i++)
            huren_index__bind_opt(s, i + 1, p[i]);
        src = sqlite3_step(s);
    }
    if (src == SQLITE_ROW) {
        rc = claim_row(idx, db, s, out);
        if (rc < 0)
            huren_index__seterr(idx, "out of memory");
    } else if (src == SQLITE_DONE) {
        huren_index__seterr(idx, "no such claim");
        rc = HUREN_INDEX_ENOTFOUND;
    } else {
        rc = huren_index__sqlerr(idx, db, src, "reading claim");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    if (rc < 0)
        huren_index_claim_free(out);
    return rc;
}

int huren_index_claim_find(huren_index *idx, const char *claim_id, const char *insurer,
                           const char *request_id, huren_index_claim *out)
{
    static const char *const sql =
        CLAIM_COLUMNS "(?1 IS NOT NULL AND claim_id = ?1) OR"
                      " (?1 IS NULL AND insurer = ?2 AND request_id = ?3)";
    if (!idx || !out || (!claim_id && (!insurer || !request_id)))
        return HUREN_INDEX_EINVAL;
    const char *const p[4] = {claim_id, insurer, request_id, NULL};
    return claim_query(idx, sql, p, out);
}

int huren_index_claim_latest(huren_index *idx, const char *insurer, const char *patient_id,
                             const char *visit_number, huren_index_claim *out)
{
    static const char *const sql = CLAIM_COLUMNS
        "insurer = ?1 AND patient_id = ?2 AND visit_number = ?3 ORDER BY version DESC LIMIT 1";
    if (!idx || !out || !insurer || !patient_id || !visit_number)
        return HUREN_INDEX_EINVAL;
    const char *const p[4] = {insurer, patient_id, visit_number, NULL};
    return claim_query(idx, sql, p, out);
}

void huren_index_claim_free(huren_index_claim *c)
{
    if (!c)
        return;
    huren_index__arena_free(c->arena_);
    memset(c, 0, sizeof(*c));
}
