/* recognition.c: the records of mutual recognition (schema 8, 10): prompts (a recognition query
 * answered to a doctor, under the patient's pseudonym, with the results it listed; asked again
 * for the same patient, item, order or visit and day, the same prompt), decisions
 * (one per listed result and prompt, a repeated one recognised as such) and the statistics
 * grouped by item, department, institution or month. The reason codes are the gateway's. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_MAX 256

static int text_ok(const char *s, int required)
{
    if (!s || !*s)
        return !required;
    return strlen(s) <= TEXT_MAX;
}

static int day_ok(const char *d)
{
    if (!d || strlen(d) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    return 1;
}

static int prompt_check(huren_index *idx, const huren_index_rec_prompt *p)
{
    if (!text_ok(p->prompt_id, 1) || !text_ok(p->pseudonym, 1) || !text_ok(p->item_code, 1) ||
        !day_ok(p->day) || !text_ok(p->doctor, 0) || !text_ok(p->department, 0) ||
        !text_ok(p->actor, 0) || !text_ok(p->patient_id, 0) || !text_ok(p->national_id, 0) ||
        !text_ok(p->national_id_type, 0) || !text_ok(p->prompt_key, 0) ||
        !text_ok(p->order_id, 0) || !text_ok(p->visit_id, 0)) {
        huren_index__seterr(idx,
                            "prompt: id, day (YYYYMMDD), pseudonym and item are required "
                            "(text up to %d bytes)",
                            TEXT_MAX);
        return HUREN_INDEX_EINVAL;
    }
    if (p->nresults > HUREN_INDEX_REC_MAX_SHOWN ||
        (p->nresults && (!p->result_keys || !p->institutions))) {
        huren_index__seterr(idx, "prompt: more than %d results", HUREN_INDEX_REC_MAX_SHOWN);
        return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < p->nresults; i++)
        if (!text_ok(p->result_keys[i], 1) || !text_ok(p->institutions[i], 1)) {
            huren_index__seterr(idx, "prompt: result %zu has no key or institution", i + 1);
            return HUREN_INDEX_EINVAL;
        }
    return 0;
}

/* The prompt of that key, if there is one: *pk > 0 and its id in id_out. */
static int prompt_find(huren_index *idx, const char *key, int64_t *pk, char id_out[65])
{
    sqlite3_stmt *s = NULL;
    *pk = 0;
    if (!key || !*key)
        return 0;
    int rc =
        huren_index__wprep(idx, "SELECT pk, prompt_id FROM rec_prompts WHERE prompt_key = ?1", &s);
    if (rc < 0)
        return rc;
    huren_index__bind_opt(s, 1, key);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *pk = sqlite3_column_int64(s, 0);
        snprintf(id_out, 65, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : huren_index__sqlerr(idx, idx->wdb, src, "prompt");
}

static int prompt_insert(huren_index *idx, const huren_index_rec_prompt *p, int64_t *pk)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(
        idx,
        "INSERT INTO rec_prompts(prompt_id, created_at, day, pseudonym, item_code,"
        " doctor, department, actor, prompt_key, order_id, visit_id, counted)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        &s);
    if (rc < 0)
        return rc;
    huren_index__bind_opt(s, 1, p->prompt_id);
    sqlite3_bind_int64(s, 2, p->created_at ? p->created_at : (int64_t)time(NULL));
    huren_index__bind_opt(s, 3, p->day);
    huren_index__bind_opt(s, 4, p->pseudonym);
    huren_index__bind_opt(s, 5, p->item_code);
    huren_index__bind_opt(s, 6, p->doctor);
    huren_index__bind_opt(s, 7, p->department);
    huren_index__bind_opt(s, 8, p->actor);
    huren_index__bind_opt(s, 9, p->prompt_key);
    huren_index__bind_opt(s, 10, p->order_id);
    huren_index__bind_opt(s, 11, p->visit_id);
    sqlite3_bind_int(s, 12, p->listing ? 0 : 1);
    rc = huren_index__step_done(idx, s, "storing prompt");
    sqlite3_finalize(s);
    *pk = sqlite3_last_insert_rowid(idx->wdb);
    return rc;
}

/* The results listed, each once per prompt however often it is listed again. */
static int shown_insert(huren_index *idx, const huren_index_rec_prompt *p, int64_t pk)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(
        idx,
        "INSERT OR IGNORE INTO rec_shown(prompt_pk, result_key, institution, source,"
        " critical) VALUES (?1, ?2, ?3, ?4, ?5)",
        &s);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < p->nresults && rc == 0; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, pk);
        huren_index__bind_opt(s, 2, p->result_keys[i]);
        huren_index__bind_opt(s, 3, p->institutions[i]);
        huren_index__bind_opt(s, 4, p->sources ? p->sources[i] : NULL);
        sqlite3_bind_int(s, 5, p->criticals && p->criticals[i] ? 1 : 0);
        rc = huren_index__step_done(idx, s, "storing prompt results");
    }
    sqlite3_finalize(s);
    if (rc < 0 || ((!p->patient_id || !*p->patient_id) && (!p->national_id || !*p->national_id)))
        return rc;
    /* whom it was about (schema 9; the latest asking of a reused prompt): a study retrieved
     * from this prompt is indexed under them */
    if ((rc = huren_index__wprep(
             idx, "INSERT OR REPLACE INTO rec_prompt_patients VALUES (?1, ?2, ?3, ?4)", &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, pk);
    huren_index__bind_opt(s, 2, p->patient_id);
    huren_index__bind_opt(s, 3, p->national_id);
    huren_index__bind_opt(s, 4, p->national_id_type);
    rc = huren_index__step_done(idx, s, "storing the prompt's patient");
    sqlite3_finalize(s);
    return rc;
}

int huren_index_rec_prompt_open(huren_index *idx, const huren_index_rec_prompt *p, char id_out[65],
                                int *reused)
{
    if (!idx || !p || !id_out || !reused)
        return HUREN_INDEX_EINVAL;
    id_out[0] = 0;
    *reused = 0;
    int rc = prompt_check(idx, p);
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    int64_t pk = 0;
    rc = prompt_find(idx, p->prompt_key, &pk, id_out);
    if (rc == 0 && pk > 0)
        *reused = 1;
    else if (rc == 0 && (rc = prompt_insert(idx, p, &pk)) == 0)
        snprintf(id_out, 65, "%s", p->prompt_id);
    if (rc == 0)
        rc = shown_insert(idx, p, pk);
    return huren_index__txn_end(idx, rc);
}

int huren_index_rec_prompt_put(huren_index *idx, const huren_index_rec_prompt *p)
{
    char id[65];
    int reused;
    return huren_index_rec_prompt_open(idx, p, id, &reused);
}

/* ---- decisions ---- */

static int same_text(const char *a, const char *b)
{
    return !strcmp(a && *a ? a : "", b && *b ? b : "");
}

/* Inside the transaction: find the prompt, check the result was listed, find a decision
 * already held; sets *outcome and, when one is held, its id. *pk_out: the prompt's pk. */
static int decision_lookup(huren_index *idx, const huren_index_rec_decision *d,
                           huren_index_rec_outcome *outcome, char id_out[65], int64_t *pk_out)
{
    sqlite3_stmt *s = NULL;
    int rc =
        huren_index__wprep(idx, "SELECT pk FROM rec_prompts WHERE prompt_id = ?1 AND counted", &s);
    if (rc < 0)
        return rc;
    huren_index__bind_opt(s, 1, d->prompt_id);
    int src = sqlite3_step(s);
    *pk_out = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (src != SQLITE_ROW) {
        *outcome = HUREN_INDEX_REC_NO_PROMPT;
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "prompt");
    }
    if ((rc = huren_index__wprep(
             idx, "SELECT critical FROM rec_shown WHERE prompt_pk = ?1 AND result_key = ?2", &s)) <
        0)
        return rc;
    sqlite3_bind_int64(s, 1, *pk_out);
    huren_index__bind_opt(s, 2, d->result_key);
    src = sqlite3_step(s);
    int critical = src == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (src != SQLITE_ROW) {
        *outcome = HUREN_INDEX_REC_NOT_SHOWN;
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "prompt results");
    }
    /* a critical value (危急值) is recognised only with the doctor's explicit confirmation */
    if (critical && !strcmp(d->decision, "accepted") && !d->confirm_critical) {
        *outcome = HUREN_INDEX_REC_UNCONFIRMED;
        return 0;
    }
    if ((rc = huren_index__wprep(
             idx,
             "SELECT decision_id, decision, reason, reason_text, revoked_at IS NULL"
             " FROM rec_decisions"
             " WHERE prompt_pk = ?1 AND result_key = ?2",
             &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, *pk_out);
    huren_index__bind_opt(s, 2, d->result_key);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        snprintf(id_out, 65, "%s", (const char *)sqlite3_column_text(s, 0));
        int same = same_text((const char *)sqlite3_column_text(s, 1), d->decision) &&
                   same_text((const char *)sqlite3_column_text(s, 2), d->reason) &&
                   same_text((const char *)sqlite3_column_text(s, 3), d->reason_text) &&
                   sqlite3_column_int(s, 4); /* a revoked one is held, never repeated */
        *outcome = same ? HUREN_INDEX_REC_SAME : HUREN_INDEX_REC_CONFLICT;
    } else {
        *outcome = HUREN_INDEX_REC_STORED;
    }
    sqlite3_finalize(s);
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : huren_index__sqlerr(idx, idx->wdb, src, "decisions");
}

