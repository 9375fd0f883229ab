/* query.c: huren_index_find. Builds one SELECT joining the level's table to the levels above,
 * with a parameterised condition per match (match.c), runs it on a pooled reader connection and
 * hands each row to the caller's callback. */
#include "index_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const from_sql[] = {
    [HUREN_INDEX_LEVEL_PATIENT] = "patients p",
    [HUREN_INDEX_LEVEL_STUDY] = "studies st JOIN patients p ON p.pk = st.patient_pk"
                                " LEFT JOIN pacs_studies ps ON ps.study_pk = st.pk",
    [HUREN_INDEX_LEVEL_SERIES] = "series se JOIN studies st ON st.pk = se.study_pk"
                                 " JOIN patients p ON p.pk = st.patient_pk",
    [HUREN_INDEX_LEVEL_INSTANCE] = "instances i JOIN series se ON se.pk = i.series_pk"
                                   " JOIN studies st ON st.pk = se.study_pk"
                                   " JOIN patients p ON p.pk = st.patient_pk"
                                   " LEFT JOIN instance_copies ic ON ic.instance_pk = i.pk",
};

/* The copy columns of a row (schema 9): source institution, its PatientID and issuer. A study
 * or series is a copy when all of its study's instances are. */
#define STUDY_COPY                                                                                 \
    "CASE WHEN st.copy_instances > 0 AND st.copy_instances = st.study_num_instances"               \
    " THEN st.copy_source END"
static const char *const copy_sql[] = {
    [HUREN_INDEX_LEVEL_PATIENT] = "NULL, NULL, NULL",
    [HUREN_INDEX_LEVEL_STUDY] = STUDY_COPY ", NULL, NULL",
    [HUREN_INDEX_LEVEL_SERIES] = STUDY_COPY ", NULL, NULL",
    [HUREN_INDEX_LEVEL_INSTANCE] = "ic.source_institution, ic.source_patient_id, ic.source_issuer",
};

/* Held at a PACS (schema 12): on study rows of a study none of whose instances is here, the
 * PACS's name and the counts it gave. */
#define STUDY_HELD                                                                                 \
    "CASE WHEN st.study_num_instances = 0 THEN ps.pacs END, ps.num_series, ps.num_instances"
static const char *const held_sql[] = {
    [HUREN_INDEX_LEVEL_PATIENT] = "NULL, 0, 0",
    [HUREN_INDEX_LEVEL_STUDY] = STUDY_HELD,
    [HUREN_INDEX_LEVEL_SERIES] = "NULL, 0, 0",
    [HUREN_INDEX_LEVEL_INSTANCE] = "NULL, 0, 0",
};

/* Below the study level rows stay grouped by their parents: a series list across studies
 * reads study by study, then by series number (numerically), then UID. */
#define STUDY_ORDER "st.study_date, st.study_time, st.study_uid"
#define SERIES_ORDER STUDY_ORDER ", se.series_number_int, se.series_uid"
static const char *const order_sql[] = {
    [HUREN_INDEX_LEVEL_PATIENT] = "p.patient_id, p.issuer_of_patient_id",
    [HUREN_INDEX_LEVEL_STUDY] = STUDY_ORDER,
    [HUREN_INDEX_LEVEL_SERIES] = SERIES_ORDER,
    [HUREN_INDEX_LEVEL_INSTANCE] = SERIES_ORDER ", i.instance_number_int, i.sop_instance_uid",
};

