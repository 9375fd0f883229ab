/* rows.c: the writer's statements on patients, studies, series and instances. Inserting or
 * removing one instance keeps the computed fields (counts, modalities and SOP classes in study)
 * up to date in the same transaction, so queries never aggregate. Used by the writer only. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum stmt_id {
    S_LOOKUP_INSTANCE,
    S_FIND_SERIES,
    S_FIND_STUDY,
    S_FIND_PATIENT,
    S_INSERT_PATIENT,
    S_UPDATE_PATIENT,
    S_OTHER_IDS_CLEAR,
    S_OTHER_ID_ADD,
    S_INSERT_STUDY,
    S_INSERT_SERIES,
    S_INSERT_INSTANCE,
    S_ADJ_PATIENT,
    S_ADJ_STUDY,
    S_ADJ_SERIES,
    S_SOP_CLASS_ADJ,
    S_SOP_CLASS_PRUNE,
    S_STUDY_MODALITIES,
    S_STUDY_SOP_CLASSES,
    S_INSTANCE_PARENTS,
    S_DELETE_INSTANCE,
    S_DELETE_SERIES,
    S_DELETE_STUDY,
    S_DELETE_PATIENT,
    S_ADJ_TOTALS,
    S_COPY_INSERT,
    S_COPY_DELETE,
    S_STUDY_COPIES,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_LOOKUP_INSTANCE] = "SELECT pk, blob_gen, blob_name FROM instances WHERE sop_instance_uid=?1",
    [S_FIND_SERIES] = "SELECT se.pk, se.study_pk, st.patient_pk FROM series se"
                      " JOIN studies st ON st.pk = se.study_pk WHERE se.series_uid=?1",
    [S_FIND_STUDY] = "SELECT pk, patient_pk FROM studies WHERE study_uid=?1",
    [S_FIND_PATIENT] = "SELECT pk, other_patient_ids FROM patients"
                       " WHERE patient_id=?1 AND issuer_of_patient_id=?2",
    [S_INSERT_PATIENT] =
        "INSERT INTO patients(patient_id, issuer_of_patient_id, patient_name, patient_name_norm,"
        " patient_name_alpha, patient_name_ideo, patient_name_phon, patient_birth_date,"
        " patient_sex, other_patient_ids) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    /* newest instance wins, but an absent value does not erase a known one */
    [S_UPDATE_PATIENT] =
        "UPDATE patients SET"
        " patient_name = coalesce(?3, patient_name),"
        " patient_name_norm = CASE WHEN ?3 IS NULL THEN patient_name_norm ELSE ?4 END,"
        " patient_name_alpha = CASE WHEN ?3 IS NULL THEN patient_name_alpha ELSE ?5 END,"
        " patient_name_ideo = CASE WHEN ?3 IS NULL THEN patient_name_ideo ELSE ?6 END,"
        " patient_name_phon = CASE WHEN ?3 IS NULL THEN patient_name_phon ELSE ?7 END,"
        " patient_birth_date = coalesce(?8, patient_birth_date),"
        " patient_sex = coalesce(?9, patient_sex),"
        " other_patient_ids = coalesce(?10, other_patient_ids)"
        " WHERE pk = ?1",
    [S_OTHER_IDS_CLEAR] = "DELETE FROM patient_other_ids WHERE patient_pk=?1",
    [S_OTHER_ID_ADD] =
        "INSERT OR IGNORE INTO patient_other_ids(patient_pk, other_id) VALUES (?1,?2)",
    [S_INSERT_STUDY] =
        "INSERT INTO studies(patient_pk, study_uid, study_date, study_time, accession_number,"
        " study_id, study_description, referring_physician, referring_physician_norm,"
        " referring_physician_alpha, referring_physician_ideo, referring_physician_phon,"
        " institution_name) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [S_INSERT_SERIES] =
        "INSERT INTO series(study_pk, series_uid, modality, series_number, series_number_int,"
        " series_description, body_part, series_date, series_time, pps_start_date,"
        " pps_start_time) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [S_INSERT_INSTANCE] =
        "INSERT INTO instances(series_pk, sop_instance_uid, sop_class_uid, instance_number,"
        " instance_number_int, \"rows\", \"columns\", bits_allocated, number_of_frames,"
        " transfer_syntax_uid, blob_name, blob_gen, blob_size, blob_offset, pixel_sha256)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [S_ADJ_PATIENT] = "UPDATE patients SET patient_num_studies = patient_num_studies + ?2,"
                      " patient_num_series = patient_num_series + ?3,"
                      " patient_num_instances = patient_num_instances + ?4"
                      " WHERE pk=?1 RETURNING patient_num_studies",
    [S_ADJ_STUDY] = "UPDATE studies SET study_num_series = study_num_series + ?2,"
                    " study_num_instances = study_num_instances + ?3"
                    " WHERE pk=?1 RETURNING study_num_series",
    [S_ADJ_SERIES] = "UPDATE series SET series_num_instances = series_num_instances + ?2"
                     " WHERE pk=?1 RETURNING series_num_instances",
    [S_SOP_CLASS_ADJ] = "INSERT INTO study_sop_classes(study_pk, sop_class, n) VALUES (?1,?2,?3)"
                        " ON CONFLICT(study_pk, sop_class) DO UPDATE SET n = n + excluded.n"
                        " RETURNING n",
    [S_SOP_CLASS_PRUNE] = "DELETE FROM study_sop_classes WHERE study_pk=?1 AND n <= 0",
    [S_STUDY_MODALITIES] =
        "UPDATE studies SET modalities_in_study = (SELECT group_concat(m, '\\') FROM"
        " (SELECT DISTINCT modality AS m FROM series WHERE study_pk=?1 AND modality IS NOT NULL"
        " ORDER BY m)) WHERE pk=?1",
    [S_STUDY_SOP_CLASSES] =
        "UPDATE studies SET sop_classes_in_study = (SELECT group_concat(sop_class, '\\') FROM"
        " (SELECT sop_class FROM study_sop_classes WHERE study_pk=?1 ORDER BY sop_class))"
        " WHERE pk=?1",
    [S_INSTANCE_PARENTS] = "SELECT i.series_pk, se.study_pk, st.patient_pk, i.sop_class_uid,"
                           " i.blob_size,"
                           " EXISTS (SELECT 1 FROM instance_copies c WHERE c.instance_pk = i.pk)"
                           " FROM instances i JOIN series se ON se.pk = i.series_pk"
                           " JOIN studies st ON st.pk = se.study_pk WHERE i.pk=?1",
    [S_DELETE_INSTANCE] = "DELETE FROM instances WHERE pk=?1",
    [S_DELETE_SERIES] = "DELETE FROM series WHERE pk=?1",
    [S_DELETE_STUDY] = "DELETE FROM studies WHERE pk=?1",
    [S_DELETE_PATIENT] = "DELETE FROM patients WHERE pk=?1",
    [S_ADJ_TOTALS] = "UPDATE totals SET patients = patients + ?1, studies = studies + ?2,"
                     " series = series + ?3, instances = instances + ?4, bytes = bytes + ?5"
                     " WHERE id = 1",
    [S_COPY_INSERT] = "INSERT INTO instance_copies(instance_pk, source_institution, source_url,"
                      " source_patient_id, source_issuer, retrieved_at)"
                      " VALUES (?1,?2,?3,coalesce(?4,''),coalesce(?5,''),?6)",
    [S_COPY_DELETE] = "DELETE FROM instance_copies WHERE instance_pk=?1",
    [S_STUDY_COPIES] = "UPDATE studies SET copy_instances = copy_instances + ?2,"
                       " copy_source = CASE WHEN copy_instances + ?2 > 0"
                       " THEN coalesce(copy_source, ?3) END WHERE pk=?1",
};