static int decision_insert(huren_index *idx, const huren_index_rec_decision *d, int64_t pk)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(
        idx,
        "INSERT INTO rec_decisions(decision_id, prompt_pk, result_key, decision,"
        " reason, reason_text, doctor, department, order_id, visit_id, created_at,"
        " confirm_critical, doctor_source) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
        &s);
    if (rc < 0)
        return rc;
    huren_index__bind_opt(s, 1, d->decision_id);
    sqlite3_bind_int64(s, 2, pk);
    huren_index__bind_opt(s, 3, d->result_key);
    huren_index__bind_opt(s, 4, d->decision);
    huren_index__bind_opt(s, 5, d->reason);
    huren_index__bind_opt(s, 6, d->reason_text);
    huren_index__bind_opt(s, 7, d->doctor);
    huren_index__bind_opt(s, 8, d->department);
    huren_index__bind_opt(s, 9, d->order_id);
    huren_index__bind_opt(s, 10, d->visit_id);
    sqlite3_bind_int64(s, 11, d->created_at ? d->created_at : (int64_t)time(NULL));
    sqlite3_bind_int(s, 12, d->confirm_critical ? 1 : 0);
    huren_index__bind_opt(s, 13, d->doctor_source);
    rc = huren_index__step_done(idx, s, "storing decision");
    sqlite3_finalize(s);
    return rc;
}

