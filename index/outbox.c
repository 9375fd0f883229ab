/* outbox.c: publishing to the regional directory (role hospital, schema 7). Inside the writer's
 * transaction, the study or reports just written are described to the gateway's publish hook;
 * a changed answer becomes the record's next version in the outbox, in the same commit. The
 * sender then reads the outbox and acknowledges or defers rows through the functions below. */
#include "index_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATIENT_RECORDS_MAX 100000 /* records re-described after one patient update */
#define ERROR_MAX 512

void huren_index_publish_set(huren_index *idx, huren_index_publish_fn fn, void *payload)
{
    if (!idx)
        return;
    idx->publish_fn = fn;
    idx->publish_payload = payload;
}

enum out_stmt {
    O_STUDY,
    O_REPORT_KEY,
    O_REPORT,
    O_STATE_GET,
    O_STATE_PUT,
    O_SUPERSEDE,
    O_INSERT,
    O_SURVIVOR,
    O_PATIENT_REPORTS,
    O_PATIENT_STUDIES,
    O_EXAM_REPORT,
    O_REPORT_STUDY,
    O_COUNT
};

#define REPORT_COLS                                                                                \
    "r.pk, r.version, r.kind, r.placer_number, r.filler_number, r.accession_number, r.item_code,"  \
    " r.item_name, r.item_system, r.specimen, r.requested_time, r.observed_time,"                  \
    " r.reported_time, r.ordering_institution, r.ordering_department, r.performing_institution,"   \
    " r.performing_department, r.result_status, r.sender_app, r.sender_facility, r.message_id,"    \
    " r.stored_at, coalesce(s.patient_id, p.patient_id), coalesce(s.national_id, p.national_id),"  \
    " coalesce(s.national_id_type, p.national_id_type)"

static const char *const osql[O_COUNT] = {
    /* the study, its patient as the images name it, and the national id the clinical records
     * hold for that PatientID as a local id (following a merge) */
    [O_STUDY] = "SELECT st.study_uid, st.study_date, st.study_time, st.accession_number,"
                " st.study_description, st.modalities_in_study, st.institution_name,"
                " (SELECT group_concat(bp, '\\') FROM (SELECT DISTINCT body_part AS bp FROM series"
                " WHERE study_pk=st.pk AND body_part<>'' ORDER BY 1)),"
                " p.patient_id, p.issuer_of_patient_id, p.other_patient_ids,"
                " coalesce(s.national_id, r.national_id),"
                " coalesce(s.national_id_type, r.national_id_type),"
                " CASE WHEN st.copy_instances > 0 AND st.copy_instances = st.study_num_instances"
                " THEN st.copy_source END"
                " FROM studies st JOIN patients p ON p.pk=st.patient_pk"
                " LEFT JOIN rec_patients r ON r.patient_id=p.patient_id AND p.patient_id<>''"
                " LEFT JOIN rec_patients s ON s.pk=r.merged_into WHERE st.study_uid=?1",
    [O_REPORT_KEY] = "SELECT pk FROM reports WHERE source=?1 AND order_key=?2 AND item_code=?3",
    [O_REPORT] = "SELECT " REPORT_COLS " FROM reports r JOIN rec_patients p ON p.pk=r.patient_pk"
                 " LEFT JOIN rec_patients s ON s.pk=p.merged_into WHERE r.pk=?1",
    [O_STATE_GET] = "SELECT version, pseudonym, signature FROM publish_state WHERE record_key=?1",
    [O_STATE_PUT] = "INSERT INTO publish_state(record_key, version, pseudonym, signature)"
                    " VALUES (?1,?2,?3,?4) ON CONFLICT(record_key) DO UPDATE SET"
                    " version=excluded.version, pseudonym=excluded.pseudonym,"
                    " signature=excluded.signature",
    /* a newer version makes the unsent older ones of the same record and pseudonym moot */
    [O_SUPERSEDE] = "DELETE FROM outbox WHERE record_key=?1 AND pseudonym=?2",
    [O_INSERT] = "INSERT INTO outbox(record_key, version, pseudonym, deleted, payload,"
                 " created_at) VALUES (?1,?2,?3,?4,?5,?6)",
    [O_SURVIVOR] = "SELECT coalesce(merged_into, pk) FROM rec_patients WHERE patient_id=?1",
    [O_PATIENT_REPORTS] = "SELECT pk FROM reports WHERE patient_pk=?1",
    [O_PATIENT_STUDIES] = "SELECT st.study_uid FROM studies st JOIN patients p"
                          " ON p.pk=st.patient_pk WHERE p.patient_id IN"
                          " (SELECT patient_id FROM rec_patients WHERE pk=?1 OR merged_into=?1)",
    /* One exam, one entry: the exam report of a study is the newest exam report with its
     * accession number, and belongs to the first study stored with that number. */
    [O_EXAM_REPORT] = "SELECT " REPORT_COLS " FROM reports r JOIN rec_patients p"
                      " ON p.pk=r.patient_pk LEFT JOIN rec_patients s ON s.pk=p.merged_into"
                      " WHERE r.pk=(SELECT max(pk) FROM reports WHERE kind='exam'"
                      " AND accession_number=?1)"
                      " AND ?2=(SELECT study_uid FROM studies WHERE accession_number=?1"
                      " ORDER BY pk LIMIT 1)",
    [O_REPORT_STUDY] = "SELECT st.study_uid FROM reports r JOIN studies st"
                       " ON st.accession_number=r.accession_number WHERE r.pk=?1"
                       " AND r.kind='exam' AND r.accession_number<>'' AND r.pk=(SELECT max(pk)"
                       " FROM reports WHERE kind='exam' AND accession_number=r.accession_number)"
                       " ORDER BY st.pk LIMIT 1",
};