struct huren_index__rows {
    huren_index *idx;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
};

int huren_index__rows_prepare(huren_index *idx, sqlite3 *db, huren_index__rows **out)
{
    int rc = HUREN_INDEX_OK;
    huren_index__rows *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (!r) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    r->idx = idx;
    r->db = db;
    for (int i = 0; i < S_COUNT; i++) {
        int src = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = huren_index__sqlerr(idx, db, src, "preparing writer statement");
            goto done;
        }
    }
    *out = r;
    r = NULL;
done:
    huren_index__rows_finalize(r);
    return rc;
}

void huren_index__rows_finalize(huren_index__rows *r)
{
    if (!r)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    free(r);
}

/* ---- small helpers: bind, run ---- */

static const char *val(const char *const values[], huren_index_field f)
{
    const char *v = values[f];
    return (v && *v) ? v : NULL;
}

/* IS values ("  12") sort numerically; anything that is not a plain integer sorts as NULL */
static void bind_intval(sqlite3_stmt *s, int i, const char *v)
{
    char *end = NULL;
    if (!v) {
        sqlite3_bind_null(s, i);
        return;
    }
    while (*v == ' ')
        v++;
    long long n = strtoll(v, &end, 10);
    while (end && *end == ' ')
        end++;
    if (end == v || !end || *end)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, n);
}