int huren_index_rec_decision_put(huren_index *idx, const huren_index_rec_decision *d,
                                 huren_index_rec_outcome *outcome, char id_out[65])
{
    if (!idx || !d || !outcome || !id_out)
        return HUREN_INDEX_EINVAL;
    id_out[0] = 0;
    if (!text_ok(d->decision_id, 1) || !text_ok(d->prompt_id, 1) || !text_ok(d->result_key, 1) ||
        !d->decision || (strcmp(d->decision, "accepted") && strcmp(d->decision, "rejected")) ||
        !text_ok(d->reason, 0) || !text_ok(d->reason_text, 0) || !text_ok(d->doctor, 0) ||
        !text_ok(d->department, 0) || !text_ok(d->order_id, 0) || !text_ok(d->visit_id, 0) ||
        !text_ok(d->doctor_source, 0)) {
        huren_index__seterr(idx,
                            "decision: id, prompt, result and accepted|rejected are "
                            "required (text up to %d bytes)",
                            TEXT_MAX);
        return HUREN_INDEX_EINVAL;
    }
    int64_t pk = 0;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = decision_lookup(idx, d, outcome, id_out, &pk);
    if (rc == 0 && *outcome == HUREN_INDEX_REC_STORED) {
        rc = decision_insert(idx, d, pk);
        if (rc == 0)
            snprintf(id_out, 65, "%s", d->decision_id);
    }
    return huren_index__txn_end(idx, rc);
}

int huren_index_rec_decision_revoke(huren_index *idx, const char *decision_id, const char *by,
                                    const char *reason, int64_t at)
{
    if (!idx || !text_ok(decision_id, 1) || !text_ok(by, 0) || !text_ok(reason, 1)) {
        huren_index__seterr(idx,
                            "revocation: decision id and reason are required (text up to"
                            " %d bytes)",
                            TEXT_MAX);
        return HUREN_INDEX_EINVAL;
    }
    sqlite3_stmt *s = NULL;
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    rc = huren_index__wprep(idx,
                            "SELECT revoked_at IS NOT NULL FROM rec_decisions"
                            " WHERE decision_id = ?1",
                            &s);
    if (rc == 0) {
        huren_index__bind_opt(s, 1, decision_id);
        int src = sqlite3_step(s);
        rc = src == SQLITE_ROW    ? (sqlite3_column_int(s, 0) ? 1 : 0)
             : src == SQLITE_DONE ? HUREN_INDEX_ENOTFOUND
                                  : huren_index__sqlerr(idx, idx->wdb, src, "decision");
        sqlite3_finalize(s);
    }
    if (rc == 0 && (rc = huren_index__wprep(idx,
                                            "UPDATE rec_decisions SET revoked_at = ?2,"
                                            " revoked_by = ?3, revoked_reason = ?4"
                                            " WHERE decision_id = ?1",
                                            &s)) == 0) {
        huren_index__bind_opt(s, 1, decision_id);
        sqlite3_bind_int64(s, 2, at ? at : (int64_t)time(NULL));
        huren_index__bind_opt(s, 3, by);
        huren_index__bind_opt(s, 4, reason);
        rc = huren_index__step_done(idx, s, "revoking decision");
        sqlite3_finalize(s);
    }
    if (rc != 0) { /* not found or revoked before: nothing written (an error rolls back) */
        int end = huren_index__txn_end(idx, rc < 0 && rc != HUREN_INDEX_ENOTFOUND ? rc : 0);
        return end < 0 ? end : rc;
    }
    return huren_index__txn_end(idx, rc);
}

