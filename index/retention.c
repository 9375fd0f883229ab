/* retention.c: the studies a retention rule may remove, oldest first: by StudyDate (a study
 * without one is never aged out), with their PatientID and bytes; protected studies left out
 * when asked: a study a recognition decision was taken on (its result key names the study,
 * "INSTITUTION/study:UID") and every study of a patient an insurer claim was made for. Read
 * on a reader connection; the deletion itself is huren_index_study_delete. */
#include "index_int.h"

#include <stdio.h>
#include <string.h>

static const char sql[] =
    "SELECT st.study_uid, coalesce(st.study_date, ''), p.patient_id,"
    " (SELECT coalesce(sum(i.blob_size), 0) FROM series se JOIN instances i"
    "   ON i.series_pk = se.pk WHERE se.study_pk = st.pk)"
    " FROM studies st JOIN patients p ON p.pk = st.patient_pk"
    " WHERE st.study_date IS NOT NULL AND length(st.study_date) = 8"
    " AND (?1 IS NULL OR st.study_date < ?1)"
    " AND (?2 = 0 OR (NOT EXISTS (SELECT 1 FROM rec_decisions d"
    "   WHERE substr(d.result_key, instr(d.result_key, '/') + 1) = 'study:' || st.study_uid)"
    "  AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.patient_id = p.patient_id)))"
    " ORDER BY st.study_date, st.study_uid";

int huren_index_retention_candidates(huren_index *idx, const char *before_date, int protect,
                                     huren_index_retention_cb cb, void *payload)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (!idx || !cb ||
        (before_date && (strlen(before_date) != 8 || strspn(before_date, "0123456789") != 8))) {
        if (idx)
            huren_index__seterr(idx, "retention: the date must be YYYYMMDD");
        return HUREN_INDEX_EINVAL;
    }
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        if (before_date)
            sqlite3_bind_text(s, 1, before_date, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, protect ? 1 : 0);
    }
    int n = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        huren_index_retention_study st = {
            .study_uid = (const char *)sqlite3_column_text(s, 0),
            .study_date = (const char *)sqlite3_column_text(s, 1),
            .patient_id = (const char *)sqlite3_column_text(s, 2),
            .bytes = sqlite3_column_int64(s, 3),
        };
        n++;
        if (cb(payload, &st) != 0) {
            src = SQLITE_DONE;
            rc = HUREN_INDEX_ECANCEL;
            break;
        }
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE)
        rc = huren_index__sqlerr(idx, db, src, "listing studies for retention");
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc < 0 ? rc : n;
}