/* publish_state's signature of a report folded into its study's entry (never a hash) */
#define MERGED "merged"
/* publish_state's signature of a deleted study (never a hash) */
#define DELETED "deleted"

struct huren_index__outrows {
    sqlite3_stmt *st[O_COUNT];
};

void huren_index__outrows_finalize(huren_index__outrows *r)
{
    if (!r)
        return;
    for (int i = 0; i < O_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    free(r);
}

/* Prepared on first use, by the thread holding the writer. */
static int outrows_get(huren_index *idx)
{
    if (idx->outrows)
        return 0;
    huren_index__outrows *r = calloc(1, sizeof(*r));
    if (!r) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    for (int i = 0; i < O_COUNT; i++) {
        int src =
            sqlite3_prepare_v3(idx->wdb, osql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL);
        if (src != SQLITE_OK) {
            int rc = huren_index__sqlerr(idx, idx->wdb, src, "preparing outbox statement");
            huren_index__outrows_finalize(r);
            return rc;
        }
    }
    idx->outrows = r;
    return 0;
}

static sqlite3_stmt *stmt(huren_index *idx, enum out_stmt id)
{
    sqlite3_stmt *s = idx->outrows->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bt(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static const char *ct(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

/* hex SHA-256 of pseudonym "\n" entry: what the directory was last told about a record */
static int signature(const char *pseudonym, const char *entry, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, pseudonym, strlen(pseudonym)) == 1 &&
             EVP_DigestUpdate(c, "\n", 1) == 1 &&
             (!entry || EVP_DigestUpdate(c, entry, strlen(entry)) == 1) &&
             EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -1;
}

typedef struct state {
    int found;
    int64_t version;
    char pseudonym[HUREN_INDEX_PSEUDONYM_HEX + 1];
    char signature[65];
} state;

static int state_get(huren_index *idx, const char *key, state *st)
{
    sqlite3_stmt *s = stmt(idx, O_STATE_GET);
    memset(st, 0, sizeof(*st));
    bt(s, 1, key);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        st->found = 1;
        st->version = sqlite3_column_int64(s, 0);
        snprintf(st->pseudonym, sizeof(st->pseudonym), "%s", ct(s, 1) ? ct(s, 1) : "");
        snprintf(st->signature, sizeof(st->signature), "%s", ct(s, 2) ? ct(s, 2) : "");
    }
    sqlite3_reset(s);
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : huren_index__sqlerr(idx, idx->wdb, src, "reading publish state");
}

static int queue_row(huren_index *idx, const char *key, int64_t version, const char *pseudonym,
                     const char *entry)
{
    sqlite3_stmt *s = stmt(idx, O_SUPERSEDE);
    bt(s, 1, key);
    bt(s, 2, pseudonym);
    int rc = huren_index__step_done(idx, s, "superseding outbox rows");
    if (rc < 0)
        return rc;
    s = stmt(idx, O_INSERT);
    bt(s, 1, key);
    sqlite3_bind_int64(s, 2, version);
    bt(s, 3, pseudonym);
    sqlite3_bind_int(s, 4, entry ? 0 : 1);
    bt(s, 5, entry);
    sqlite3_bind_int64(s, 6, (int64_t)time(NULL));
    return huren_index__step_done(idx, s, "writing outbox row");
}

/* Ask the hook about one record; queue a new version when its answer changed. *published
 * (when not NULL) says whether the record is described under a pseudonym. */
static int publish(huren_index *idx, const huren_index_publish_event *ev, int *published)
{
    char pseudonym[HUREN_INDEX_PSEUDONYM_HEX + 1] = "", sig[65];
    char *entry = NULL;
    state st;
    int rc = idx->publish_fn(ev, pseudonym, &entry, idx->publish_payload);
    if (rc < 0) {
        free(entry);
        huren_index__seterr(idx, "publishing %s: the publish hook failed", ev->record_key);
        return HUREN_INDEX_ERROR;
    }
    if (pseudonym[0] && (!huren_index_pseudonym_valid(pseudonym) || !entry)) {
        free(entry);
        huren_index__seterr(idx, "publishing %s: the hook gave no valid pseudonym and entry",
                            ev->record_key);
        return HUREN_INDEX_ERROR;
    }
    if (!pseudonym[0]) {
        free(entry);
        entry = NULL;
    }
    if (published)
        *published = pseudonym[0] != 0;
    if (signature(pseudonym, entry, sig) < 0) {
        huren_index__seterr(idx, "publishing %s: hashing failed", ev->record_key);
        rc = HUREN_INDEX_ERROR;
        goto done;
    }
    if ((rc = state_get(idx, ev->record_key, &st)) < 0 ||
        (st.found && strcmp(st.signature, sig) == 0))
        goto done; /* unchanged: the directory already has (or is getting) this */
    int64_t version = st.found ? st.version + 1 : pseudonym[0] ? 1 : 0;
    sqlite3_stmt *s = stmt(idx, O_STATE_PUT);
    bt(s, 1, ev->record_key);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_text(s, 3, pseudonym, -1, SQLITE_STATIC);
    bt(s, 4, sig);
    if ((rc = huren_index__step_done(idx, s, "writing publish state")) < 0)
        goto done;
    /* the record moved to another patient (a merge, a corrected id) or became unpublishable:
     * the old pseudonym's entry goes */
    if (st.pseudonym[0] && strcmp(st.pseudonym, pseudonym) != 0 &&
        (rc = queue_row(idx, ev->record_key, version, st.pseudonym, NULL)) < 0)
        goto done;
    if (pseudonym[0])
        rc = queue_row(idx, ev->record_key, version, pseudonym, entry);
done:
    free(entry);
    return rc;
}

/* A report folded into its study's entry: its own entry, if it had one, is withdrawn (the
 * next version, a deletion), and it is remembered as merged (not as unpublishable). */
/* Queue the tombstone of a published record under the pseudonym the directory knows it by,
 * with publish_state's signature sig (MERGED or DELETED, never a hash: a record stored again
 * later hashes differently and is published anew). Nothing when it is one already. */
static int tombstone(huren_index *idx, const char *key, const char *sig)
{
    state st;
    int rc = state_get(idx, key, &st);
    if (rc < 0 || !st.found || !strcmp(st.signature, MERGED) || !strcmp(st.signature, DELETED))
        return rc;
    int64_t version = st.version + 1;
    sqlite3_stmt *s = stmt(idx, O_STATE_PUT);
    bt(s, 1, key);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_text(s, 3, "", -1, SQLITE_STATIC);
    bt(s, 4, sig);
    if ((rc = huren_index__step_done(idx, s, "writing publish state")) < 0)
        return rc;
    return st.pseudonym[0] ? queue_row(idx, key, version, st.pseudonym, NULL) : 0;
}

static int withdraw(huren_index *idx, const char *key)
{
    return tombstone(idx, key, MERGED);
}

/* A report row (REPORT_COLS) as the hook sees it; strings borrowed from the statement. */
static void report_read(sqlite3_stmt *s, huren_index_report *r)
{
    const char *kind = ct(s, 2);
    *r = (huren_index_report){.kind = kind && !strcmp(kind, "exam") ? HUREN_INDEX_REPORT_EXAM
                                                                    : HUREN_INDEX_REPORT_LAB,
                              .id = sqlite3_column_int64(s, 0),
                              .version = sqlite3_column_int(s, 1),
                              .placer_number = ct(s, 3),
                              .filler_number = ct(s, 4),
                              .accession_number = ct(s, 5),
                              .item_code = ct(s, 6),
                              .item_name = ct(s, 7),
                              .item_system = ct(s, 8),
                              .specimen = ct(s, 9),
                              .requested_time = ct(s, 10),
                              .observed_time = ct(s, 11),
                              .reported_time = ct(s, 12),
                              .ordering_institution = ct(s, 13),
                              .ordering_department = ct(s, 14),
                              .performing_institution = ct(s, 15),
                              .performing_department = ct(s, 16),
                              .result_status = ct(s, 17),
                              .sender_app = ct(s, 18),
                              .sender_facility = ct(s, 19),
                              .message_id = ct(s, 20),
                              .stored_at = ct(s, 21),
                              .patient_id = ct(s, 22)};
}

/* A report described on its own (no study of its exam, or one that cannot be published). */
static int report_publish_alone(huren_index *idx, int64_t pk)
{
    sqlite3_stmt *s = stmt(idx, O_REPORT);
    sqlite3_bind_int64(s, 1, pk);
    int src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        sqlite3_reset(s);
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "reading report");
    }
    huren_index_report r;
    report_read(s, &r);
    char key[48];
    snprintf(key, sizeof(key), "report:%lld", (long long)r.id);
    huren_index_publish_event ev = {.kind = HUREN_INDEX_PUBLISH_REPORT,
                                    .record_key = key,
                                    .report = &r,
                                    .national_id = ct(s, 23),
                                    .national_id_type = ct(s, 24)};
    int rc = publish(idx, &ev, NULL);
    sqlite3_reset(s);
    return rc;
}