static int decisions_read(huren_index *idx, sqlite3 *db, const char *prompt_id,
                          huren_index__arena *a, huren_index_rec_decision_list *out)
{
    static const char *const sql =
        "SELECT d.decision_id, p.prompt_id, d.result_key, d.decision, d.reason, d.reason_text,"
        " d.doctor, d.department, d.order_id, d.visit_id, d.created_at, d.confirm_critical,"
        " d.doctor_source, coalesce(d.revoked_at, 0), d.revoked_by, d.revoked_reason"
        " FROM rec_decisions d"
        " JOIN rec_prompts p ON p.pk = d.prompt_pk WHERE p.prompt_id = ?1 ORDER BY d.pk";
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src != SQLITE_OK)
        return huren_index__sqlerr(idx, db, src, "preparing decisions");
    sqlite3_bind_text(s, 1, prompt_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_rec_decision *d =
            huren_index__arena_push(a, (void **)&out->items, &out->n, &cap, sizeof *d);
        if (!d)
            break;
        d->decision_id = huren_index__col_copy(a, s, 0);
        d->prompt_id = huren_index__col_copy(a, s, 1);
        d->result_key = huren_index__col_copy(a, s, 2);
        d->decision = huren_index__col_copy(a, s, 3);
        d->reason = huren_index__col_copy(a, s, 4);
        d->reason_text = huren_index__col_copy(a, s, 5);
        d->doctor = huren_index__col_copy(a, s, 6);
        d->department = huren_index__col_copy(a, s, 7);
        d->order_id = huren_index__col_copy(a, s, 8);
        d->visit_id = huren_index__col_copy(a, s, 9);
        d->created_at = sqlite3_column_int64(s, 10);
        d->confirm_critical = sqlite3_column_int(s, 11);
        d->doctor_source = huren_index__col_copy(a, s, 12);
        d->revoked_at = sqlite3_column_int64(s, 13);
        d->revoked_by = huren_index__col_copy(a, s, 14);
        d->revoked_reason = huren_index__col_copy(a, s, 15);
    }
    int rc = src == SQLITE_DONE || src == SQLITE_ROW
                 ? 0
                 : huren_index__sqlerr(idx, db, src, "reading decisions");
    sqlite3_finalize(s);
    if (rc == 0 && huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    return rc;
}

int huren_index_rec_decisions_get(huren_index *idx, const char *prompt_id,
                                  huren_index_rec_decision_list *out)
{
    if (!idx || !prompt_id || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof *out);
    huren_index__arena *a = huren_index__arena_new();
    if (!a) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    sqlite3 *db = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc == 0)
        rc = decisions_read(idx, db, prompt_id, a, out);
    if (db)
        huren_index__reader_put(idx, db);
    if (rc < 0) {
        huren_index__arena_free(a);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->arena_ = a;
    return (int)out->n;
}

void huren_index_rec_decision_list_free(huren_index_rec_decision_list *l)
{
    if (!l)
        return;
    huren_index__arena_free(l->arena_);
    memset(l, 0, sizeof *l);
}

/* ---- statistics ---- */

typedef struct stats_ctx {
    huren_index *idx;
    huren_index__arena *arena;
    huren_index_rec_stats *out;
    size_t cap;
} stats_ctx;