int huren_index__find_sql(const huren_index *idx, const huren_index_query *q, huren_buf *sql,
                          huren_index__params *params)
{
    huren_buf where = {0};
    int rc = 0;
    if (!q || (int)q->level < HUREN_INDEX_LEVEL_PATIENT || q->level > HUREN_INDEX_LEVEL_INSTANCE ||
        (q->nmatches && !q->matches)) {
        huren_index__seterr(idx, "malformed query");
        return HUREN_INDEX_EINVAL;
    }
    huren_buf_adds(sql, "SELECT ");
    for (int f = 0; f < HUREN_INDEX_F_COUNT; f++) {
        const huren_index__field_def *d = huren_index__field(f);
        if (d->level <= q->level)
            huren_buf_printf(sql, "%s.\"%s\", ", d->alias, d->name);
    }
    huren_buf_adds(sql, q->level == HUREN_INDEX_LEVEL_INSTANCE
                            ? "i.blob_name, i.blob_size, i.blob_offset"
                            : "NULL, 0, 0");
    huren_buf_printf(sql, ", %s, %s", copy_sql[q->level], held_sql[q->level]);
    huren_buf_printf(sql, " FROM %s WHERE 1", from_sql[q->level]);
    for (size_t i = 0; i < q->nmatches; i++) {
        huren_index_field f = q->matches[i].field;
        if (huren_index__field(f) && huren_index_field_level(f) > q->level) {
            huren_index__seterr(idx, "%s: below the query level", huren_index_field_name(f));
            rc = HUREN_INDEX_EINVAL;
            goto done;
        }
        if ((rc = huren_index__match_sql(idx, &q->matches[i], &where, params)) < 0)
            goto done;
    }
    if (where.data)
        huren_buf_adds(sql, where.data);
    huren_buf_printf(sql, " ORDER BY %s LIMIT ?%zu OFFSET ?%zu", order_sql[q->level], params->n + 1,
                     params->n + 2);
    if (sql->failed || where.failed) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
done:
    if (rc == HUREN_INDEX_ERROR && !sql->failed && !where.failed)
        huren_index__seterr(idx, "out of memory");
    huren_buf_free(&where);
    return rc;
}

static int rows_deliver(huren_index *idx, sqlite3 *db, sqlite3_stmt *st, const huren_index_query *q,
                        huren_index_row_cb cb, void *payload)
{
    char path[PATH_MAX];
    int delivered = 0, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        huren_index_row row;
        int c = 0;
        memset(&row, 0, sizeof(row));
        for (int f = 0; f < HUREN_INDEX_F_COUNT; f++) {
            if (huren_index_field_level(f) > q->level)
                continue;
            const char *v = (const char *)sqlite3_column_text(st, c++);
            row.values[f] = (v && *v) ? v : NULL;
        }
        const char *blob = (const char *)sqlite3_column_text(st, c);
        if (blob && huren_index__blob_path(idx, blob, path, sizeof(path)) == 0)
            row.blob_path = path;
        row.blob_size = sqlite3_column_int64(st, c + 1);
        row.blob_offset = sqlite3_column_int64(st, c + 2);
        row.copy_of = (const char *)sqlite3_column_text(st, c + 3);
        if (row.copy_of) {
            row.copy_patient_id = (const char *)sqlite3_column_text(st, c + 4);
            row.copy_issuer = (const char *)sqlite3_column_text(st, c + 5);
        }
        row.held_at = (const char *)sqlite3_column_text(st, c + 6);
        if (row.held_at) { /* the counts are the PACS's */
            row.values[HUREN_INDEX_F_STUDY_NUM_SERIES] =
                (const char *)sqlite3_column_text(st, c + 7);
            row.values[HUREN_INDEX_F_STUDY_NUM_INSTANCES] =
                (const char *)sqlite3_column_text(st, c + 8);
        }
        if (cb && cb(payload, &row) != 0) {
            huren_index__seterr(idx, "stopped by the row callback");
            return HUREN_INDEX_ECANCEL;
        }
        if (delivered < INT_MAX)
            delivered++;
    }
    if (src != SQLITE_DONE)
        return huren_index__sqlerr(idx, db, src, "running query");
    return delivered;
}

int huren_index_find(huren_index *idx, const huren_index_query *q, huren_index_row_cb cb,
                     void *payload)
{
    huren_buf sql = {0};
    huren_index__params params = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc, src;
    if (!idx)
        return HUREN_INDEX_EINVAL;
    if ((rc = huren_index__find_sql(idx, q, &sql, &params)) < 0)
        goto done;
    if ((rc = huren_index__reader_get(idx, &db)) < 0)
        goto done;
    src = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = huren_index__sqlerr(idx, db, src, "preparing query");
        goto done;
    }
    for (size_t i = 0; i < params.n; i++)
        sqlite3_bind_text(st, (int)i + 1, params.v[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, (int)params.n + 1,
                       q->limit ? (q->limit > INT64_MAX ? INT64_MAX : (int64_t)q->limit) : -1);
    sqlite3_bind_int64(st, (int)params.n + 2,
                       q->offset > INT64_MAX ? INT64_MAX : (int64_t)q->offset);
    rc = rows_deliver(idx, db, st, q, cb, payload);
done:
    sqlite3_finalize(st);
    huren_index__reader_put(idx, db);
    huren_index__params_free(&params);
    huren_buf_free(&sql);
    return rc;
}
