/* dimse.c: DIMSE handlers. C-FIND identifiers become archive queries through the field table
 * (dicom_fields.c); rows come back as the requested return keys. C-MOVE/C-GET resolve their
 * identifier to the instances' files; dicom/ does the sending. */
#define LOG_COMPONENT "dicom"
#include "dimse.h"
#include "huren_err.h"
#include "audit_trail.h"
#include "http/auth.h"
#include "ingest/dicom_fields.h"
#include "ingest/ingest_dicom.h"
#include "log.h"
#include "audit/huren_audit.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TAG_RETRIEVE_AE_TITLE HUREN_DICOM_TAG(0x0008, 0x0054)
#define TAG_INSTANCE_AVAILABILITY HUREN_DICOM_TAG(0x0008, 0x0056)
#define MAX_QUERY_KEYS 128
#define TAG_PATIENT_ID HUREN_DICOM_TAG(0x0010, 0x0020)
#define TAG_STUDY_UID HUREN_DICOM_TAG(0x0020, 0x000D)
#define TAG_SERIES_UID HUREN_DICOM_TAG(0x0020, 0x000E)
#define TAG_SOP_INSTANCE_UID HUREN_DICOM_TAG(0x0008, 0x0018)

/* What the association thread's current operation concerned, for its audit entry: filled by
 * the handlers, written and cleared by on_event (dicom/ calls both on the same thread). */
static _Thread_local struct {
    char patient[256]; /* '\'-separated patient ids, "...\..." once full */
    char object[256];
    int written; /* the handler wrote the entry before answering */
} audit_ctx;

/* The study a C-MOVE/C-GET is reading (hooks.study_read), from on_retrieve until on_event. */
static _Thread_local char reading_study[65];

/* Requests refused because their audit entry could not be written (for /metrics). */
static atomic_uint_fast64_t audit_failures;

static int audit_dimse(node *n, const char *op, const huren_dicom_peer *peer, uint16_t status,
                       const char *uid);

static const char *level_name(huren_dicom_level l)
{
    static const char *const names[] = {"PATIENT", "STUDY", "SERIES", "IMAGE"};
    return l <= HUREN_DICOM_LEVEL_IMAGE ? names[l] : "";
}

uint64_t dimse_audit_failures(void)
{
    return atomic_load(&audit_failures);
}

static void note_patient(const char *id)
{
    char *p = audit_ctx.patient;
    size_t len = strlen(p), n = id ? strlen(id) : 0;
    if (n == 0 || (len >= 4 && strcmp(p + len - 4, "\\...") == 0))
        return;
    for (const char *s = p; (s = strstr(s, id)); s += n) /* already noted? */
        if ((s == p || s[-1] == '\\') && (s[n] == 0 || s[n] == '\\'))
            return;
    if (len + n + 2 + 4 > sizeof audit_ctx.patient) {
        snprintf(p + len, sizeof audit_ctx.patient - len, "%s...", len ? "\\" : "");
        return;
    }
    snprintf(p + len, sizeof audit_ctx.patient - len, "%s%s", len ? "\\" : "", id);
}

static const char *element_value(const huren_dicom_element *e, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].tag == tag)
            return e[i].value;
    return NULL;
}

/* The patient and the most specific UID a query names. */
static void note_query(const huren_dicom_query *q)
{
    const char *pid = element_value(q->keys, q->nkeys, TAG_PATIENT_ID);
    if (pid && pid[0] && !strchr(pid, '*') && !strchr(pid, '?'))
        note_patient(pid);
    static const uint32_t uids[] = {TAG_SOP_INSTANCE_UID, TAG_SERIES_UID, TAG_STUDY_UID};
    for (size_t i = 0; i < sizeof uids / sizeof uids[0] && !audit_ctx.object[0]; i++) {
        const char *v = element_value(q->keys, q->nkeys, uids[i]);
        if (v && v[0])
            snprintf(audit_ctx.object, sizeof audit_ctx.object, "%.200s", v);
    }
    if (q->move_destination) {
        size_t len = strlen(audit_ctx.object);
        snprintf(audit_ctx.object + len, sizeof audit_ctx.object - len, " to %s",
                 q->move_destination);
    }
}