static huren_index_rec_stats_row *row_for(stats_ctx *c, const char *key)
{
    for (size_t i = 0; i < c->out->n; i++)
        if (!strcmp(c->out->rows[i].key, key))
            return &c->out->rows[i];
    huren_index_rec_stats_row *r =
        huren_index__arena_push(c->arena, (void **)&c->out->rows, &c->out->n, &c->cap, sizeof *r);
    if (r)
        r->key = huren_index__arena_str(c->arena, key);
    return r && r->key ? r : NULL;
}

static void reason_add(stats_ctx *c, huren_index_rec_stats_row *r, const char *reason, int64_t n)
{
    for (size_t i = 0; i < r->nreasons; i++)
        if (!strcmp(r->reasons[i].reason, reason)) {
            r->reasons[i].n += n;
            return;
        }
    /* arrays of reasons are short: grow by copying */
    huren_index_rec_reason_count *a =
        huren_index__arena_alloc(c->arena, (r->nreasons + 1) * sizeof *a);
    if (!a)
        return;
    if (r->nreasons)
        memcpy(a, r->reasons, r->nreasons * sizeof *a);
    a[r->nreasons].reason = huren_index__arena_str(c->arena, reason);
    a[r->nreasons].n = n;
    r->reasons = a;
    r->nreasons++;
}

/* Run one grouped query: column 0 the key, then (what 0: prompts, 1: shown) a count, or
 * (what 2) decision, reason, count. */
static int stats_query(stats_ctx *c, sqlite3 *db, const char *sql, const char *from, const char *to,
                       int what)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src != SQLITE_OK)
        return huren_index__sqlerr(c->idx, db, src, "preparing statistics");
    huren_index__bind_opt(s, 1, from);
    huren_index__bind_opt(s, 2, to);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        huren_index_rec_stats_row *r = row_for(c, key ? key : "");
        if (!r)
            break;
        if (what == 0) {
            r->prompts += sqlite3_column_int64(s, 1);
        } else if (what == 1) {
            r->shown += sqlite3_column_int64(s, 1);
        } else {
            const char *dec = (const char *)sqlite3_column_text(s, 1);
            const char *reason = (const char *)sqlite3_column_text(s, 2);
            int64_t n = sqlite3_column_int64(s, 3);
            if (dec && !strcmp(dec, "accepted")) {
                r->accepted += n;
            } else {
                r->rejected += n;
                reason_add(c, r, reason && *reason ? reason : "other", n);
            }
        }
    }
    int rc = src == SQLITE_DONE || src == SQLITE_ROW
                 ? 0
                 : huren_index__sqlerr(c->idx, db, src, "statistics");
    sqlite3_finalize(s);
    return rc;
}

/* timeline listings (counted = 0) are not prompts */
#define RANGE " p.counted AND (?1 IS NULL OR p.day >= ?1) AND (?2 IS NULL OR p.day <= ?2)"

static int stats_run(stats_ctx *c, sqlite3 *db, huren_index_rec_group by, const char *from,
                     const char *to)
{
    char sql[3][600];
    if (by == HUREN_INDEX_REC_BY_INSTITUTION) {
        snprintf(sql[0], sizeof sql[0],
                 "SELECT s.institution, count(DISTINCT s.prompt_pk) FROM rec_shown s JOIN"
                 " rec_prompts p ON p.pk = s.prompt_pk WHERE" RANGE " GROUP BY 1");
        snprintf(sql[1], sizeof sql[1],
                 "SELECT s.institution, count(*) FROM rec_shown s JOIN rec_prompts p ON"
                 " p.pk = s.prompt_pk WHERE" RANGE " GROUP BY 1");
        snprintf(sql[2], sizeof sql[2],
                 "SELECT s.institution, d.decision, d.reason, count(*) FROM rec_decisions d"
                 " JOIN rec_prompts p ON p.pk = d.prompt_pk JOIN rec_shown s ON"
                 " s.prompt_pk = d.prompt_pk AND s.result_key = d.result_key WHERE" RANGE
                 " AND d.revoked_at IS NULL GROUP BY 1, 2, 3");
    } else {
        const char *key = by == HUREN_INDEX_REC_BY_ITEM         ? "p.item_code"
                          : by == HUREN_INDEX_REC_BY_DEPARTMENT ? "coalesce(p.department, '')"
                                                                : "substr(p.day, 1, 6)";
        snprintf(sql[0], sizeof sql[0],
                 "SELECT %s, count(*) FROM rec_prompts p WHERE" RANGE " GROUP BY 1", key);
        snprintf(sql[1], sizeof sql[1],
                 "SELECT %s, count(*) FROM rec_shown s JOIN rec_prompts p ON"
                 " p.pk = s.prompt_pk WHERE" RANGE " GROUP BY 1",
                 key);
        snprintf(sql[2], sizeof sql[2],
                 "SELECT %s, d.decision, d.reason, count(*) FROM rec_decisions d JOIN"
                 " rec_prompts p ON p.pk = d.prompt_pk WHERE" RANGE
                 " AND d.revoked_at IS NULL GROUP BY 1, 2, 3",
                 key);
    }
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = stats_query(c, db, sql[i], from, to, i);
    return rc;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const huren_index_rec_stats_row *)a)->key,
                  ((const huren_index_rec_stats_row *)b)->key);
}

