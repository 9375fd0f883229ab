/* records.c: writing clinical records (schema 4) on the writer connection: message dedup,
 * record patients and their merges, visits, reports with observations (a replaced version is
 * copied into the history tables first), diagnoses and charges. The writer (writer.c) runs
 * one message's writes under one savepoint inside its group-commit transaction. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rec_stmt {
    R_MESSAGE_ADD,
    R_PATIENT_UPSERT,
    R_PATIENT_FIND,
    R_MERGE_VISITS,
    R_MERGE_REPORTS,
    R_MERGE_MARK,
    R_MERGE_NATIONAL,
    R_MERGE_LOG,
    R_VISIT_UPSERT,
    R_REPORT_FIND,
    R_REPORT_INSERT,
    R_REPORT_TO_HISTORY,
    R_OBS_TO_HISTORY,
    R_OBS_CLEAR,
    R_REPORT_UPDATE,
    R_OBS_INSERT,
    R_DIAGNOSIS_UPSERT,
    R_CHARGE_UPSERT,
    R_CHARGE_INSERT,
    R_COUNT
};

#define NOW "strftime('%Y%m%d%H%M%S','now')"
#define REPORT_COLS                                                                                \
    "kind, placer_number, filler_number, accession_number, item_code, item_name, item_system,"     \
    " specimen, requested_time, observed_time, reported_time, ordering_institution,"               \
    " ordering_department, performing_institution, performing_department, result_status,"          \
    " sender_app, sender_facility, message_id"
#define OBS_COLS                                                                                   \
    "seq, set_id, value_type, code, name, code_system, value, units, reference_range,"             \
    " abnormal_flags, status, observed_time"

static const char *const rsql[R_COUNT] = {
    [R_MESSAGE_ADD] = "INSERT INTO messages(source, control_id, message_type) VALUES (?1,?2,?3)"
                      " ON CONFLICT DO NOTHING",
    /* a known patient keeps what a message leaves out */
    [R_PATIENT_UPSERT] =
        "INSERT INTO rec_patients(patient_id, national_id, national_id_type, name, sex,"
        " birth_date) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT(patient_id) DO UPDATE SET"
        " national_id = coalesce(excluded.national_id, national_id),"
        " national_id_type = coalesce(excluded.national_id_type, national_id_type),"
        " name = coalesce(excluded.name, name), sex = coalesce(excluded.sex, sex),"
        " birth_date = coalesce(excluded.birth_date, birth_date), updated_at = " NOW
        " RETURNING coalesce(merged_into, pk)",
    [R_PATIENT_FIND] = "SELECT pk, coalesce(merged_into, pk) FROM rec_patients WHERE patient_id=?1",
    [R_MERGE_VISITS] = "UPDATE visits SET patient_pk=?2 WHERE patient_pk=?1",
    [R_MERGE_REPORTS] = "UPDATE reports SET patient_pk=?2 WHERE patient_pk=?1",
    [R_MERGE_MARK] = "UPDATE rec_patients SET merged_into=?2 WHERE pk=?1 OR merged_into=?1",
    [R_MERGE_NATIONAL] =
        "UPDATE rec_patients SET"
        " national_id = coalesce(national_id, (SELECT national_id FROM rec_patients WHERE pk=?1)),"
        " national_id_type = coalesce(national_id_type,"
        " (SELECT national_id_type FROM rec_patients WHERE pk=?1)) WHERE pk=?2",
    [R_MERGE_LOG] = "INSERT INTO patient_merges(from_patient_id, into_patient_id, source,"
                    " message_id) VALUES (?1,?2,?3,?4)",
    [R_VISIT_UPSERT] =
        "INSERT INTO visits(patient_pk, visit_number, visit_class, department, admit_time,"
        " discharge_time) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT(visit_number) DO UPDATE SET"
        " visit_class = coalesce(excluded.visit_class, visit_class),"
        " department = coalesce(excluded.department, department),"
        " admit_time = coalesce(excluded.admit_time, admit_time),"
        " discharge_time = coalesce(excluded.discharge_time, discharge_time)"
        " RETURNING pk",
    [R_REPORT_FIND] = "SELECT pk FROM reports WHERE source=?1 AND order_key=?2 AND item_code=?3",
    [R_REPORT_INSERT] = "INSERT INTO reports(patient_pk, visit_pk, source, order_key, " REPORT_COLS
                        ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
                        "?18,?19,?20,?21,?22,?23) RETURNING pk",
    [R_REPORT_TO_HISTORY] = "INSERT INTO report_history(report_pk, version, " REPORT_COLS
                            ", stored_at) SELECT pk, version, " REPORT_COLS
                            ", stored_at FROM reports WHERE pk=?1 RETURNING pk",
    [R_OBS_TO_HISTORY] = "INSERT INTO observation_history(history_pk, " OBS_COLS
                         ") SELECT ?2, " OBS_COLS " FROM observations WHERE report_pk=?1",
    [R_OBS_CLEAR] = "DELETE FROM observations WHERE report_pk=?1",
    [R_REPORT_UPDATE] =
        "UPDATE reports SET patient_pk=?1, visit_pk=?2, version=version+1, stored_at=" NOW ","
        " kind=?5, placer_number=?6, filler_number=?7, accession_number=?8, item_code=?9,"
        " item_name=?10, item_system=?11, specimen=?12, requested_time=?13, observed_time=?14,"
        " reported_time=?15, ordering_institution=?16, ordering_department=?17,"
        " performing_institution=?18, performing_department=?19, result_status=?20,"
        " sender_app=?21, sender_facility=?22, message_id=?23 WHERE pk=?24"
        " AND source=?3 AND order_key=?4",
    [R_OBS_INSERT] = "INSERT INTO observations(report_pk, " OBS_COLS
                     ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [R_DIAGNOSIS_UPSERT] =
        "INSERT INTO diagnoses(visit_pk, set_id, code, description, code_system, diagnosis_type,"
        " diagnosed_time) VALUES (?1,?2,?3,?4,?5,?6,?7)"
        " ON CONFLICT(visit_pk, code, diagnosis_type) DO UPDATE SET set_id=excluded.set_id,"
        " description=coalesce(excluded.description, description),"
        " code_system=coalesce(excluded.code_system, code_system),"
        " diagnosed_time=coalesce(excluded.diagnosed_time, diagnosed_time)",
    [R_CHARGE_UPSERT] =
        "INSERT INTO charges(visit_pk, transaction_id, item_code, item_name, quantity,"
        " unit_price_fen, amount_fen, charged_time, department, message_id)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
        " ON CONFLICT(visit_pk, transaction_id) WHERE transaction_id IS NOT NULL DO UPDATE SET"
        " item_code=excluded.item_code, item_name=excluded.item_name, quantity=excluded.quantity,"
        " unit_price_fen=excluded.unit_price_fen, amount_fen=excluded.amount_fen,"
        " charged_time=excluded.charged_time, department=excluded.department,"
        " message_id=excluded.message_id",
    [R_CHARGE_INSERT] = "INSERT INTO charges(visit_pk, transaction_id, item_code, item_name,"
                        " quantity, unit_price_fen, amount_fen, charged_time, department,"
                        " message_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
};

