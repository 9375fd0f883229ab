/* delete.c: huren_index_study_delete, an administrator's removal of a study. The rows go in one
 * transaction on the writer with the directory's tombstone (outbox.c); files of their own are
 * journalled (pending.c) before the commit and unlinked after it, so a crash in between leaves
 * them to the next open; packed bytes are left as garbage for compaction (compact.c). */
#include "index_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct victim {
    int64_t pk, size;
    char uid[HUREN_INDEX__VALUE_MAX + 1];
    char name[HUREN_INDEX__BLOB_NAME_MAX];
} victim;

typedef struct victims {
    victim *v;
    size_t n, cap;
} victims;

static int victims_collect(huren_index *idx, int64_t study_pk, victims *out)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx,
                                "SELECT i.pk, i.sop_instance_uid, coalesce(i.blob_name, ''),"
                                " i.blob_size FROM instances i JOIN series se ON se.pk=i.series_pk"
                                " WHERE se.study_pk=?1",
                                &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, study_pk);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            victim *v = realloc(out->v, cap * sizeof(*v));
            if (!v) {
                sqlite3_finalize(s);
                huren_index__seterr(idx, "out of memory");
                return HUREN_INDEX_ERROR;
            }
            out->v = v;
            out->cap = cap;
        }
        victim *v = &out->v[out->n++];
        v->pk = sqlite3_column_int64(s, 0);
        snprintf(v->uid, sizeof(v->uid), "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(v->name, sizeof(v->name), "%s", (const char *)sqlite3_column_text(s, 2));
        v->size = sqlite3_column_int64(s, 3);
    }
    sqlite3_finalize(s);
    return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "listing instances");
}

/* The study's pk, PatientID and accession number; ENOTFOUND when not held. */
static int study_find(huren_index *idx, const char *uid, int64_t *pk, char *patient, size_t plen,
                      char *accession, size_t alen)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx,
                                "SELECT st.pk, p.patient_id, coalesce(st.accession_number, '')"
                                " FROM studies st JOIN patients p ON p.pk=st.patient_pk"
                                " WHERE st.study_uid=?1",
                                &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *pk = sqlite3_column_int64(s, 0);
        snprintf(patient, plen, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(accession, alen, "%s", (const char *)sqlite3_column_text(s, 2));
        rc = 0;
    } else if (src == SQLITE_DONE) {
        huren_index__seterr(idx, "study %s is not held here", uid);
        rc = HUREN_INDEX_ENOTFOUND;
    } else {
        rc = huren_index__sqlerr(idx, idx->wdb, src, "finding study");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Inside the open transaction: every row, journalling own files first. */
static int rows_delete(huren_index *idx, const victims *vs, huren_index_study_deleted *d)
{
    for (size_t i = 0; i < vs->n; i++) {
        const victim *v = &vs->v[i];
        int rc;
        if (v->name[0] && !huren_index__pack_is(v->name) &&
            (rc = huren_index__pending_add(idx, v->name, v->uid)) < 0) {
            huren_index__seterr(idx, "writing the pending-blob journal: %s", strerror(-rc));
            return HUREN_INDEX_EIO;
        }
        if ((rc = huren_index__rows_remove(idx->rows, v->pk)) < 0)
            return rc;
        d->instances++;
        if (huren_index__pack_is(v->name))
            d->pack_bytes += v->size;
    }
    return 0;
}

static int exec(huren_index *idx, const char *sql)
{
    int rc = sqlite3_exec(idx->wdb, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, rc, sql);
}

int huren_index_study_delete(huren_index *idx, const char *study_uid,
                             huren_index_study_deleted *out)
{
    huren_index_study_deleted d = {0};
    victims vs = {0};
    char accession[HUREN_INDEX__VALUE_MAX + 1] = "";
    int64_t study_pk = 0;
    if (!idx || !study_uid || !*study_uid || strlen(study_uid) > 64 ||
        strspn(study_uid, "0123456789.") != strlen(study_uid)) {
        if (idx)
            huren_index__seterr(idx, "not a UID");
        return HUREN_INDEX_EINVAL;
    }
    huren_index__writer_acquire(idx);
    int rc = exec(idx, "BEGIN IMMEDIATE");
    if (rc == 0)
        rc = study_find(idx, study_uid, &study_pk, d.patient_id, sizeof(d.patient_id), accession,
                        sizeof(accession));
    if (rc == 0)
        rc = victims_collect(idx, study_pk, &vs);
    if (rc == 0)
        rc = rows_delete(idx, &vs, &d);
    if (rc == 0)
        rc = huren_index__outbox_study_deleted(idx, study_uid, accession);
    if (rc == 0)
        rc = exec(idx, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    for (size_t i = 0; rc == 0 && i < vs.n; i++) {
        char path[PATH_MAX];
        if (!vs.v[i].name[0] || huren_index__pack_is(vs.v[i].name) ||
            huren_index__blob_path(idx, vs.v[i].name, path, sizeof(path)) < 0)
            continue;
        d.files_removed += unlink(path) == 0;
    }
    huren_index__pending_clear(idx);
    huren_index__writer_release(idx);
    free(vs.v);
    if (rc == 0 && out)
        *out = d;
    return rc;
}