static sqlite3_stmt *stmt(huren_index__rows *r, enum stmt_id id)
{
    sqlite3_stmt *s = r->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Step a statement to completion; if it returns a row, its first column goes to *col0. */
static int run(huren_index__rows *r, sqlite3_stmt *s, int64_t *col0, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (col0)
            *col0 = sqlite3_column_int64(s, 0);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
    }
    int out = rc == SQLITE_DONE ? 0 : huren_index__sqlerr(r->idx, r->db, rc, what);
    sqlite3_reset(s);
    return out;
}

static int adjust(huren_index__rows *r, enum stmt_id id, int64_t pk, int d1, int d2, int d3,
                  int64_t *left)
{
    sqlite3_stmt *s = stmt(r, id);
    sqlite3_bind_int64(s, 1, pk);
    sqlite3_bind_int(s, 2, d1);
    if (id != S_ADJ_SERIES)
        sqlite3_bind_int(s, 3, d2);
    if (id == S_ADJ_PATIENT)
        sqlite3_bind_int(s, 4, d3);
    return run(r, s, left, "updating counts");
}

static int run_pk(huren_index__rows *r, enum stmt_id id, int64_t pk, const char *what)
{
    sqlite3_stmt *s = stmt(r, id);
    sqlite3_bind_int64(s, 1, pk);
    return run(r, s, NULL, what);
}

static int totals_adjust(huren_index__rows *r, int dp, int dst, int dse, int di, int64_t bytes)
{
    sqlite3_stmt *s = stmt(r, S_ADJ_TOTALS);
    sqlite3_bind_int(s, 1, dp);
    sqlite3_bind_int(s, 2, dst);
    sqlite3_bind_int(s, 3, dse);
    sqlite3_bind_int(s, 4, di);
    sqlite3_bind_int64(s, 5, bytes);
    return run(r, s, NULL, "updating totals");
}

int huren_index__rows_lookup(huren_index__rows *r, const char *sop_uid, huren_index__existing *out)
{
    sqlite3_stmt *s = stmt(r, S_LOOKUP_INSTANCE);
    memset(out, 0, sizeof(*out));
    sqlite3_bind_text(s, 1, sop_uid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(s, 2);
        out->found = 1;
        out->pk = sqlite3_column_int64(s, 0);
        out->gen = sqlite3_column_int64(s, 1);
        if (name)
            snprintf(out->blob_name, sizeof(out->blob_name), "%s", (const char *)name);
        rc = SQLITE_DONE;
    }
    int ret = rc == SQLITE_DONE ? 0 : huren_index__sqlerr(r->idx, r->db, rc, "looking up instance");
    sqlite3_reset(s);
    return ret;
}

/* ---- patients ---- */

static int other_ids_write(huren_index__rows *r, int64_t ppk, const char *ids)
{
    int rc = run_pk(r, S_OTHER_IDS_CLEAR, ppk, "clearing other patient ids");
    const char *p = ids;
    while (rc == 0 && p && *p) {
        const char *bs = strchr(p, '\\');
        size_t n = bs ? (size_t)(bs - p) : strlen(p);
        if (n > 0) {
            sqlite3_stmt *s = stmt(r, S_OTHER_ID_ADD);
            sqlite3_bind_int64(s, 1, ppk);
            sqlite3_bind_text(s, 2, p, (int)n, SQLITE_STATIC);
            rc = run(r, s, NULL, "adding other patient id");
        }
        p = bs ? bs + 1 : NULL;
    }
    return rc;
}

