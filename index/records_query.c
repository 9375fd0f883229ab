/* records_query.c: reading clinical records on pooled reader connections: a patient's
 * reports (by local or national id, following merges), one report with its earlier versions,
 * one visit with its diagnoses and charges. Answers are copied into an arena (arena.c). */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The surviving patients a local or national id stands for. */
#define PATIENTS_OF_ID                                                                             \
    "SELECT coalesce(merged_into, pk) FROM rec_patients WHERE patient_id=?1"                       \
    " UNION SELECT coalesce(merged_into, pk) FROM rec_patients WHERE national_id=?1"

#define REPORT_SELECT                                                                              \
    "kind, placer_number, filler_number, accession_number, item_code, item_name, item_system,"     \
    " specimen, requested_time, observed_time, reported_time, ordering_institution,"               \
    " ordering_department, performing_institution, performing_department, result_status,"          \
    " sender_app, sender_facility, message_id, stored_at"
#define OBS_SELECT                                                                                 \
    "set_id, value_type, code, name, code_system, value, units, reference_range,"                  \
    " abnormal_flags, status, observed_time"
/* exam reports point at the DICOM study holding their accession number, if the archive has it */
#define STUDY_OF(acc)                                                                              \
    "(SELECT study_uid FROM studies WHERE accession_number = " acc " AND " acc                     \
    " IS NOT NULL LIMIT 1)"

typedef struct rq {
    huren_index *idx;
    sqlite3 *db;
    huren_index__arena *arena;
} rq;

static const char *col(rq *q, sqlite3_stmt *s, int i)
{
    return huren_index__col_copy_opt(q->arena, s, i);
}

static int prepare(rq *q, const char *sql, sqlite3_stmt **s)
{
    int src = sqlite3_prepare_v2(q->db, sql, -1, s, NULL);
    return src == SQLITE_OK ? 0 : huren_index__sqlerr(q->idx, q->db, src, "preparing query");
}

/* Report columns (REPORT_SELECT) starting at column c. */
static void report_fill(rq *q, sqlite3_stmt *s, int c, huren_index_report *r)
{
    const char *kind = (const char *)sqlite3_column_text(s, c);
    r->kind = kind && strcmp(kind, "exam") == 0 ? HUREN_INDEX_REPORT_EXAM : HUREN_INDEX_REPORT_LAB;
    const char **f[] = {&r->placer_number,
                        &r->filler_number,
                        &r->accession_number,
                        &r->item_code,
                        &r->item_name,
                        &r->item_system,
                        &r->specimen,
                        &r->requested_time,
                        &r->observed_time,
                        &r->reported_time,
                        &r->ordering_institution,
                        &r->ordering_department,
                        &r->performing_institution,
                        &r->performing_department,
                        &r->result_status,
                        &r->sender_app,
                        &r->sender_facility,
                        &r->message_id,
                        &r->stored_at};
    for (int k = 0; k < (int)(sizeof(f) / sizeof(f[0])); k++)
        *f[k] = col(q, s, c + 1 + k);
}

/* The observations of one report (or of one history version). */
static int observations_load(rq *q, const char *sql, int64_t pk, huren_index_report *r)
{
    sqlite3_stmt *s = NULL;
    int rc = prepare(q, sql, &s), src;
    size_t cap = 0;
    void *obs = NULL;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, pk);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_observation *o =
            huren_index__arena_push(q->arena, &obs, &r->nobs, &cap, sizeof(*o));
        if (!o)
            break;
        const char **f[] = {&o->set_id, &o->value_type,      &o->code,
                            &o->name,   &o->code_system,     &o->value,
                            &o->units,  &o->reference_range, &o->abnormal_flags,
                            &o->status, &o->observed_time};
        for (int k = 0; k < (int)(sizeof(f) / sizeof(f[0])); k++)
            *f[k] = col(q, s, k);
    }
    r->obs = obs;
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(q->idx, q->db, src, "reading observations");
    sqlite3_finalize(s);
    return rc;
}

/* Append one report to the list (growing it in the arena). */
static huren_index_report *list_add(rq *q, huren_index_report_list *out, size_t *cap)
{
    return huren_index__arena_push(q->arena, (void **)&out->items, &out->n, cap,
                                   sizeof(*out->items));
}