/* The study's exam report, if it has one, goes with it: into ev (strings borrowed from the
 * O_EXAM_REPORT statement, left open), key gets its record key. Returns 1 when linked. */
static int exam_report(huren_index *idx, const char *study_uid, const char *accession,
                       huren_index_report *r, char key[48])
{
    if (!accession || !*accession)
        return 0;
    sqlite3_stmt *s = stmt(idx, O_EXAM_REPORT);
    bt(s, 1, accession);
    bt(s, 2, study_uid);
    int src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        sqlite3_reset(s);
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "exam report");
    }
    report_read(s, r);
    snprintf(key, 48, "report:%lld", (long long)r->id);
    return 1;
}

int huren_index__outbox_study(huren_index *idx, const char *study_uid)
{
    int rc;
    if (!idx->publish_fn || !study_uid)
        return 0;
    if ((rc = outrows_get(idx)) < 0)
        return rc;
    sqlite3_stmt *s = stmt(idx, O_STUDY);
    bt(s, 1, study_uid);
    int src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        sqlite3_reset(s);
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "reading study");
    }
    huren_index_publish_study study = {.study_uid = ct(s, 0),
                                       .study_date = ct(s, 1),
                                       .study_time = ct(s, 2),
                                       .accession_number = ct(s, 3),
                                       .study_description = ct(s, 4),
                                       .modalities = ct(s, 5),
                                       .institution_name = ct(s, 6),
                                       .body_parts = ct(s, 7),
                                       .patient_id = ct(s, 8),
                                       .issuer_of_patient_id = ct(s, 9),
                                       .other_patient_ids = ct(s, 10),
                                       .copy_of = ct(s, 13)};
    huren_index_provenance pv;
    if ((rc = huren_index__provenance(idx, idx->wdb, study_uid, &pv)) < 0) {
        sqlite3_reset(s);
        return rc;
    }
    study.instances = pv.instances;
    study.pixel_count = pv.fingerprinted;
    study.pixel_root = pv.root;
    char key[HUREN_INDEX__VALUE_MAX + 8], rkey[48] = "";
    huren_index_report report;
    snprintf(key, sizeof(key), "study:%s", study_uid);
    int linked = exam_report(idx, study_uid, study.accession_number, &report, rkey);
    if (linked < 0) {
        sqlite3_reset(s);
        return linked;
    }
    huren_index_publish_event ev = {.kind = HUREN_INDEX_PUBLISH_STUDY,
                                    .record_key = key,
                                    .study = &study,
                                    .report = linked ? &report : NULL,
                                    .report_key = linked ? rkey : NULL,
                                    .national_id = ct(s, 11),
                                    .national_id_type = ct(s, 12)};
    int published = 0;
    int64_t report_pk = linked ? report.id : 0;
    rc = publish(idx, &ev, &published);
    sqlite3_reset(idx->outrows->st[O_EXAM_REPORT]);
    sqlite3_reset(s);
    if (rc == 0 && linked) /* the study's entry has it; or it is published alone */
        rc = published ? withdraw(idx, rkey) : report_publish_alone(idx, report_pk);
    return rc;
}