static uint16_t on_store(const huren_dicom_store_req *req, void *payload)
{
    node *n = payload;
    huren_index_put_outcome outcome;
    char err[HUREN_ERRLEN];
    note_patient(element_value(req->elements, req->nelements, TAG_PATIENT_ID));
    const char *study = element_value(req->elements, req->nelements, TAG_STUDY_UID);
    snprintf(audit_ctx.object, sizeof audit_ctx.object, "%.200s", study ? study : "");
    ingest_result r = ingest_dicom_instance(
        n, req->elements, req->nelements, req->transfer_syntax_uid, req->tmp_path,
        HUREN_INDEX_PUT_KEEP_TMP | HUREN_INDEX_PUT_DEFER_SYNC, &outcome, err, sizeof err);
    uint16_t status = r == INGEST_INVALID  ? HUREN_DICOM_STATUS_DATASET_MISMATCH
                      : r == INGEST_FAILED ? HUREN_DICOM_STATUS_OUT_OF_RESOURCES
                                           : HUREN_DICOM_STATUS_SUCCESS;
    /* the entry is on disk before the response leaves; without it the SCU is told to send
     * again (the instance is then kept once). It is written while the index syncs its rows
     * (HUREN_INDEX_PUT_DEFER_SYNC): both fsyncs at once, then both waited for. */
    int audited = audit_dimse(n, "C-STORE", req->peer, status, req->sop_instance_uid) == 0;
    if (huren_index_durable_wait(n->index) < 0 && status == HUREN_DICOM_STATUS_SUCCESS) {
        log_error("C-STORE %s from %s refused: %s", req->sop_instance_uid, req->peer->calling_ae,
                  huren_index_errmsg(n->index));
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    if (!audited && status == HUREN_DICOM_STATUS_SUCCESS) {
        log_error("C-STORE %s from %s refused: its audit entry could not be written",
                  req->sop_instance_uid, req->peer->calling_ae);
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    if (r == INGEST_INVALID) {
        log_warnx("C-STORE %s from %s refused: %s", req->sop_instance_uid, req->peer->calling_ae,
                  err);
        return status;
    }
    if (r == INGEST_FAILED) {
        log_error("C-STORE %s from %s not stored: %s", req->sop_instance_uid, req->peer->calling_ae,
                  err);
        return status;
    }
    log_debug("C-STORE %s from %s: %s", req->sop_instance_uid, req->peer->calling_ae,
              outcome == HUREN_INDEX_PUT_STORED      ? "stored"
              : outcome == HUREN_INDEX_PUT_DUPLICATE ? "duplicate, kept the first"
                                                     : "replaced");
    if (n->hooks.instance_stored) /* [forward] rules with source cstore */
        n->hooks.instance_stored(
            n, CONFIG_FWD_CSTORE, req->peer->calling_ae, req->sop_instance_uid,
            element_value(req->elements, req->nelements, HUREN_DICOM_TAG(0x0008, 0x0060)));
    return HUREN_DICOM_STATUS_SUCCESS;
}

static huren_index_level index_level(huren_dicom_level l)
{
    switch (l) {
    case HUREN_DICOM_LEVEL_PATIENT:
        return HUREN_INDEX_LEVEL_PATIENT;
    case HUREN_DICOM_LEVEL_STUDY:
        return HUREN_INDEX_LEVEL_STUDY;
    case HUREN_DICOM_LEVEL_SERIES:
        return HUREN_INDEX_LEVEL_SERIES;
    default:
        return HUREN_INDEX_LEVEL_INSTANCE;
    }
}

/* Is a query value universal matching ("" or only '*')? */
static int universal(const char *v)
{
    if (!v)
        return 1;
    while (*v == '*')
        v++;
    return *v == 0;
}

/* Turn an identifier into archive conditions at the query level and above. Keys the archive
 * does not keep cannot be matched and are returned empty, as PS3.4 C.2.2.1 allows. Returns the
 * number of conditions, or -1 for a Study Root query at PATIENT level. */
static int build_matches(const huren_dicom_query *q, huren_index_match *m, size_t cap)
{
    if (q->model == HUREN_DICOM_MODEL_STUDY_ROOT && q->level == HUREN_DICOM_LEVEL_PATIENT)
        return -1;
    huren_index_level level = index_level(q->level);
    size_t k = 0;
    for (size_t i = 0; i < q->nkeys && k < cap; i++) {
        const dicom_field *f = dicom_field_by_tag(q->keys[i].tag);
        if (!f || universal(q->keys[i].value))
            continue;
        if (huren_index_field_kind(f->field) == HUREN_INDEX_KIND_COUNT)
            continue;
        if (huren_index_field_level(f->field) > level)
            continue; /* a key below the query level matches nothing here: ignored */
        m[k].field = f->field;
        m[k].value = q->keys[i].value;
        k++;
    }
    return (int)k;
}

/* One match kept until the audit entry is written: its elements and their values in one
 * block. */
typedef struct match_copy {
    huren_dicom_element *els;
    size_t n;
} match_copy;

typedef struct find_ctx {
    node *n;
    const huren_dicom_query *q;
    huren_dicom_element *out;
    match_copy *rows; /* at most find_max_results */
    size_t nrows, caprows;
    long count;
    int truncated, oom;
} find_ctx;

static int keep_match(find_ctx *c, const huren_dicom_element *els, size_t k)
{
    if (c->nrows == c->caprows) {
        size_t cap = c->caprows ? c->caprows * 2 : 64;
        match_copy *r = realloc(c->rows, cap * sizeof *r);
        if (!r)
            return -1;
        c->rows = r;
        c->caprows = cap;
    }
    size_t bytes = k * sizeof *els;
    for (size_t i = 0; i < k; i++)
        bytes += strlen(els[i].value) + 1;
    huren_dicom_element *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return -1;
    char *str = (char *)(copy + k);
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(els[i].value) + 1;
        copy[i] = els[i];
        copy[i].value = memcpy(str, els[i].value, len);
        str += len;
    }
    c->rows[c->nrows++] = (match_copy){copy, k};
    return 0;
}

static int on_find_row(void *payload, const huren_index_row *row)
{
    find_ctx *c = payload;
    if (++c->count > c->n->cfg->find_max_results) {
        c->truncated = 1;
        return 1;
    }
    note_patient(row->values[HUREN_INDEX_F_PATIENT_ID]); /* what the answer discloses */
    size_t k = 0;
    for (size_t i = 0; i < c->q->nkeys; i++) {
        uint32_t tag = c->q->keys[i].tag;
        const char *value = NULL;
        const dicom_field *f = dicom_field_by_tag(tag);
        if (f)
            value = row->values[f->field];
        else if (tag == TAG_RETRIEVE_AE_TITLE)
            value = c->n->cfg->aet;
        else if (tag == TAG_INSTANCE_AVAILABILITY)
            value = row->held_at ? "NEARLINE" : "ONLINE"; /* at the PACS: fetched on demand */
        if (!value)
            continue;
        c->out[k].tag = tag;
        memcpy(c->out[k].vr, f ? f->vr : (tag == TAG_RETRIEVE_AE_TITLE ? "AE" : "CS"), 3);
        c->out[k].value = value;
        k++;
    }
    if (keep_match(c, c->out, k) < 0) {
        c->oom = 1;
        return 1;
    }
    return 0;
}

static uint16_t on_find(const huren_dicom_query *q, huren_dicom_find_emit emit, void *emit_ctx,
                        void *payload)
{
    node *n = payload;
    note_query(q);
    huren_index_match matches[MAX_QUERY_KEYS];
    int nm = build_matches(q, matches, MAX_QUERY_KEYS);
    if (nm < 0)
        return HUREN_DICOM_STATUS_DATASET_MISMATCH;
    huren_dicom_element *out = calloc(q->nkeys ? q->nkeys : 1, sizeof *out);
    if (!out)
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    find_ctx c = {.n = n, .q = q, .out = out};
    huren_index_query iq = {index_level(q->level), matches, (size_t)nm, 0, 0};
    int rc = huren_index_find(n->index, &iq, on_find_row, &c);
    free(out);
    uint16_t status = HUREN_DICOM_STATUS_SUCCESS;
    if (c.oom) {
        log_error("C-FIND from %s: out of memory", q->peer->calling_ae);
        status = HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    } else if (rc == HUREN_INDEX_ECANCEL && c.truncated) {
        log_warnx("C-FIND from %s: more than %ld matches; answered the first %ld",
                  q->peer->calling_ae, n->cfg->find_max_results, n->cfg->find_max_results);
    } else if (rc == HUREN_INDEX_EINVAL) {
        log_warnx("C-FIND from %s: %s", q->peer->calling_ae, huren_index_errmsg(n->index));
        status = HUREN_DICOM_STATUS_DATASET_MISMATCH;
    } else if (rc < 0) {
        log_error("C-FIND from %s failed: %s", q->peer->calling_ae, huren_index_errmsg(n->index));
        status = HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }
    /* the matches disclose patients: the entry naming them is on disk before the first one
     * leaves, or none does */
    if (audit_dimse(n, "C-FIND", q->peer, status, level_name(q->level)) < 0 &&
        status == HUREN_DICOM_STATUS_SUCCESS) {
        log_error("C-FIND from %s refused: its audit entry could not be written",
                  q->peer->calling_ae);
        status = HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    for (size_t i = 0; i < c.nrows; i++) {
        if (status == HUREN_DICOM_STATUS_SUCCESS && emit(emit_ctx, c.rows[i].els, c.rows[i].n))
            status = HUREN_DICOM_STATUS_CANCEL;
        free(c.rows[i].els);
    }
    free(c.rows);
    return status;
}

typedef struct retrieve_ctx {
    huren_dicom_retrieve_list *out;
    int failed;
    size_t rows;
} retrieve_ctx;

static int on_retrieve_row(void *payload, const huren_index_row *row)
{
    retrieve_ctx *c = payload;
    if (!row->blob_path)
        return 0;
    note_patient(row->values[HUREN_INDEX_F_PATIENT_ID]);
    c->rows++;
    if (huren_dicom_retrieve_list_add_range(
            c->out, row->blob_path, (uint64_t)row->blob_offset, (uint64_t)row->blob_size,
            row->values[HUREN_INDEX_F_SOP_CLASS_UID], row->values[HUREN_INDEX_F_SOP_INSTANCE_UID],
            row->values[HUREN_INDEX_F_TRANSFER_SYNTAX_UID]) < 0) {
        c->failed = 1;
        return 1;
    }
    /* a retrieved copy goes out with our patient ids, the source's kept inside */
    huren_dicom_coercion co = {row->values[HUREN_INDEX_F_PATIENT_ID],
                               row->values[HUREN_INDEX_F_ISSUER_OF_PATIENT_ID]};
    if (row->copy_of && co.patient_id && huren_dicom_retrieve_list_coerce(c->out, &co) < 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static uint16_t on_retrieve(const huren_dicom_query *q, huren_dicom_retrieve_list *out,
                            void *payload)
{
    node *n = payload;
    note_query(q);
    huren_index_match matches[MAX_QUERY_KEYS];
    int nm = build_matches(q, matches, MAX_QUERY_KEYS);
    if (nm <= 0) /* a retrieval names what it wants: no condition at all is refused */
        return HUREN_DICOM_STATUS_DATASET_MISMATCH;
    if (q->move_destination && !config_find_ae(n->cfg, q->move_destination))
        return HUREN_DICOM_STATUS_MOVE_DEST_UNKNOWN; /* audited as refused after the answer */
    retrieve_ctx c = {out, 0, 0};
    huren_index_query iq = {HUREN_INDEX_LEVEL_INSTANCE, matches, (size_t)nm, 0, 0};
    const char *study = element_value(q->keys, q->nkeys, TAG_STUDY_UID);
    if (study && *study && strlen(study) < sizeof reading_study && n->hooks.study_read &&
        !reading_study[0]) { /* not evicted while its instances are sent */
        snprintf(reading_study, sizeof reading_study, "%s", study);
        n->hooks.study_read(n, study, 1);
    }
    int rc = huren_index_find(n->index, &iq, on_retrieve_row, &c);
    if (rc == 0 && c.rows == 0 && !c.failed && study && *study && n->hooks.study_not_held) {
        /* a study held elsewhere (a recognition prompt listed it): fetch it, then answer */
        char err[HUREN_ERRLEN] = "";
        int got = n->hooks.study_not_held(n, study, err, sizeof err);
        if (got < 0)
            log_warnx("C-MOVE from %s: retrieving study %s failed: %s", q->peer->calling_ae, study,
                      err);
        if (got != 0)
            rc = huren_index_find(n->index, &iq, on_retrieve_row, &c);
    }
    uint16_t status = HUREN_DICOM_STATUS_SUCCESS;
    if (c.failed) {
        status = HUREN_DICOM_STATUS_MOVE_OUT_OF_RESOURCES_MATCHES;
    } else if (rc == HUREN_INDEX_EINVAL) {
        status = HUREN_DICOM_STATUS_DATASET_MISMATCH;
    } else if (rc < 0) {
        log_error("retrieve for %s failed: %s", q->peer->calling_ae, huren_index_errmsg(n->index));
        status = HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }
    /* on disk before the first instance is sent */
    const char *op = q->move_destination ? "C-MOVE" : "C-GET";
    if (audit_dimse(n, op, q->peer, status, level_name(q->level)) < 0 &&
        status == HUREN_DICOM_STATUS_SUCCESS) {
        log_error("%s from %s refused: its audit entry could not be written", op,
                  q->peer->calling_ae);
        status = HUREN_DICOM_STATUS_MOVE_OUT_OF_RESOURCES_MATCHES;
    }
    return status;
}

static int on_resolve_ae(const char *ae_title, char *host, size_t hostlen, int *port, void *payload)
{
    node *n = payload;
    const config_ae *ae = config_find_ae(n->cfg, ae_title);
    if (!ae)
        return -1;
    snprintf(host, hostlen, "%s", ae->host);
    *port = ae->port;
    return 0;
}

static void on_log(huren_dicom_log_level level, const char *msg, void *payload)
{
    node *n = payload;
    static const log_level map[] = {LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO,
                                    LOG_LEVEL_DEBUG};
    if (level == HUREN_DICOM_LOG_ERROR)
        atomic_fetch_add(&n->metrics.errors, 1);
    log_emit(map[level <= HUREN_DICOM_LOG_DEBUG ? level : HUREN_DICOM_LOG_DEBUG], LOG_COMPONENT, 0,
             "%s", msg);
}

/* One audit entry per C-STORE, C-FIND, C-MOVE, C-GET: the calling AE is the actor; a
 * [client] section with its ae_title gives institution and role. */
static int failed_status(uint16_t status)
{
    return status != HUREN_DICOM_STATUS_SUCCESS && status != HUREN_DICOM_STATUS_CANCEL &&
           (status & 0xF000) != 0xB000;
}

/* Returns 0 once the entry is on disk, -1 (logged and counted) if it could not be written. */
static int audit_dimse(node *n, const char *op, const huren_dicom_peer *peer, uint16_t status,
                       const char *uid)
{
    int failed = failed_status(status);
    audit_ctx.written = 1;
    char action[32] = "dimse.";
    for (size_t i = 0, k = strlen(action); op[i] && k < sizeof action - 1; i++, k++)
        action[k] = (char)(op[i] >= 'A' && op[i] <= 'Z' ? op[i] - 'A' + 'a' : op[i]);
    const config_client *c = dimse_client(n, peer);
    huren_audit_entry e = {
        .actor = peer->calling_ae,
        .role = c ? c->role : "dicom",
        .institution = c ? c->institution : "",
        .action = action,
        .patient = audit_ctx.patient,
        .object = audit_ctx.object[0] ? audit_ctx.object : uid,
        .outcome = !failed                                          ? "success"
                   : status == HUREN_DICOM_STATUS_MOVE_DEST_UNKNOWN ? "refused"
                                                                    : "failed",
        .status = status,
        .remote = peer->address,
    };
    if (audit_record(n, &e) == 0)
        return 0;
    atomic_fetch_add(&audit_failures, 1);
    return -1;
}

static void on_event(const char *op, const huren_dicom_peer *peer, uint16_t status, const char *uid,
                     void *payload)
{
    node *n = payload;
    if (reading_study[0] && (!strcmp(op, "C-MOVE") || !strcmp(op, "C-GET"))) {
        if (n->hooks.study_read)
            n->hooks.study_read(n, reading_study, -1);
        reading_study[0] = 0;
    }
    static const struct {
        const char *op;
        size_t offset;
    } ops[] = {
        {"C-ECHO", offsetof(metrics, dimse_echo)},   {"C-FIND", offsetof(metrics, dimse_find)},
        {"C-MOVE", offsetof(metrics, dimse_move)},   {"C-GET", offsetof(metrics, dimse_get)},
        {"C-STORE", offsetof(metrics, dimse_store)},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i].op) == 0)
            atomic_fetch_add((atomic_uint_fast64_t *)((char *)&n->metrics + ops[i].offset), 1);
    int failed = failed_status(status);
    if (failed)
        atomic_fetch_add(&n->metrics.dimse_failures, 1);
    /* requests dicom/ refused before any handler ran (nesting, bad identifier): answered with a
     * refusal, which discloses and stores nothing, and recorded now */
    if (strcmp(op, "C-ECHO") != 0 && !audit_ctx.written)
        (void)audit_dimse(n, op, peer, status, uid);
    memset(&audit_ctx, 0, sizeof audit_ctx);
    if (strcmp(op, "C-STORE") != 0 || failed)
        log_emit(failed ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, LOG_COMPONENT, 0,
                 "%s %s from %s (%s): 0x%04X %s", op, uid ? uid : "", peer->calling_ae,
                 peer->address, status, huren_dicom_status_str(status));
}

void dimse_handlers_init(huren_dicom_handlers *h, node *n)
{
    memset(h, 0, sizeof *h);
    h->store = on_store;
    h->find = on_find;
    h->retrieve = on_retrieve;
    h->resolve_ae = on_resolve_ae;
    h->log = on_log;
    h->event = on_event;
    h->admit = dimse_admit;
    h->payload = n;
}
