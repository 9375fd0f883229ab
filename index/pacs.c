/* pacs.c: studies held at a hospital PACS (schema step 12): the answers of the sync's C-FIND
 * into patient and study rows without instances, their removal when the PACS no longer has
 * them, the sync's per-day watermark, and whether a study is held only there. Writes take the
 * writer connection for a transaction of their own (one per answered window). */
#include "index_int.h"
#include "index_pacs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *v(const huren_index_pacs_study *s, huren_index_field f)
{
    const char *x = s->values[f];
    return x && *x ? x : NULL;
}

static int name_check(huren_index *idx, const char *pacs)
{
    if (!pacs || !*pacs || strlen(pacs) > HUREN_INDEX_PACS_NAME_MAX) {
        huren_index__seterr(idx, "PACS name: empty or longer than %d characters",
                            HUREN_INDEX_PACS_NAME_MAX);
        return HUREN_INDEX_EINVAL;
    }
    return 0;
}

static int study_check(huren_index *idx, const huren_index_pacs_study *s)
{
    if (!v(s, HUREN_INDEX_F_STUDY_UID)) {
        huren_index__seterr(idx, "PACS study without StudyInstanceUID");
        return HUREN_INDEX_EINVAL;
    }
    for (int f = 0; f < HUREN_INDEX_F_COUNT; f++)
        if (s->values[f] && strlen(s->values[f]) > HUREN_INDEX__VALUE_MAX) {
            huren_index__seterr(idx, "%s: value too long", huren_index_field_name(f));
            return HUREN_INDEX_EINVAL;
        }
    return 0;
}

/* Run sql with the text parameters given (NULL or "" bound as NULL) and int64 ones after
 * them; *col0 (may be NULL) gets the first column of the first row, -1 if none. */
static int exec(huren_index *idx, const char *sql, const char *const *t, int nt,
                const int64_t *ints, int ni, int64_t *col0, const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx, sql, &s);
    if (rc < 0)
        return rc;
    for (int i = 0; i < nt; i++)
        huren_index__bind_opt(s, i + 1, t[i]);
    for (int i = 0; i < ni; i++)
        sqlite3_bind_int64(s, nt + i + 1, ints[i]);
    int src = sqlite3_step(s);
    if (col0)
        *col0 = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    if (src == SQLITE_ROW || src == SQLITE_DONE)
        rc = 0;
    else
        rc = huren_index__sqlerr(idx, idx->wdb, src, what);
    sqlite3_finalize(s);
    return rc;
}