struct huren_index__recrows {
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
};

int huren_index__recrows_prepare(huren_index *idx, sqlite3 *db, huren_index__recrows **out)
{
    huren_index__recrows *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (!r) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    r->db = db;
    for (int i = 0; i < R_COUNT; i++) {
        int src = sqlite3_prepare_v3(db, rsql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL);
        if (src != SQLITE_OK) {
            int rc = huren_index__sqlerr(idx, db, src, "preparing record statement");
            huren_index__recrows_finalize(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void huren_index__recrows_finalize(huren_index__recrows *r)
{
    if (!r)
        return;
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    free(r);
}

/* ---- checks before queueing ---- */

static int present(const char *v)
{
    return v && *v;
}

static int too_long(huren_index *idx, const char *what, const char *v, size_t max)
{
    if (v && strlen(v) > max) {
        huren_index__seterr(idx, "%s is longer than %zu bytes", what, max);
        return 1;
    }
    return 0;
}

#define CHECK_LEN(what, v) too_long(idx, what, v, HUREN_INDEX__VALUE_MAX)

static int report_check(huren_index *idx, const huren_index_report *r, size_t i)
{
    char what[64];
    snprintf(what, sizeof(what), "report %zu", i + 1);
    if (!present(r->placer_number) && !present(r->filler_number)) {
        huren_index__seterr(idx, "%s: an order number is required", what);
        return HUREN_INDEX_EINVAL;
    }
    if ((int)r->kind < HUREN_INDEX_REPORT_LAB || r->kind > HUREN_INDEX_REPORT_EXAM ||
        (r->nobs && !r->obs)) {
        huren_index__seterr(idx, "%s: malformed", what);
        return HUREN_INDEX_EINVAL;
    }
    const char *v[] = {r->placer_number,
                       r->filler_number,
                       r->accession_number,
                       r->item_code,
                       r->item_name,
                       r->item_system,
                       r->specimen,
                       r->requested_time,
                       r->observed_time,
                       r->reported_time,
                       r->ordering_institution,
                       r->ordering_department,
                       r->performing_institution,
                       r->performing_department,
                       r->result_status,
                       r->sender_app,
                       r->sender_facility};
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
        if (CHECK_LEN(what, v[k]))
            return HUREN_INDEX_EINVAL;
    for (size_t k = 0; k < r->nobs; k++) {
        const huren_index_observation *o = &r->obs[k];
        const char *ov[] = {
            o->set_id, o->value_type,      o->code,           o->name,   o->code_system,
            o->units,  o->reference_range, o->abnormal_flags, o->status, o->observed_time};
        for (size_t j = 0; j < sizeof(ov) / sizeof(ov[0]); j++)
            if (CHECK_LEN(what, ov[j]))
                return HUREN_INDEX_EINVAL;
        if (too_long(idx, what, o->value, HUREN_INDEX__TEXT_MAX))
            return HUREN_INDEX_EINVAL;
    }
    return 0;
}

static int extras_check(huren_index *idx, const huren_index_records *m)
{
    for (size_t i = 0; i < m->ndiagnoses; i++) {
        const huren_index_diagnosis *d = &m->diagnoses[i];
        if (!present(d->code)) {
            huren_index__seterr(idx, "diagnosis %zu: code is required", i + 1);
            return HUREN_INDEX_EINVAL;
        }
        if (CHECK_LEN("diagnosis", d->description) || CHECK_LEN("diagnosis", d->code) ||
            CHECK_LEN("diagnosis", d->type) || CHECK_LEN("diagnosis", d->code_system) ||
            CHECK_LEN("diagnosis", d->set_id) || CHECK_LEN("diagnosis", d->diagnosed_time))
            return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < m->ncharges; i++) {
        const huren_index_charge *c = &m->charges[i];
        if (CHECK_LEN("charge", c->transaction_id) || CHECK_LEN("charge", c->item_code) ||
            CHECK_LEN("charge", c->item_name) || CHECK_LEN("charge", c->quantity) ||
            CHECK_LEN("charge", c->charged_time) || CHECK_LEN("charge", c->department))
            return HUREN_INDEX_EINVAL;
    }
    return 0;
}

int huren_index__records_check(huren_index *idx, const huren_index_records *m)
{
    if (!m || !present(m->source) || !present(m->message_id)) {
        huren_index__seterr(idx, "source and message id are required");
        return HUREN_INDEX_EINVAL;
    }
    if ((m->nreports && !m->reports) || (m->ndiagnoses && !m->diagnoses) ||
        (m->ncharges && !m->charges)) {
        huren_index__seterr(idx, "malformed records");
        return HUREN_INDEX_EINVAL;
    }
    int needs_patient = m->visit || m->nreports || m->merge_from_patient_id;
    if (needs_patient && (!m->patient || !present(m->patient->patient_id))) {
        huren_index__seterr(idx, "patient id is required");
        return HUREN_INDEX_EINVAL;
    }
    if ((m->ndiagnoses || m->ncharges) && (!m->visit || !present(m->visit->visit_number))) {
        huren_index__seterr(idx, "diagnoses and charges need a visit number");
        return HUREN_INDEX_EINVAL;
    }
    if (m->visit && !present(m->visit->visit_number)) {
        huren_index__seterr(idx, "visit number is required");
        return HUREN_INDEX_EINVAL;
    }
    if (CHECK_LEN("source", m->source) || CHECK_LEN("message id", m->message_id) ||
        CHECK_LEN("message type", m->message_type) ||
        CHECK_LEN("merged patient id", m->merge_from_patient_id))
        return HUREN_INDEX_EINVAL;
    if (m->patient) {
        const huren_index_rec_patient *p = m->patient;
        if (CHECK_LEN("patient", p->patient_id) || CHECK_LEN("patient", p->national_id) ||
            CHECK_LEN("patient", p->national_id_type) || CHECK_LEN("patient", p->name) ||
            CHECK_LEN("patient", p->sex) || CHECK_LEN("patient", p->birth_date))
            return HUREN_INDEX_EINVAL;
    }
    if (m->visit) {
        const huren_index_visit *v = m->visit;
        if (CHECK_LEN("visit", v->visit_number) || CHECK_LEN("visit", v->visit_class) ||
            CHECK_LEN("visit", v->department) || CHECK_LEN("visit", v->admit_time) ||
            CHECK_LEN("visit", v->discharge_time))
            return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < m->nreports; i++) {
        int rc = report_check(idx, &m->reports[i], i);
        if (rc < 0)
            return rc;
    }
    return extras_check(idx, m);
}

/* ---- statement helpers ---- */

static sqlite3_stmt *stmt(huren_index__recrows *r, enum rec_stmt id)
{
    sqlite3_stmt *s = r->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

void huren_index__bind_item(sqlite3_stmt *s, int i, const char *item_code)
{
    sqlite3_bind_text(s, i, present(item_code) ? item_code : "", -1, SQLITE_STATIC);
}

/* Step s to its end; *pk (if not NULL) receives the first column of a returned row. */
static int run(huren_index *idx, sqlite3_stmt *s, int64_t *pk, int *found, const char *what)
{
    int src, got = 0;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (!got && pk)
            *pk = sqlite3_column_int64(s, 0);
        got = 1;
    }
    if (found)
        *found = got;
    int rc = src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, sqlite3_db_handle(s), src, what);
    sqlite3_reset(s);
    return rc;
}

/* ---- the writes ---- */

static int patient_put(huren_index *idx, const huren_index_rec_patient *p, int64_t *pk)
{
    sqlite3_stmt *s = stmt(idx->recrows, R_PATIENT_UPSERT);
    huren_index__bind_opt(s, 1, p->patient_id);
    huren_index__bind_opt(s, 2, p->national_id);
    huren_index__bind_opt(s, 3, p->national_id_type);
    huren_index__bind_opt(s, 4, p->name);
    huren_index__bind_opt(s, 5, p->sex);
    huren_index__bind_opt(s, 6, p->birth_date);
    return run(idx, s, pk, NULL, "storing patient");
}

static int run_2pk(huren_index *idx, enum rec_stmt id, int64_t a, int64_t b, const char *what)
{
    sqlite3_stmt *s = stmt(idx->recrows, id);
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    return run(idx, s, NULL, NULL, what);
}

/* ADT^A40: everything of `from` moves to the surviving patient into_pk. */
static int merge(huren_index *idx, const huren_index_records *m, int64_t into_pk)
{
    sqlite3_stmt *s = stmt(idx->recrows, R_PATIENT_FIND);
    int64_t from_pk = -1, from_final = -1;
    int src, rc;
    huren_index__bind_opt(s, 1, m->merge_from_patient_id);
    if ((src = sqlite3_step(s)) == SQLITE_ROW) {
        from_pk = sqlite3_column_int64(s, 0);
        from_final = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return huren_index__sqlerr(idx, idx->wdb, src, "finding merged patient");
    if (from_pk < 0) {
        huren_index__seterr(idx, "merge: the patient to merge is unknown");
        return HUREN_INDEX_ENOTFOUND;
    }
    if (from_final == into_pk)
        return 0; /* merged before (or the same patient): nothing moves */
    if ((rc = run_2pk(idx, R_MERGE_VISITS, from_final, into_pk, "merging visits")) < 0 ||
        (rc = run_2pk(idx, R_MERGE_REPORTS, from_final, into_pk, "merging reports")) < 0 ||
        (rc = run_2pk(idx, R_MERGE_MARK, from_final, into_pk, "merging patient")) < 0 ||
        (rc = run_2pk(idx, R_MERGE_NATIONAL, from_final, into_pk, "merging patient")) < 0)
        return rc;
    s = stmt(idx->recrows, R_MERGE_LOG);
    huren_index__bind_opt(s, 1, m->merge_from_patient_id);
    huren_index__bind_opt(s, 2, m->patient->patient_id);
    huren_index__bind_opt(s, 3, m->source);
    huren_index__bind_opt(s, 4, m->message_id);
    return run(idx, s, NULL, NULL, "recording merge");
}

static int visit_put(huren_index *idx, const huren_index_visit *v, int64_t patient_pk, int64_t *pk)
{
    sqlite3_stmt *s = stmt(idx->recrows, R_VISIT_UPSERT);
    sqlite3_bind_int64(s, 1, patient_pk);
    huren_index__bind_opt(s, 2, v->visit_number);
    huren_index__bind_opt(s, 3, v->visit_class);
    huren_index__bind_opt(s, 4, v->department);
    huren_index__bind_opt(s, 5, v->admit_time);
    huren_index__bind_opt(s, 6, v->discharge_time);
    return run(idx, s, pk, NULL, "storing visit");
}

static void report_bind(sqlite3_stmt *s, const huren_index_records *m, const huren_index_report *r,
                        int64_t patient_pk, int64_t visit_pk)
{
    sqlite3_bind_int64(s, 1, patient_pk);
    if (visit_pk > 0)
        sqlite3_bind_int64(s, 2, visit_pk);
    else
        sqlite3_bind_null(s, 2);
    huren_index__bind_opt(s, 3, m->source);
    huren_index__bind_opt(s, 4, present(r->filler_number) ? r->filler_number : r->placer_number);
    huren_index__bind_opt(s, 5, r->kind == HUREN_INDEX_REPORT_EXAM ? "exam" : "lab");
    const char *v[] = {r->placer_number,
                       r->filler_number,
                       r->accession_number,
                       r->item_code,
                       r->item_name,
                       r->item_system,
                       r->specimen,
                       r->requested_time,
                       r->observed_time,
                       r->reported_time,
                       r->ordering_institution,
                       r->ordering_department,
                       r->performing_institution,
                       r->performing_department,
                       r->result_status,
                       r->sender_app,
                       r->sender_facility,
                       m->message_id};
    for (int k = 0; k < (int)(sizeof(v) / sizeof(v[0])); k++)
        huren_index__bind_opt(s, 6 + k, v[k]);
    huren_index__bind_item(s, 9, r->item_code);
}

static int observations_put(huren_index *idx, const huren_index_report *r, int64_t report_pk)
{
    for (size_t k = 0; k < r->nobs; k++) {
        const huren_index_observation *o = &r->obs[k];
        sqlite3_stmt *s = stmt(idx->recrows, R_OBS_INSERT);
        sqlite3_bind_int64(s, 1, report_pk);
        sqlite3_bind_int64(s, 2, (int64_t)k + 1);
        const char *v[] = {o->set_id,         o->value_type, o->code,         o->name,
                           o->code_system,    o->value,      o->units,        o->reference_range,
                           o->abnormal_flags, o->status,     o->observed_time};
        for (int j = 0; j < (int)(sizeof(v) / sizeof(v[0])); j++)
            huren_index__bind_opt(s, 3 + j, v[j]);
        int rc = run(idx, s, NULL, NULL, "storing observation");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Keep the current version of report pk in the history, then clear its observations. */
static int report_retire(huren_index *idx, int64_t pk)
{
    int64_t hpk = -1;
    sqlite3_stmt *s = stmt(idx->recrows, R_REPORT_TO_HISTORY);
    sqlite3_bind_int64(s, 1, pk);
    int rc = run(idx, s, &hpk, NULL, "keeping report history");
    if (rc == 0)
        rc = run_2pk(idx, R_OBS_TO_HISTORY, pk, hpk, "keeping observation history");
    if (rc == 0) {
        s = stmt(idx->recrows, R_OBS_CLEAR);
        sqlite3_bind_int64(s, 1, pk);
        rc = run(idx, s, NULL, NULL, "replacing observations");
    }
    return rc;
}

static int report_put(huren_index *idx, const huren_index_records *m, const huren_index_report *r,
                      int64_t patient_pk, int64_t visit_pk)
{
    int64_t pk = -1;
    int found = 0, rc;
    sqlite3_stmt *s = stmt(idx->recrows, R_REPORT_FIND);
    huren_index__bind_opt(s, 1, m->source);
    huren_index__bind_opt(s, 2, present(r->filler_number) ? r->filler_number : r->placer_number);
    huren_index__bind_item(s, 3, r->item_code);
    if ((rc = run(idx, s, &pk, &found, "finding report")) < 0)
        return rc;
    if (found) {
        if ((rc = report_retire(idx, pk)) < 0)
            return rc;
        s = stmt(idx->recrows, R_REPORT_UPDATE);
        report_bind(s, m, r, patient_pk, visit_pk);
        sqlite3_bind_int64(s, 24, pk);
        rc = run(idx, s, NULL, NULL, "replacing report");
    } else {
        s = stmt(idx->recrows, R_REPORT_INSERT);
        report_bind(s, m, r, patient_pk, visit_pk);
        rc = run(idx, s, &pk, NULL, "storing report");
    }
    return rc < 0 ? rc : observations_put(idx, r, pk);
}

static int diagnosis_put(huren_index *idx, const huren_index_diagnosis *d, int64_t visit_pk)
{
    sqlite3_stmt *s = stmt(idx->recrows, R_DIAGNOSIS_UPSERT);
    sqlite3_bind_int64(s, 1, visit_pk);
    huren_index__bind_opt(s, 2, d->set_id);
    huren_index__bind_opt(s, 3, d->code);
    huren_index__bind_opt(s, 4, d->description);
    huren_index__bind_opt(s, 5, d->code_system);
    /* '' rather than NULL: NULLs never conflict, and the same code would be stored twice */
    sqlite3_bind_text(s, 6, d->type ? d->type : "", -1, SQLITE_STATIC);
    huren_index__bind_opt(s, 7, d->diagnosed_time);
    return run(idx, s, NULL, NULL, "storing diagnosis");
}

static int charge_put(huren_index *idx, const huren_index_records *m, const huren_index_charge *c,
                      int64_t visit_pk)
{
    sqlite3_stmt *s =
        stmt(idx->recrows, present(c->transaction_id) ? R_CHARGE_UPSERT : R_CHARGE_INSERT);
    sqlite3_bind_int64(s, 1, visit_pk);
    huren_index__bind_opt(s, 2, c->transaction_id);
    huren_index__bind_opt(s, 3, c->item_code);
    huren_index__bind_opt(s, 4, c->item_name);
    huren_index__bind_opt(s, 5, c->quantity);
    if (c->has_unit_price)
        sqlite3_bind_int64(s, 6, c->unit_price_fen);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, c->amount_fen);
    huren_index__bind_opt(s, 8, c->charged_time);
    huren_index__bind_opt(s, 9, c->department);
    huren_index__bind_opt(s, 10, m->message_id);
    return run(idx, s, NULL, NULL, "storing charge");
}

int huren_index__records_write(huren_index *idx, const huren_index_records *m, int *duplicate)
{
    int64_t patient_pk = -1, visit_pk = -1;
    int rc;
    sqlite3_stmt *s = stmt(idx->recrows, R_MESSAGE_ADD);
    huren_index__bind_opt(s, 1, m->source);
    huren_index__bind_opt(s, 2, m->message_id);
    huren_index__bind_opt(s, 3, m->message_type);
    if ((rc = run(idx, s, NULL, NULL, "recording message")) < 0)
        return rc;
    *duplicate = sqlite3_changes(idx->wdb) == 0;
    if (*duplicate)
        return 0;
    if (m->patient && present(m->patient->patient_id) &&
        (rc = patient_put(idx, m->patient, &patient_pk)) < 0)
        return rc;
    if (present(m->merge_from_patient_id) && (rc = merge(idx, m, patient_pk)) < 0)
        return rc;
    if (m->visit && (rc = visit_put(idx, m->visit, patient_pk, &visit_pk)) < 0)
        return rc;
    for (size_t i = 0; i < m->nreports; i++)
        if ((rc = report_put(idx, m, &m->reports[i], patient_pk, visit_pk)) < 0)
            return rc;
    for (size_t i = 0; i < m->ndiagnoses; i++)
        if ((rc = diagnosis_put(idx, &m->diagnoses[i], visit_pk)) < 0)
            return rc;
    for (size_t i = 0; i < m->ncharges; i++)
        if ((rc = charge_put(idx, m, &m->charges[i], visit_pk)) < 0)
            return rc;
    return 0;
}