static int rq_begin(rq *q, huren_index *idx, huren_index__arena **arena_slot)
{
    q->idx = idx;
    q->db = NULL;
    q->arena = huren_index__arena_new();
    *arena_slot = q->arena;
    if (!q->arena) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    return huren_index__reader_get(idx, &q->db);
}

static int rq_end(rq *q, int rc)
{
    if (rc >= 0 && huren_index__arena_oom(q->arena)) {
        huren_index__seterr(q->idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    huren_index__reader_put(q->idx, q->db);
    return rc;
}

static const char *const OBS_SQL =
    "SELECT " OBS_SELECT " FROM observations WHERE report_pk=?1 ORDER BY seq";
static const char *const OBS_HISTORY_SQL =
    "SELECT " OBS_SELECT " FROM observation_history WHERE history_pk=?1 ORDER BY seq";

/* Current reports: columns pk, version, patient_id, visit_number, study uid, REPORT_SELECT. */
static int reports_read(rq *q, sqlite3_stmt *s, huren_index_report_list *out)
{
    size_t cap = 0;
    int src, rc = 0;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_report *r = list_add(q, out, &cap);
        if (!r)
            return 0; /* oom: reported by rq_end */
        r->id = sqlite3_column_int64(s, 0);
        r->version = sqlite3_column_int(s, 1);
        r->patient_id = col(q, s, 2);
        r->visit_number = col(q, s, 3);
        r->study_uid = col(q, s, 4);
        report_fill(q, s, 5, r);
    }
    if (src != SQLITE_DONE)
        return huren_index__sqlerr(q->idx, q->db, src, "reading reports");
    for (size_t i = 0; i < out->n && rc == 0; i++)
        rc = observations_load(q, OBS_SQL, out->items[i].id, &out->items[i]);
    return rc;
}

#define REPORT_FROM                                                                                \
    "SELECT r.pk, r.version, p.patient_id, v.visit_number, " STUDY_OF(                             \
        "r.accession_number") ", " REPORT_SELECT " FROM reports r"                                 \
                              " JOIN rec_patients p ON p.pk = r.patient_pk"                        \
                              " LEFT JOIN visits v ON v.pk = r.visit_pk"

int huren_index_reports_find(huren_index *idx, const char *id,
                             const huren_index_report_filter *filter, huren_index_report_list *out)
{
    return huren_index_visit_reports_find(idx, id, NULL, filter, out);
}

int huren_index_visit_reports_find(huren_index *idx, const char *id, const char *visit_number,
                                   const huren_index_report_filter *filter,
                                   huren_index_report_list *out)
{
    static const char *const sql =
        REPORT_FROM " WHERE r.patient_pk IN (" PATIENTS_OF_ID ")"
                    " AND (?2 IS NULL OR r.kind = ?2) AND (?3 IS NULL OR r.item_code = ?3)"
                    " AND (?4 IS NULL OR coalesce(r.observed_time, r.reported_time, r.stored_at)"
                    " >= ?4) AND (?6 IS NULL OR v.visit_number = ?6) ORDER BY "
                    "coalesce(r.observed_time, r.reported_time, r.stored_at)"
                    " DESC, r.pk DESC LIMIT ?5";
    rq q;
    sqlite3_stmt *s = NULL;
    if (!idx || !id || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    int rc = rq_begin(&q, idx, (huren_index__arena **)&out->arena_);
    if (rc == 0)
        rc = prepare(&q, sql, &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        if (filter && filter->kind >= 0)
            sqlite3_bind_text(s, 2, filter->kind == HUREN_INDEX_REPORT_EXAM ? "exam" : "lab", -1,
                              SQLITE_STATIC);
        if (filter && filter->item_code && *filter->item_code)
            sqlite3_bind_text(s, 3, filter->item_code, -1, SQLITE_STATIC);
        if (filter && filter->since && *filter->since)
            sqlite3_bind_text(s, 4, filter->since, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, filter && filter->limit ? (int64_t)filter->limit : -1);
        if (visit_number && *visit_number)
            sqlite3_bind_text(s, 6, visit_number, -1, SQLITE_STATIC);
        rc = reports_read(&q, s, out);
    }
    sqlite3_finalize(s);
    rc = rq_end(&q, rc);
    if (rc < 0) {
        huren_index_report_list_free(out);
        return rc;
    }
    return (int)out->n;
}

/* The earlier versions of report pk, newest first. */
static int history_read(rq *q, int64_t pk, const huren_index_report *cur,
                        huren_index_report_list *out, size_t *cap)
{
    static const char *const sql = "SELECT pk, version, replaced_at, " REPORT_SELECT
                                   " FROM report_history WHERE report_pk=?1 ORDER BY version DESC";
    sqlite3_stmt *s = NULL;
    int rc = prepare(q, sql, &s), src;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, pk);
    size_t first = out->n;
    int64_t hpk[1024];
    while ((src = sqlite3_step(s)) == SQLITE_ROW && out->n - first < 1024) {
        huren_index_report *r = list_add(q, out, cap);
        if (!r)
            break;
        cur = &out->items[0]; /* the list may have moved */
        hpk[out->n - first - 1] = sqlite3_column_int64(s, 0);
        r->id = pk;
        r->version = sqlite3_column_int(s, 1);
        r->replaced_at = col(q, s, 2);
        r->patient_id = cur->patient_id;
        r->visit_number = cur->visit_number;
        r->study_uid = cur->study_uid;
        report_fill(q, s, 3, r);
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(q->idx, q->db, src, "reading report history");
    sqlite3_finalize(s);
    for (size_t i = first; i < out->n && rc == 0; i++)
        rc = observations_load(q, OBS_HISTORY_SQL, hpk[i - first], &out->items[i]);
    return rc;
}

int huren_index_report_get(huren_index *idx, int64_t id, huren_index_report_list *out)
{
    static const char *const sql = REPORT_FROM " WHERE r.pk = ?1";
    rq q;
    sqlite3_stmt *s = NULL;
    size_t cap;
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    int rc = rq_begin(&q, idx, (huren_index__arena **)&out->arena_);
    if (rc == 0)
        rc = prepare(&q, sql, &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        rc = reports_read(&q, s, out);
    }
    sqlite3_finalize(s);
    if (rc == 0 && out->n == 0) {
        huren_index__seterr(idx, "no report %lld", (long long)id);
        rc = HUREN_INDEX_ENOTFOUND;
    }
    cap = out->n;
    if (rc == 0)
        rc = history_read(&q, id, &out->items[0], out, &cap);
    rc = rq_end(&q, rc);
    if (rc < 0)
        huren_index_report_list_free(out);
    return rc;
}

void huren_index_report_list_free(huren_index_report_list *list)
{
    if (!list)
        return;
    huren_index__arena_free(list->arena_);
    memset(list, 0, sizeof(*list));
}

int huren_index_rec_patient_exists(huren_index *idx, const char *id, char *patient_id, size_t len)
{
    static const char *const sql =
        "SELECT patient_id FROM rec_patients WHERE pk IN (" PATIENTS_OF_ID ") LIMIT 1";
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (!idx || !id)
        return HUREN_INDEX_EINVAL;
    int rc = huren_index__reader_get(idx, &db), src;
    if (rc < 0)
        return rc;
    if ((src = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        src = sqlite3_step(s);
    }
    if (src == SQLITE_ROW) {
        if (patient_id && len)
            snprintf(patient_id, len, "%s", (const char *)sqlite3_column_text(s, 0));
        rc = 1;
    } else {
        rc = src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, db, src, "finding patient");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

/* ---- one visit ---- */

static int visit_head(rq *q, const char *patient, const char *visit_number,
                      huren_index_visit_record *out, int64_t *vpk)
{
    static const char *const sql =
        "SELECT v.pk, v.visit_number, v.visit_class, v.department, v.admit_time,"
        " v.discharge_time, p.patient_id, p.national_id, p.national_id_type, p.name, p.sex,"
        " p.birth_date FROM visits v JOIN rec_patients p ON p.pk = v.patient_pk"
        " WHERE v.visit_number = ?2 AND v.patient_pk IN (" PATIENTS_OF_ID ")";
    sqlite3_stmt *s = NULL;
    int rc = prepare(q, sql, &s), src;
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, patient, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, visit_number, -1, SQLITE_STATIC);
    if ((src = sqlite3_step(s)) == SQLITE_ROW) {
        *vpk = sqlite3_column_int64(s, 0);
        huren_index_visit *v = &out->visit;
        huren_index_rec_patient *p = &out->patient;
        const char **f[] = {&v->visit_number, &v->visit_class,      &v->department,
                            &v->admit_time,   &v->discharge_time,   &p->patient_id,
                            &p->national_id,  &p->national_id_type, &p->name,
                            &p->sex,          &p->birth_date};
        for (int k = 0; k < (int)(sizeof(f) / sizeof(f[0])); k++)
            *f[k] = col(q, s, 1 + k);
    } else if (src == SQLITE_DONE) {
        huren_index__seterr(q->idx, "no such visit for this patient");
        rc = HUREN_INDEX_ENOTFOUND;
    } else {
        rc = huren_index__sqlerr(q->idx, q->db, src, "reading visit");
    }
    sqlite3_finalize(s);
    return rc;
}

static int diagnoses_read(rq *q, int64_t vpk, huren_index_visit_record *out)
{
    static const char *const sql =
        "SELECT set_id, code, description, code_system, diagnosis_type, diagnosed_time"
        " FROM diagnoses WHERE visit_pk=?1 ORDER BY CAST(set_id AS INTEGER), pk";
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = prepare(q, sql, &s), src;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, vpk);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_diagnosis *d = huren_index__arena_push(q->arena, (void **)&out->diagnoses,
                                                           &out->ndiagnoses, &cap, sizeof(*d));
        if (!d)
            break;
        const char **f[] = {&d->set_id,      &d->code, &d->description,
                            &d->code_system, &d->type, &d->diagnosed_time};
        for (int k = 0; k < (int)(sizeof(f) / sizeof(f[0])); k++)
            *f[k] = col(q, s, k);
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(q->idx, q->db, src, "reading diagnoses");
    sqlite3_finalize(s);
    return rc;
}

static int charges_read(rq *q, int64_t vpk, huren_index_visit_record *out)
{
    static const char *const sql =
        "SELECT transaction_id, item_code, item_name, quantity, unit_price_fen, amount_fen,"
        " charged_time, department FROM charges WHERE visit_pk=?1 ORDER BY charged_time, pk";
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = prepare(q, sql, &s), src;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, vpk);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_charge *c = huren_index__arena_push(q->arena, (void **)&out->charges,
                                                        &out->ncharges, &cap, sizeof(*c));
        if (!c)
            break;
        c->transaction_id = col(q, s, 0);
        c->item_code = col(q, s, 1);
        c->item_name = col(q, s, 2);
        c->quantity = col(q, s, 3);
        c->has_unit_price = sqlite3_column_type(s, 4) != SQLITE_NULL;
        c->unit_price_fen = sqlite3_column_int64(s, 4);
        c->amount_fen = sqlite3_column_int64(s, 5);
        c->charged_time = col(q, s, 6);
        c->department = col(q, s, 7);
        out->total_fen += c->amount_fen;
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(q->idx, q->db, src, "reading charges");
    sqlite3_finalize(s);
    return rc;
}

int huren_index_visit_get(huren_index *idx, const char *patient, const char *visit_number,
                          huren_index_visit_record *out)
{
    rq q;
    int64_t vpk = -1;
    if (!idx || !patient || !visit_number || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    int rc = rq_begin(&q, idx, (huren_index__arena **)&out->arena_);
    if (rc == 0)
        rc = visit_head(&q, patient, visit_number, out, &vpk);
    if (rc == 0)
        rc = diagnoses_read(&q, vpk, out);
    if (rc == 0)
        rc = charges_read(&q, vpk, out);
    rc = rq_end(&q, rc);
    if (rc < 0)
        huren_index_visit_record_free(out);
    return rc;
}

void huren_index_visit_record_free(huren_index_visit_record *v)
{
    if (!v)
        return;
    huren_index__arena_free(v->arena_);
    memset(v, 0, sizeof(*v));
}