/* A report that belongs to a study held here is published with it, else on its own. */
static int report_publish(huren_index *idx, int64_t pk)
{
    char uid[HUREN_INDEX__VALUE_MAX + 1] = "";
    sqlite3_stmt *s = stmt(idx, O_REPORT_STUDY);
    sqlite3_bind_int64(s, 1, pk);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        snprintf(uid, sizeof(uid), "%s", ct(s, 0) ? ct(s, 0) : "");
    sqlite3_reset(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return huren_index__sqlerr(idx, idx->wdb, src, "finding the report's study");
    return uid[0] ? huren_index__outbox_study(idx, uid) : report_publish_alone(idx, pk);
}

/* The rows of a one-column query, collected first: the writes that follow must not run under
 * an open cursor of the same connection. */
typedef struct keys {
    char **v;
    size_t n;
} keys;

static void keys_free(keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof(*k));
}

static int keys_collect(huren_index *idx, sqlite3_stmt *s, keys *k)
{
    int src;
    size_t cap = 0;
    while ((src = sqlite3_step(s)) == SQLITE_ROW && k->n < PATIENT_RECORDS_MAX) {
        if (k->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(k->v, cap * sizeof(*v));
            if (!v)
                break;
            k->v = v;
        }
        if (!(k->v[k->n] = strdup(ct(s, 0) ? ct(s, 0) : "")))
            break;
        k->n++;
    }
    sqlite3_reset(s);
    if (src == SQLITE_ROW && k->n < PATIENT_RECORDS_MAX) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    return src == SQLITE_ROW || src == SQLITE_DONE
               ? 0
               : huren_index__sqlerr(idx, idx->wdb, src, "listing records");
}