int huren_index_rec_stats_get(huren_index *idx, const char *from, const char *to,
                              huren_index_rec_group by, huren_index_rec_stats *out)
{
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof *out);
    if ((from && *from && !day_ok(from)) || (to && *to && !day_ok(to)) ||
        by > HUREN_INDEX_REC_BY_MONTH) {
        huren_index__seterr(idx, "statistics: from and to are YYYYMMDD");
        return HUREN_INDEX_EINVAL;
    }
    stats_ctx c = {idx, huren_index__arena_new(), out, 0};
    if (!c.arena) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    out->arena_ = c.arena;
    sqlite3 *db = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc == 0)
        rc = stats_run(&c, db, by, from && *from ? from : NULL, to && *to ? to : NULL);
    if (db)
        huren_index__reader_put(idx, db);
    if (rc == 0 && huren_index__arena_oom(c.arena)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    if (rc < 0) {
        huren_index_rec_stats_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->rows, out->n, sizeof *out->rows, row_cmp);
    return (int)out->n;
}

void huren_index_rec_stats_free(huren_index_rec_stats *s)
{
    if (!s)
        return;
    huren_index__arena_free(s->arena_);
    memset(s, 0, sizeof *s);
}

int huren_index_rec_patient_national(huren_index *idx, const char *patient_id, char *out,
                                     size_t len)
{
    static const char *const sql =
        "SELECT coalesce(nullif(s.national_id, ''), p.national_id) FROM rec_patients p"
        " LEFT JOIN rec_patients s ON s.pk = p.merged_into WHERE p.patient_id = ?1";
    if (!idx || !patient_id || !out || len == 0)
        return HUREN_INDEX_EINVAL;
    out[0] = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        const char *v = src == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        if (v && *v && strlen(v) < len) {
            memcpy(out, v, strlen(v) + 1);
            rc = 1;
        } else if (src == SQLITE_ROW || src == SQLITE_DONE) {
            rc = 0;
        } else {
            rc = huren_index__sqlerr(idx, db, src, "patient");
        }
    } else {
        rc = huren_index__sqlerr(idx, db, src, "preparing patient");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

int huren_index_rec_shown_source(huren_index *idx, const char *prompt_id, const char *result_key,
                                 char *source, size_t len)
{
    static const char *const sql =
        "SELECT coalesce(s.source, '') FROM rec_shown s JOIN rec_prompts p ON p.pk = s.prompt_pk"
        " WHERE p.prompt_id = ?1 AND s.result_key = ?2";
    if (!idx || !prompt_id || !result_key || !source || len == 0)
        return HUREN_INDEX_EINVAL;
    source[0] = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, prompt_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, result_key, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            snprintf(source, len, "%s", (const char *)sqlite3_column_text(s, 0));
            rc = 1;
        } else {
            rc = src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, db, src, "prompt results");
        }
    } else {
        rc = huren_index__sqlerr(idx, db, src, "preparing prompt results");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

int huren_index_rec_record_source(huren_index *idx, const char *record_key, char *source,
                                  size_t len)
{
    /* the expression is rec_shown_record's: the index answers it */
    static const char *const sql =
        "SELECT s.source FROM rec_shown s JOIN rec_prompts p ON p.pk = s.prompt_pk"
        " WHERE substr(s.result_key, instr(s.result_key, '/') + 1) = ?1"
        " AND coalesce(s.source, '') <> '' ORDER BY p.created_at DESC, p.pk DESC LIMIT 1";
    if (!idx || !record_key || !source || len == 0)
        return HUREN_INDEX_EINVAL;
    source[0] = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, record_key, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            snprintf(source, len, "%s", (const char *)sqlite3_column_text(s, 0));
            rc = 1;
        } else {
            rc = src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, db, src, "prompt results");
        }
    } else {
        rc = huren_index__sqlerr(idx, db, src, "preparing prompt results");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}