/* The patient of an answer, found by PatientID and issuer or created; *created when new. */
static int patient_get(huren_index *idx, const huren_index_pacs_study *s, int64_t *pk, int *created)
{
    const char *pid = v(s, HUREN_INDEX_F_PATIENT_ID),
               *iss = v(s, HUREN_INDEX_F_ISSUER_OF_PATIENT_ID);
    const char *key[2] = {pid ? pid : "", iss ? iss : ""};
    sqlite3_stmt *st = NULL;
    int rc = huren_index__wprep(idx,
                                "SELECT pk FROM patients WHERE patient_id=?1 AND"
                                " issuer_of_patient_id=?2",
                                &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, key[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key[1], -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    *pk = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return huren_index__sqlerr(idx, idx->wdb, src, "finding patient");
    *created = 0;
    if (*pk >= 0)
        return 0;
    huren_index__pname pn;
    if (huren_index__pname_split(v(s, HUREN_INDEX_F_PATIENT_NAME), &pn) < 0) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    const char *t[] = {key[0],
                       key[1],
                       v(s, HUREN_INDEX_F_PATIENT_NAME),
                       pn.full,
                       pn.group[0],
                       pn.group[1],
                       pn.group[2],
                       v(s, HUREN_INDEX_F_PATIENT_BIRTH_DATE),
                       v(s, HUREN_INDEX_F_PATIENT_SEX),
                       v(s, HUREN_INDEX_F_OTHER_PATIENT_IDS)};
    /* ?1 and ?2 are NOT NULL keys: '' for absent, so bind them apart from the rest */
    rc = exec(idx,
              "INSERT INTO patients(patient_id, issuer_of_patient_id, patient_name,"
              " patient_name_norm, patient_name_alpha, patient_name_ideo, patient_name_phon,"
              " patient_birth_date, patient_sex, other_patient_ids)"
              " VALUES (coalesce(?1,''),coalesce(?2,''),?3,?4,?5,?6,?7,?8,?9,?10)",
              t, 10, NULL, 0, NULL, "storing patient");
    huren_index__pname_clear(&pn);
    if (rc < 0)
        return rc;
    *pk = sqlite3_last_insert_rowid(idx->wdb);
    *created = 1;
    const char *other = v(s, HUREN_INDEX_F_OTHER_PATIENT_IDS);
    for (const char *p = other; p && *p && rc == 0;) {
        const char *bs = strchr(p, '\\');
        size_t len = bs ? (size_t)(bs - p) : strlen(p);
        char one[HUREN_INDEX__VALUE_MAX + 1];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        const char *ot[] = {one};
        if (len)
            rc = exec(idx, "INSERT OR IGNORE INTO patient_other_ids VALUES (?2, ?1)", ot, 1, pk, 1,
                      NULL, "storing other patient ids");
        p = bs ? bs + 1 : NULL;
    }
    return rc;
}

/* The study columns an answer sets, as ?1..?13 (?14: the study's pk or patient's). */
#define STUDY_COLS                                                                                 \
    "study_uid, study_date, study_time, accession_number, study_id, study_description,"            \
    " referring_physician, referring_physician_norm, referring_physician_alpha,"                   \
    " referring_physician_ideo, referring_physician_phon, institution_name, modalities_in_study"

static int study_write(huren_index *idx, const huren_index_pacs_study *s, int64_t pk, int insert)
{
    huren_index__pname pn;
    if (huren_index__pname_split(v(s, HUREN_INDEX_F_REFERRING_PHYSICIAN), &pn) < 0) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    const char *t[] = {v(s, HUREN_INDEX_F_STUDY_UID),
                       v(s, HUREN_INDEX_F_STUDY_DATE),
                       v(s, HUREN_INDEX_F_STUDY_TIME),
                       v(s, HUREN_INDEX_F_ACCESSION_NUMBER),
                       v(s, HUREN_INDEX_F_STUDY_ID),
                       v(s, HUREN_INDEX_F_STUDY_DESCRIPTION),
                       v(s, HUREN_INDEX_F_REFERRING_PHYSICIAN),
                       pn.full,
                       pn.group[0],
                       pn.group[1],
                       pn.group[2],
                       v(s, HUREN_INDEX_F_INSTITUTION_NAME),
                       v(s, HUREN_INDEX_F_MODALITIES_IN_STUDY)};
    int rc = exec(idx,
                  insert ? "INSERT INTO studies(" STUDY_COLS ", patient_pk) VALUES"
                           " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
                         : "UPDATE studies SET (" STUDY_COLS ") ="
                           " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) WHERE pk=?14",
                  t, 13, &pk, 1, NULL, "storing study");
    huren_index__pname_clear(&pn);
    return rc;
}

/* One answer. *added when the study is new. */
static int study_put(huren_index *idx, const char *pacs, const huren_index_pacs_study *s,
                     int64_t seen_at, size_t *added)
{
    const char *uid = v(s, HUREN_INDEX_F_STUDY_UID);
    sqlite3_stmt *st = NULL;
    int rc = huren_index__wprep(
        idx, "SELECT pk, study_num_instances FROM studies WHERE study_uid=?1", &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    int64_t pk = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    int64_t here = src == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return huren_index__sqlerr(idx, idx->wdb, src, "finding study");
    if (pk < 0) {
        int64_t ppk;
        int created;
        if ((rc = patient_get(idx, s, &ppk, &created)) < 0 ||
            (rc = study_write(idx, s, ppk, 1)) < 0)
            return rc;
        pk = sqlite3_last_insert_rowid(idx->wdb);
        int64_t adj[] = {ppk, created};
        if ((rc = exec(idx,
                       "UPDATE patients SET patient_num_studies = patient_num_studies + 1"
                       " WHERE pk=?1",
                       NULL, 0, adj, 1, NULL, "counting studies")) < 0 ||
            (rc = exec(idx,
                       "UPDATE totals SET patients = patients + ?2, studies = studies + 1"
                       " WHERE id = 1",
                       NULL, 0, adj, 2, NULL, "counting studies")) < 0)
            return rc;
        (*added)++;
    } else if (here == 0 && (rc = study_write(idx, s, pk, 0)) < 0) {
        return rc;
    }
    const char *t[] = {pacs};
    int64_t ints[] = {pk, s->num_series, s->num_instances, seen_at};
    rc = exec(idx,
              "INSERT INTO pacs_studies(pacs, study_pk, num_series, num_instances, seen_at)"
              " VALUES (?1,?2,?3,?4,?5) ON CONFLICT(study_pk) DO UPDATE SET pacs=?1,"
              " num_series=?3, num_instances=?4, seen_at=?5",
              t, 1, ints, 4, NULL, "storing PACS study");
    /* a study with instances here is published by their puts already */
    if (rc == 0 && here == 0)
        rc = huren_index__outbox_study(idx, uid);
    return rc;
}

int huren_index_pacs_studies_put(huren_index *idx, const char *pacs,
                                 const huren_index_pacs_study *s, size_t n, int64_t seen_at,
                                 size_t *added)
{
    size_t count = 0;
    int rc = name_check(idx, pacs);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = study_check(idx, &s[i]);
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = study_put(idx, pacs, &s[i], seen_at, &count);
    rc = huren_index__txn_end(idx, rc);
    if (added)
        *added = rc == 0 ? count : 0;
    return rc;
}

/* Remove a study held only at a PACS (no series, no instances here) and its patient if it
 * has no other study. */
static int study_remove(huren_index *idx, int64_t pk, int64_t ppk, const char *uid)
{
    int64_t left = -1, gone;
    char key[HUREN_INDEX__VALUE_MAX + 8];
    snprintf(key, sizeof key, "study:%s", uid);
    int rc = huren_index__outbox_withdraw(idx, key); /* published: withdrawn */
    if (rc == 0)
        rc = exec(idx, "DELETE FROM studies WHERE pk=?1", NULL, 0, &pk, 1, NULL, "removing study");
    if (rc == 0)
        rc = exec(idx,
                  "UPDATE patients SET patient_num_studies = patient_num_studies - 1 WHERE pk=?1"
                  " RETURNING patient_num_studies",
                  NULL, 0, &ppk, 1, &left, "counting studies");
    gone = left == 0;
    if (rc == 0 && gone)
        rc = exec(idx, "DELETE FROM patients WHERE pk=?1", NULL, 0, &ppk, 1, NULL,
                  "removing patient");
    if (rc == 0)
        rc = exec(idx,
                  "UPDATE totals SET patients = patients - ?1, studies = studies - 1 WHERE id = 1",
                  NULL, 0, &gone, 1, NULL, "counting studies");
    return rc;
}

typedef struct gone_study {
    int64_t pk, ppk;
    char *uid;
} gone_study;

int huren_index_pacs_day_prune(huren_index *idx, const char *pacs, const char *day,
                               int64_t seen_before, size_t *removed)
{
    size_t count = 0;
    int rc = name_check(idx, pacs);
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    rc = huren_index__wprep(idx,
                            "SELECT st.pk, st.patient_pk, st.study_uid FROM pacs_studies ps"
                            " JOIN studies st ON st.pk = ps.study_pk WHERE ps.pacs=?1"
                            " AND ps.seen_at < ?3 AND st.study_date=?2"
                            " AND st.study_num_instances = 0 AND st.study_num_series = 0",
                            &s);
    gone_study *pks = NULL;
    size_t cap = 0;
    if (rc == 0) {
        sqlite3_bind_text(s, 1, pacs, -1, SQLITE_STATIC);
        huren_index__bind_opt(s, 2, day);
        sqlite3_bind_int64(s, 3, seen_before);
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            if (count == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                gone_study *np = realloc(pks, ncap * sizeof *pks);
                if (!np) {
                    huren_index__seterr(idx, "out of memory");
                    rc = HUREN_INDEX_ERROR;
                    break;
                }
                pks = np;
                cap = ncap;
            }
            const char *u = (const char *)sqlite3_column_text(s, 2);
            pks[count].pk = sqlite3_column_int64(s, 0);
            pks[count].ppk = sqlite3_column_int64(s, 1);
            if (!(pks[count].uid = strdup(u ? u : ""))) {
                huren_index__seterr(idx, "out of memory");
                rc = HUREN_INDEX_ERROR;
                break;
            }
            count++;
        }
        if (rc == 0 && src != SQLITE_DONE)
            rc = huren_index__sqlerr(idx, idx->wdb, src, "finding studies gone");
        sqlite3_finalize(s);
    }
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = study_remove(idx, pks[i].pk, pks[i].ppk, pks[i].uid);
    for (size_t i = 0; i < count; i++)
        free(pks[i].uid);
    free(pks);
    rc = huren_index__txn_end(idx, rc);
    if (removed)
        *removed = rc == 0 ? count : 0;
    return rc;
}

int huren_index_pacs_day_set(huren_index *idx, const char *pacs, const char *day, int64_t studies,
                             int64_t synced_at)
{
    int rc = name_check(idx, pacs);
    if (rc == 0 && (!day || strlen(day) != 8)) {
        huren_index__seterr(idx, "day: not YYYYMMDD");
        rc = HUREN_INDEX_EINVAL;
    }
    if (rc < 0 || (rc = huren_index__txn_begin(idx)) < 0)
        return rc;
    const char *t[] = {pacs, day};
    int64_t ints[] = {studies, synced_at};
    rc = exec(idx, "INSERT OR REPLACE INTO pacs_sync VALUES (?1, ?2, ?3, ?4)", t, 2, ints, 2, NULL,
              "storing the sync watermark");
    return huren_index__txn_end(idx, rc);
}

/* A read on a reader connection: the first row's first (and second) integer columns. */
static int read_ints(huren_index *idx, const char *sql, const char *const *t, int nt, int64_t *out,
                     int nout, char *text, size_t textlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        for (int i = 0; i < nt; i++)
            sqlite3_bind_text(s, i + 1, t[i], -1, SQLITE_STATIC);
        src = sqlite3_step(s);
    }
    if (src == SQLITE_ROW) {
        for (int i = 0; i < nout; i++)
            out[i] = sqlite3_column_int64(s, i);
        if (text) {
            const char *c = (const char *)sqlite3_column_text(s, nout);
            snprintf(text, textlen, "%s", c ? c : "");
        }
        rc = 1;
    } else if (src == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = huren_index__sqlerr(idx, db, src, "reading");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

int huren_index_pacs_day_get(huren_index *idx, const char *pacs, const char *day,
                             int64_t *synced_at)
{
    const char *t[] = {pacs ? pacs : "", day ? day : ""};
    int rc = read_ints(idx, "SELECT synced_at FROM pacs_sync WHERE pacs=?1 AND day=?2", t, 2,
                       synced_at, 1, NULL, 0);
    return rc < 0 ? rc : rc == 0 ? HUREN_INDEX_ENOTFOUND : 0;
}

int huren_index_pacs_held(huren_index *idx, const char *study_uid,
                          char pacs[HUREN_INDEX_PACS_NAME_MAX + 1])
{
    const char *t[] = {study_uid ? study_uid : ""};
    int64_t n = 0;
    int rc = read_ints(idx,
                       "SELECT st.study_num_instances, ps.pacs FROM studies st"
                       " JOIN pacs_studies ps ON ps.study_pk = st.pk WHERE st.study_uid=?1",
                       t, 1, &n, 1, pacs, HUREN_INDEX_PACS_NAME_MAX + 1);
    return rc <= 0 ? rc : n == 0;
}

int huren_index_pacs_stats_get(huren_index *idx, const char *pacs, huren_index_pacs_stats *out)
{
    const char *t[] = {pacs ? pacs : ""};
    int64_t r[3] = {0, 0, 0};
    int rc = read_ints(idx,
                       "SELECT count(*), coalesce(sum(st.study_num_instances = 0), 0),"
                       " (SELECT count(*) FROM pacs_sync WHERE pacs=?1)"
                       " FROM pacs_studies ps JOIN studies st ON st.pk = ps.study_pk"
                       " WHERE ps.pacs=?1",
                       t, 1, r, 3, NULL, 0);
    out->studies = r[0];
    out->only_there = r[1];
    out->days = r[2];
    return rc < 0 ? rc : 0;
}