/* Every report and study of a patient whose identity changed (ADT with a national id, merge). */
static int patient_publish(huren_index *idx, const char *patient_id)
{
    keys reports = {0}, studies = {0};
    int64_t survivor = -1;
    sqlite3_stmt *s = stmt(idx, O_SURVIVOR);
    bt(s, 1, patient_id);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        survivor = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (src != SQLITE_ROW)
        return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "finding patient");
    s = stmt(idx, O_PATIENT_REPORTS);
    sqlite3_bind_int64(s, 1, survivor);
    int rc = keys_collect(idx, s, &reports);
    if (rc == 0) {
        s = stmt(idx, O_PATIENT_STUDIES);
        sqlite3_bind_int64(s, 1, survivor);
        rc = keys_collect(idx, s, &studies);
    }
    for (size_t i = 0; rc == 0 && i < reports.n; i++)
        rc = report_publish(idx, strtoll(reports.v[i], NULL, 10));
    for (size_t i = 0; rc == 0 && i < studies.n; i++)
        rc = huren_index__outbox_study(idx, studies.v[i]);
    keys_free(&reports);
    keys_free(&studies);
    return rc;
}

int huren_index__outbox_records(huren_index *idx, const huren_index_records *recs)
{
    int rc;
    if (!idx->publish_fn)
        return 0;
    if ((rc = outrows_get(idx)) < 0)
        return rc;
    for (size_t i = 0; i < recs->nreports; i++) {
        const huren_index_report *r = &recs->reports[i];
        int64_t pk = -1;
        sqlite3_stmt *s = stmt(idx, O_REPORT_KEY);
        bt(s, 1, recs->source);
        bt(s, 2, r->filler_number && *r->filler_number ? r->filler_number : r->placer_number);
        huren_index__bind_item(s, 3, r->item_code);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW)
            pk = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            return huren_index__sqlerr(idx, idx->wdb, src, "finding report");
        if (pk >= 0 && (rc = report_publish(idx, pk)) < 0)
            return rc;
    }
    const huren_index_rec_patient *p = recs->patient;
    int identity = p && p->patient_id && *p->patient_id &&
                   ((recs->merge_from_patient_id && *recs->merge_from_patient_id) ||
                    (p->national_id && *p->national_id && !recs->nreports && !recs->ncharges &&
                     !recs->ndiagnoses));
    return identity ? patient_publish(idx, p->patient_id) : 0;
}

