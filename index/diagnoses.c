/* diagnoses.c: a patient's diagnoses over a period, across all of the patient's visits (local
 * or national id, merges followed), for the underwriting summary (核保): only the code, its
 * system and type, the date and the visit. Reads on a pooled reader, answers in an arena. */
#include "index_int.h"

#include <string.h>

#define PATIENTS_OF_ID                                                                             \
    "SELECT coalesce(merged_into, pk) FROM rec_patients WHERE patient_id=?1"                       \
    " UNION SELECT coalesce(merged_into, pk) FROM rec_patients WHERE national_id=?1"

/* the diagnosis's own time, else the visit's admission, else its discharge: YYYYMMDD */
static const char *const sql =
    "SELECT d.code, d.code_system, d.diagnosis_type, v.visit_number, substr(coalesce("
    " nullif(d.diagnosed_time, ''), nullif(v.admit_time, ''), v.discharge_time), 1, 8) AS day"
    " FROM diagnoses d JOIN visits v ON v.pk = d.visit_pk"
    " WHERE v.patient_pk IN (" PATIENTS_OF_ID ") AND day >= ?2 AND day < ?3"
    " ORDER BY day, v.visit_number, CAST(d.set_id AS INTEGER), d.pk";

static int rows_read(huren_index *idx, sqlite3 *db, huren_index__arena *a, sqlite3_stmt *s,
                     huren_index_diagnosis_list *out)
{
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_dated_diagnosis *d =
            huren_index__arena_push(a, (void **)&out->items, &out->n, &cap, sizeof(*d));
        if (!d)
            return 0; /* oom: reported by the caller */
        d->code = huren_index__col_copy_opt(a, s, 0);
        d->code_system = huren_index__col_copy_opt(a, s, 1);
        d->type = huren_index__col_copy_opt(a, s, 2);
        d->visit_number = huren_index__col_copy_opt(a, s, 3);
        d->day = huren_index__col_copy_opt(a, s, 4);
    }
    return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, db, src, "reading diagnoses");
}

int huren_index_patient_diagnoses(huren_index *idx, const char *patient, const char *from_day,
                                  const char *to_day, huren_index_diagnosis_list *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (!idx || !patient || !from_day || !to_day || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    huren_index__arena *a = huren_index__arena_new();
    out->arena_ = a;
    if (!a) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    int rc = huren_index__reader_get(idx, &db), src;
    if (rc < 0)
        return rc;
    if ((src = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK) {
        rc = huren_index__sqlerr(idx, db, src, "preparing query");
    } else {
        sqlite3_bind_text(s, 1, patient, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, from_day, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, to_day, -1, SQLITE_STATIC);
        rc = rows_read(idx, db, a, s, out);
    }
    sqlite3_finalize(s);
    if (rc >= 0 && huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    huren_index__reader_put(idx, db);
    if (rc < 0)
        huren_index_diagnosis_list_free(out);
    return rc < 0 ? rc : (int)out->n;
}

void huren_index_diagnosis_list_free(huren_index_diagnosis_list *l)
{
    if (!l)
        return;
    huren_index__arena_free(l->arena_);
    memset(l, 0, sizeof(*l));
}