static void bind_patient(sqlite3_stmt *s, const char *const values[], const huren_index__pname *pn)
{
    huren_index__bind_opt(s, 3, val(values, HUREN_INDEX_F_PATIENT_NAME));
    huren_index__bind_opt(s, 4, pn->full);
    huren_index__bind_opt(s, 5, pn->group[0]);
    huren_index__bind_opt(s, 6, pn->group[1]);
    huren_index__bind_opt(s, 7, pn->group[2]);
    huren_index__bind_opt(s, 8, val(values, HUREN_INDEX_F_PATIENT_BIRTH_DATE));
    huren_index__bind_opt(s, 9, val(values, HUREN_INDEX_F_PATIENT_SEX));
    huren_index__bind_opt(s, 10, val(values, HUREN_INDEX_F_OTHER_PATIENT_IDS));
}

/* Find the patient (patient_id, issuer); with must_be >= 0 only update it if it is that row.
 * Without must_be, create it when missing. *ppk receives the patient's pk (or -1). keep: an
 * existing row is left as it is (a retrieved copy names our patient, whose data are ours). */
static int patient_upsert(huren_index__rows *r, const char *const values[], int64_t must_be,
                          int64_t *ppk, int *created, int keep)
{
    const char *pid = val(values, HUREN_INDEX_F_PATIENT_ID);
    const char *iss = val(values, HUREN_INDEX_F_ISSUER_OF_PATIENT_ID);
    const char *other = val(values, HUREN_INDEX_F_OTHER_PATIENT_IDS);
    huren_index__pname pn;
    int rc, other_changed = 0;
    int64_t pk = -1;

    if (huren_index__pname_split(val(values, HUREN_INDEX_F_PATIENT_NAME), &pn) < 0) {
        huren_index__seterr(r->idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    sqlite3_stmt *s = stmt(r, S_FIND_PATIENT);
    sqlite3_bind_text(s, 1, pid ? pid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, iss ? iss : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(s, 1);
        pk = sqlite3_column_int64(s, 0);
        other_changed = other && (!old || strcmp(old, other) != 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        rc = huren_index__sqlerr(r->idx, r->db, rc, "finding patient");
        goto done;
    }
    rc = 0;
    *ppk = -1;
    if (must_be >= 0 && pk != must_be)
        goto done; /* the instance names another patient than its study's: keep the study's */
    if (pk >= 0 && keep) { /* a copy names our patient; its own demographics do not win */
        *ppk = pk;
        goto done;
    }
    if (pk >= 0) {
        s = stmt(r, S_UPDATE_PATIENT);
        sqlite3_bind_int64(s, 1, pk);
    } else {
        s = stmt(r, S_INSERT_PATIENT);
        sqlite3_bind_text(s, 1, pid ? pid : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, iss ? iss : "", -1, SQLITE_STATIC);
        other_changed = other != NULL;
    }
    bind_patient(s, values, &pn);
    if ((rc = run(r, s, NULL, "storing patient")) < 0)
        goto done;
    if (pk < 0) {
        pk = sqlite3_last_insert_rowid(r->db);
        *created = 1;
    }
    if (other_changed && (rc = other_ids_write(r, pk, other)) < 0)
        goto done;
    *ppk = pk;
done:
    huren_index__pname_clear(&pn);
    return rc;
}

/* ---- studies, series, instances ---- */

static int study_insert(huren_index__rows *r, const char *const values[], int64_t ppk,
                        int64_t *stpk)
{
    huren_index__pname pn;
    if (huren_index__pname_split(val(values, HUREN_INDEX_F_REFERRING_PHYSICIAN), &pn) < 0) {
        huren_index__seterr(r->idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    sqlite3_stmt *s = stmt(r, S_INSERT_STUDY);
    sqlite3_bind_int64(s, 1, ppk);
    huren_index__bind_opt(s, 2, val(values, HUREN_INDEX_F_STUDY_UID));
    huren_index__bind_opt(s, 3, val(values, HUREN_INDEX_F_STUDY_DATE));
    huren_index__bind_opt(s, 4, val(values, HUREN_INDEX_F_STUDY_TIME));
    huren_index__bind_opt(s, 5, val(values, HUREN_INDEX_F_ACCESSION_NUMBER));
    huren_index__bind_opt(s, 6, val(values, HUREN_INDEX_F_STUDY_ID));
    huren_index__bind_opt(s, 7, val(values, HUREN_INDEX_F_STUDY_DESCRIPTION));
    huren_index__bind_opt(s, 8, val(values, HUREN_INDEX_F_REFERRING_PHYSICIAN));
    huren_index__bind_opt(s, 9, pn.full);
    huren_index__bind_opt(s, 10, pn.group[0]);
    huren_index__bind_opt(s, 11, pn.group[1]);
    huren_index__bind_opt(s, 12, pn.group[2]);
    huren_index__bind_opt(s, 13, val(values, HUREN_INDEX_F_INSTITUTION_NAME));
    int rc = run(r, s, NULL, "storing study");
    huren_index__pname_clear(&pn);
    if (rc == 0)
        *stpk = sqlite3_last_insert_rowid(r->db);
    return rc;
}

static int series_insert(huren_index__rows *r, const char *const values[], int64_t stpk,
                         int64_t *sepk)
{
    sqlite3_stmt *s = stmt(r, S_INSERT_SERIES);
    sqlite3_bind_int64(s, 1, stpk);
    huren_index__bind_opt(s, 2, val(values, HUREN_INDEX_F_SERIES_UID));
    huren_index__bind_opt(s, 3, val(values, HUREN_INDEX_F_MODALITY));
    huren_index__bind_opt(s, 4, val(values, HUREN_INDEX_F_SERIES_NUMBER));
    bind_intval(s, 5, val(values, HUREN_INDEX_F_SERIES_NUMBER));
    huren_index__bind_opt(s, 6, val(values, HUREN_INDEX_F_SERIES_DESCRIPTION));
    huren_index__bind_opt(s, 7, val(values, HUREN_INDEX_F_BODY_PART));
    huren_index__bind_opt(s, 8, val(values, HUREN_INDEX_F_SERIES_DATE));
    huren_index__bind_opt(s, 9, val(values, HUREN_INDEX_F_SERIES_TIME));
    huren_index__bind_opt(s, 10, val(values, HUREN_INDEX_F_PPS_START_DATE));
    huren_index__bind_opt(s, 11, val(values, HUREN_INDEX_F_PPS_START_TIME));
    int rc = run(r, s, NULL, "storing series");
    if (rc == 0)
        *sepk = sqlite3_last_insert_rowid(r->db);
    return rc;
}

static int instance_insert(huren_index__rows *r, const char *const values[], int64_t sepk,
                           const char *blob_name, int64_t gen, int64_t offset, int64_t size)
{
    sqlite3_stmt *s = stmt(r, S_INSERT_INSTANCE);
    sqlite3_bind_int64(s, 1, sepk);
    huren_index__bind_opt(s, 2, val(values, HUREN_INDEX_F_SOP_INSTANCE_UID));
    huren_index__bind_opt(s, 3, val(values, HUREN_INDEX_F_SOP_CLASS_UID));
    huren_index__bind_opt(s, 4, val(values, HUREN_INDEX_F_INSTANCE_NUMBER));
    bind_intval(s, 5, val(values, HUREN_INDEX_F_INSTANCE_NUMBER));
    huren_index__bind_opt(s, 6, val(values, HUREN_INDEX_F_ROWS));
    huren_index__bind_opt(s, 7, val(values, HUREN_INDEX_F_COLUMNS));
    huren_index__bind_opt(s, 8, val(values, HUREN_INDEX_F_BITS_ALLOCATED));
    huren_index__bind_opt(s, 9, val(values, HUREN_INDEX_F_NUMBER_OF_FRAMES));
    huren_index__bind_opt(s, 10, val(values, HUREN_INDEX_F_TRANSFER_SYNTAX_UID));
    huren_index__bind_opt(s, 11, blob_name);
    sqlite3_bind_int64(s, 12, gen);
    sqlite3_bind_int64(s, 13, size);
    sqlite3_bind_int64(s, 14, offset);
    /* "" (no PixelData) is kept apart from NULL (not computed yet) */
    const char *px = values[HUREN_INDEX_F_PIXEL_SHA256];
    if (px)
        sqlite3_bind_text(s, 15, px, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 15);
    return run(r, s, NULL, "storing instance");
}

static int sop_class_adjust(huren_index__rows *r, int64_t stpk, const char *sop_class, int d)
{
    int64_t n = 0;
    sqlite3_stmt *s = stmt(r, S_SOP_CLASS_ADJ);
    sqlite3_bind_int64(s, 1, stpk);
    sqlite3_bind_text(s, 2, sop_class, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, d);
    int rc = run(r, s, &n, "counting SOP classes");
    if (rc == 0 && n <= 0)
        rc = run_pk(r, S_SOP_CLASS_PRUNE, stpk, "counting SOP classes");
    /* the text column changes only when a class appears or disappears */
    if (rc == 0 && ((d > 0 && n == d) || n <= 0))
        rc = run_pk(r, S_STUDY_SOP_CLASSES, stpk, "listing SOP classes in study");
    return rc;
}

/* Locate (or create) the parents of an instance: series, study, patient. */
static int parents_get(huren_index__rows *r, const char *const values[], int64_t pk[3],
                       int created[3], int copy)
{
    int64_t ppk_seen = -1;
    int rc;
    created[0] = created[1] = created[2] = 0; /* study, series, patient */
    sqlite3_stmt *s = stmt(r, S_FIND_SERIES);
    sqlite3_bind_text(s, 1, val(values, HUREN_INDEX_F_SERIES_UID), -1, SQLITE_STATIC);
    pk[0] = pk[1] = pk[2] = -1;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < 3; i++)
            pk[i] = sqlite3_column_int64(s, i);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return huren_index__sqlerr(r->idx, r->db, rc, "finding series");
    if (pk[0] < 0) {
        s = stmt(r, S_FIND_STUDY);
        sqlite3_bind_text(s, 1, val(values, HUREN_INDEX_F_STUDY_UID), -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            pk[1] = sqlite3_column_int64(s, 0);
            pk[2] = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return huren_index__sqlerr(r->idx, r->db, rc, "finding study");
    }
    /* an existing study keeps its patient; that patient's attributes follow the newest put */
    if ((rc = patient_upsert(r, values, pk[2], &ppk_seen, &created[2], copy)) < 0)
        return rc;
    if (pk[1] < 0) {
        pk[2] = ppk_seen;
        if ((rc = study_insert(r, values, pk[2], &pk[1])) < 0)
            return rc;
        created[0] = 1;
    }
    if (pk[0] < 0) {
        if ((rc = series_insert(r, values, pk[1], &pk[0])) < 0)
            return rc;
        created[1] = 1;
    }
    return 0;
}

/* Mark the instance just inserted as a retrieved copy and count it in its study. */
static int copy_mark(huren_index__rows *r, int64_t stpk, const huren_index_copy *copy)
{
    sqlite3_stmt *s = stmt(r, S_COPY_INSERT);
    sqlite3_bind_int64(s, 1, sqlite3_last_insert_rowid(r->db));
    huren_index__bind_opt(s, 2, copy->institution);
    huren_index__bind_opt(s, 3, copy->source_url);
    huren_index__bind_opt(s, 4, copy->patient_id);
    huren_index__bind_opt(s, 5, copy->issuer);
    sqlite3_bind_int64(s, 6, copy->retrieved_at ? copy->retrieved_at : (int64_t)time(NULL));
    int rc = run(r, s, NULL, "marking a copy");
    if (rc < 0)
        return rc;
    s = stmt(r, S_STUDY_COPIES);
    sqlite3_bind_int64(s, 1, stpk);
    sqlite3_bind_int(s, 2, 1);
    huren_index__bind_opt(s, 3, copy->institution);
    return run(r, s, NULL, "counting copies");
}

int huren_index__rows_insert(huren_index__rows *r, const char *const values[HUREN_INDEX_F_COUNT],
                             const char *blob_name, int64_t gen, int64_t offset, int64_t size,
                             const huren_index_copy *copy)
{
    int64_t pk[3]; /* series, study, patient */
    int created[3];
    int rc = parents_get(r, values, pk, created, copy != NULL);
    if (rc < 0)
        return rc;
    if ((rc = instance_insert(r, values, pk[0], blob_name, gen, offset, size)) < 0)
        return rc;
    if (copy && (rc = copy_mark(r, pk[1], copy)) < 0)
        return rc;
    if ((rc = adjust(r, S_ADJ_SERIES, pk[0], 1, 0, 0, NULL)) < 0 ||
        (rc = adjust(r, S_ADJ_STUDY, pk[1], created[1], 1, 0, NULL)) < 0 ||
        (rc = adjust(r, S_ADJ_PATIENT, pk[2], created[0], created[1], 1, NULL)) < 0)
        return rc;
    if (created[1] && (rc = run_pk(r, S_STUDY_MODALITIES, pk[1], "listing modalities")) < 0)
        return rc;
    if ((rc = totals_adjust(r, created[2], created[0], created[1], 1, size)) < 0)
        return rc;
    return sop_class_adjust(r, pk[1], val(values, HUREN_INDEX_F_SOP_CLASS_UID), 1);
}

int huren_index__rows_remove(huren_index__rows *r, int64_t instance_pk)
{
    return huren_index__rows_remove_ex(r, instance_pk, 0);
}

int huren_index__rows_remove_ex(huren_index__rows *r, int64_t instance_pk, int keep_study)
{
    int64_t pk[3] = {-1, -1, -1}, left = 0, size = 0;
    int was_copy = 0;
    char *sop_class = NULL;
    int rc;
    sqlite3_stmt *s = stmt(r, S_INSTANCE_PARENTS);
    sqlite3_bind_int64(s, 1, instance_pk);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < 3; i++)
            pk[i] = sqlite3_column_int64(s, i);
        const char *c = (const char *)sqlite3_column_text(s, 3);
        sop_class = strdup(c ? c : "");
        size = sqlite3_column_int64(s, 4);
        was_copy = sqlite3_column_int(s, 5);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? HUREN_INDEX_ENOTFOUND
                               : huren_index__sqlerr(r->idx, r->db, rc, "finding instance");
        if (rc == HUREN_INDEX_ENOTFOUND)
            huren_index__seterr(r->idx, "instance row %lld not found", (long long)instance_pk);
        goto done;
    }
    if (!sop_class) {
        huren_index__seterr(r->idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
        goto done;
    }
    if (was_copy && (rc = run_pk(r, S_COPY_DELETE, instance_pk, "removing a copy mark")) < 0)
        goto done;
    if ((rc = run_pk(r, S_DELETE_INSTANCE, instance_pk, "removing instance")) < 0 ||
        (rc = sop_class_adjust(r, pk[1], sop_class, -1)) < 0 ||
        (rc = adjust(r, S_ADJ_SERIES, pk[0], -1, 0, 0, &left)) < 0)
        goto done;
    int series_gone = left <= 0;
    if (series_gone && (rc = run_pk(r, S_DELETE_SERIES, pk[0], "removing series")) < 0)
        goto done;
    if ((rc = adjust(r, S_ADJ_STUDY, pk[1], -series_gone, -1, 0, &left)) < 0)
        goto done;
    /* keep_study: an evicted cache copy leaves its study as held at the PACS (pacs_cache.c) */
    int study_gone = left <= 0 && !keep_study;
    if (study_gone && (rc = run_pk(r, S_DELETE_STUDY, pk[1], "removing study")) < 0)
        goto done;
    if (!study_gone && was_copy) {
        s = stmt(r, S_STUDY_COPIES);
        sqlite3_bind_int64(s, 1, pk[1]);
        sqlite3_bind_int(s, 2, -1);
        if ((rc = run(r, s, NULL, "counting copies")) < 0)
            goto done;
    }
    if (!study_gone && series_gone && !keep_study &&
        (rc = run_pk(r, S_STUDY_MODALITIES, pk[1], "listing modalities")) < 0)
        goto done;
    if ((rc = adjust(r, S_ADJ_PATIENT, pk[2], -study_gone, -series_gone, -1, &left)) < 0)
        goto done;
    int patient_gone = left <= 0;
    if (patient_gone && (rc = run_pk(r, S_DELETE_PATIENT, pk[2], "removing patient")) < 0)
        goto done;
    rc = totals_adjust(r, -patient_gone, -study_gone, -series_gone, -1, -size);
done:
    free(sop_class);
    return rc;
}