/* ---- the sender's side ---- */

static const char fetch_sql[] =
    "SELECT pk, record_key, version, pseudonym, deleted, payload, created_at, attempts"
    " FROM outbox WHERE next_attempt<=?1 ORDER BY pk LIMIT ?2";

int huren_index_outbox_fetch(huren_index *idx, int64_t now, size_t max,
                             huren_index_outbox_batch *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc, src;
    if (!idx || !out || max == 0 || max > 100000)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    huren_index__arena *a = huren_index__arena_new();
    huren_index_outbox_item *items = a ? huren_index__arena_alloc(a, max * sizeof(*items)) : NULL;
    if (!items) {
        huren_index__arena_free(a);
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    if ((rc = huren_index__reader_get(idx, &db)) < 0)
        goto done;
    src = sqlite3_prepare_v2(db, fetch_sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int64(s, 2, (int64_t)max);
        while ((src = sqlite3_step(s)) == SQLITE_ROW && out->n < max) {
            huren_index_outbox_item *it = &items[out->n++];
            it->id = sqlite3_column_int64(s, 0);
            it->record_key = huren_index__arena_str(a, ct(s, 1));
            it->version = sqlite3_column_int64(s, 2);
            it->pseudonym = huren_index__arena_str(a, ct(s, 3));
            it->deleted = sqlite3_column_int(s, 4);
            it->entry = ct(s, 5) ? huren_index__arena_str(a, ct(s, 5)) : NULL;
            it->created_at = sqlite3_column_int64(s, 6);
            it->attempts = sqlite3_column_int(s, 7);
        }
        if (src == SQLITE_DONE || src == SQLITE_ROW)
            src = SQLITE_OK;
    }
    rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "reading outbox");
    if (rc == 0 && huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
done:
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    if (rc < 0) {
        huren_index__arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->items = items;
    out->arena_ = a;
    return (int)out->n;
}

void huren_index_outbox_batch_free(huren_index_outbox_batch *b)
{
    if (!b)
        return;
    huren_index__arena_free(b->arena_);
    memset(b, 0, sizeof(*b));
}

/* One statement run for each id in one transaction on the writer connection. */
static int rows_update(huren_index *idx, const char *sql, const int64_t *ids, size_t n,
                       int64_t next_attempt, const char *error)
{
    sqlite3_stmt *s = NULL;
    if (!idx || (n && !ids))
        return HUREN_INDEX_EINVAL;
    if (n == 0)
        return 0;
    huren_index__writer_acquire(idx);
    int src = sqlite3_prepare_v2(idx->wdb, sql, -1, &s, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_exec(idx->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; src == SQLITE_OK && i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, ids[i]);
        if (sqlite3_bind_parameter_count(s) > 1) {
            sqlite3_bind_int64(s, 2, next_attempt);
            sqlite3_bind_text(s, 3, error ? error : "", error ? (int)strnlen(error, ERROR_MAX) : 0,
                              SQLITE_TRANSIENT);
        }
        src = sqlite3_step(s);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    if (src == SQLITE_OK)
        src = sqlite3_exec(idx->wdb, "COMMIT", NULL, NULL, NULL);
    int rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "updating outbox");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(s);
    huren_index__writer_release(idx);
    return rc;
}

int huren_index_outbox_ack(huren_index *idx, const int64_t *ids, size_t n)
{
    return rows_update(idx, "DELETE FROM outbox WHERE pk=?1", ids, n, 0, NULL);
}

int huren_index_outbox_defer(huren_index *idx, const int64_t *ids, size_t n, int64_t next_attempt,
                             const char *error)
{
    return rows_update(idx,
                       "UPDATE outbox SET attempts=attempts+1, next_attempt=?2, last_error=?3"
                       " WHERE pk=?1",
                       ids, n, next_attempt, error);
}

int huren_index_outbox_stats_get(huren_index *idx, huren_index_outbox_stats *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc;
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = huren_index__reader_get(idx, &db)) < 0)
        return rc;
    int src = sqlite3_prepare_v2(
        db,
        "SELECT count(*), coalesce(sum(attempts>0), 0), coalesce(min(created_at), 0),"
        " (SELECT count(*) FROM publish_state WHERE pseudonym='' AND signature<>'" MERGED "')"
        " FROM outbox",
        -1, &s, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        out->backlog = sqlite3_column_int64(s, 0);
        out->deferred = sqlite3_column_int64(s, 1);
        out->oldest_created = sqlite3_column_int64(s, 2);
        out->unpublishable = sqlite3_column_int64(s, 3);
        src = SQLITE_OK;
    }
    rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "reading outbox totals");
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

int huren_index__outbox_withdraw(huren_index *idx, const char *record_key)
{
    int rc;
    if (!idx->publish_fn || !record_key)
        return 0;
    if ((rc = outrows_get(idx)) < 0)
        return rc;
    return withdraw(idx, record_key);
}

int huren_index__outbox_study_deleted(huren_index *idx, const char *study_uid,
                                      const char *accession)
{
    char key[HUREN_INDEX__VALUE_MAX + 8];
    int rc = outrows_get(idx);
    if (rc < 0)
        return rc;
    snprintf(key, sizeof(key), "study:%s", study_uid);
    if ((rc = tombstone(idx, key, DELETED)) < 0)
        return rc;
    if (!idx->publish_fn || !accession || !*accession)
        return 0;
    /* the exam report the study's entry carried is described again: with another study of
     * the same accession number, or on its own */
    sqlite3_stmt *q = NULL;
    if ((rc = huren_index__wprep(idx,
                                 "SELECT max(pk) FROM reports WHERE kind='exam'"
                                 " AND accession_number=?1",
                                 &q)) < 0)
        return rc;
    bt(q, 1, accession);
    int64_t pk = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return pk > 0 ? report_publish(idx, pk) : 0;
}
