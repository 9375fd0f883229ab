/* retrieval.c: POST /api/v1/retrievals: fetch a study a recognition prompt listed from the
 * gateway holding it (WADO-RS over mutual TLS), streaming the multipart answer part by part to
 * temp files and storing each instance locally, so that it becomes a local study (C-FIND,
 * C-MOVE, DICOMweb). Instances of another study than the one asked are refused. Received parts
 * are stored by a few worker threads, so that their durable puts share group commits while the
 * transfer goes on. Synchronous: a retrieval that failed halfway is asked again, and what was
 * stored is kept once. */
#define LOG_COMPONENT "recognition"
#include "http/client.h"
#include "huren_err.h"
#include "huren_dicom.h"
#include "index/index_recognition.h"
#include "ingest/ingest_dicom.h"
#include "log.h"
#include "http/multipart.h"
#include "recognition.h"
#include "recognition_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETRIEVE_TIMEOUT_S 600
#define STORE_WORKERS 4 /* puts in flight at once: they share the archive's commits */
#define STORE_QUEUE 8   /* received parts waiting for a worker (temp files on disk) */

typedef struct retrieval {
    node *n;
    CURL *h;
    multipart_reader *reader;
    const char *study; /* the study asked for */
    char path[4200];   /* temp file of the part being received, "" when none */
    int fd;
    size_t stored, duplicates, refused, failed;
    uint64_t bytes; /* of the answer's body */
    int status;     /* a local failure (500) found while streaming, or 0 */
    char err[HUREN_ERRLEN];
    const recognition *rec;
    rec_job *job;  /* background: progress goes there too; NULL when synchronous */
    rec_copy copy; /* whom the copy belongs to here, and its source (copy.c) */
    int copy_ready;
    /* received parts handed to the store workers; counters, status and err under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *queue[STORE_QUEUE];
    size_t qhead, qcount;
    int closing;
    pthread_t workers[STORE_WORKERS];
    int nworkers;
} retrieval;

static void progress(retrieval *r)
{
    if (!r->job)
        return;
    atomic_store(&r->job->stored, r->stored);
    atomic_store(&r->job->held, r->duplicates);
    atomic_store(&r->job->refused, r->refused);
    atomic_store(&r->job->failed, r->failed);
}

/* libcurl's progress callback: a node shutting down aborts the transfer. */
static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const retrieval *r = p;
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&((recognition *)r->rec)->stopping) ? 1 : 0;
}

static int part_begin(void *payload, const char *headers, size_t len)
{
    retrieval *r = payload;
    (void)headers;
    (void)len;
    snprintf(r->path, sizeof r->path, "%s/retrieve-XXXXXX", huren_index_tmp_dir(r->n->index));
    if ((r->fd = mkstemp(r->path)) < 0) {
        r->status = 500;
        snprintf(r->err, sizeof r->err, "cannot create a temp file: %s", strerror(errno));
        r->path[0] = 0;
        return -1;
    }
    return 0;
}

static int part_data(void *payload, const char *data, size_t len)
{
    retrieval *r = payload;
    while (r->fd >= 0 && len) {
        ssize_t w = write(r->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r->status = 500;
            snprintf(r->err, sizeof r->err, "cannot write a temp file: %s", strerror(errno));
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Store one received part (parse, check its study, durable put); its temp file is consumed in
 * every case. Runs on a store worker. */
static void store_part(retrieval *r, const char *path)
{
    huren_dicom_file *f = NULL;
    char err[HUREN_ERRLEN] = "not a DICOM file";
    enum { STORED, HELD, REFUSED, FAILED } result = REFUSED;
    if (huren_dicom_file_parse(path, &f, err, sizeof err) != 0) {
        log_warnx("retrieval of %s: a part refused: %s", r->study, err);
        unlink(path);
        goto done;
    }
    const char *study = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0020, 0x000D));
    const char *sop = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0008, 0x0018));
    if (!study || strcmp(study, r->study) != 0) {
        log_warnx("retrieval of %s: instance %s refused: of another study", r->study,
                  sop ? sop : "?");
        unlink(path);
        goto done;
    }
    size_t nel;
    const huren_dicom_element *el = huren_dicom_file_elements(f, &nel);
    huren_index_put_outcome outcome;
    /* a copy of the source's record, under our patient (copy.c) */
    ingest_result ir = ingest_dicom_copy(r->n, el, nel, huren_dicom_file_transfer_syntax(f), path,
                                         &r->copy.in, &outcome, err, sizeof err);
    result = ir == INGEST_OK        ? (outcome == HUREN_INDEX_PUT_STORED ? STORED : HELD)
             : ir == INGEST_INVALID ? REFUSED
                                    : FAILED;
    if (ir != INGEST_OK)
        log_warnx("retrieval of %s: instance %s not stored: %s", r->study, sop ? sop : "?", err);
    else if (r->n->hooks.instance_stored) /* [forward] rules with source retrieval */
        r->n->hooks.instance_stored(r->n, CONFIG_FWD_RETRIEVAL, NULL, sop,
                                    huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0008, 0x0060)));
done:
    huren_dicom_file_free(f);
    pthread_mutex_lock(&r->mu);
    size_t *counter[] = {&r->stored, &r->duplicates, &r->refused, &r->failed};
    (*counter[result])++;
    progress(r);
    pthread_mutex_unlock(&r->mu);
}

static void *store_worker(void *arg)
{
    retrieval *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->qcount == 0 && !r->closing)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->qcount == 0)
            break; /* closing and drained */
        char *path = r->queue[r->qhead];
        r->qhead = (r->qhead + 1) % STORE_QUEUE;
        r->qcount--;
        pthread_cond_broadcast(&r->cv); /* room for the receiver */
        pthread_mutex_unlock(&r->mu);
        store_part(r, path);
        free(path);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void workers_start(retrieval *r)
{
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (int i = 0; i < STORE_WORKERS; i++)
        if (pthread_create(&r->workers[r->nworkers], NULL, store_worker, r) == 0)
            r->nworkers++;
}

/* Let the workers store what is queued, then join them. */
static void workers_finish(retrieval *r)
{
    pthread_mutex_lock(&r->mu);
    r->closing = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i], NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

/* A part is complete: queue its temp file for a store worker (waiting while the queue is
 * full), or store it here when no worker could be started. */
static int part_end(void *payload)
{
    retrieval *r = payload;
    int fd = r->fd;
    r->fd = -1;
    if (fd >= 0 && close(fd) != 0) {
        r->status = 500;
        snprintf(r->err, sizeof r->err, "cannot write a temp file: %s", strerror(errno));
        unlink(r->path);
        r->path[0] = 0;
        return -1;
    }
    char *path = strdup(r->path);
    if (!path) {
        r->status = 500;
        snprintf(r->err, sizeof r->err, "out of memory");
        unlink(r->path);
        r->path[0] = 0;
        return -1;
    }
    r->path[0] = 0; /* the worker owns the file now */
    if (r->nworkers == 0) {
        store_part(r, path);
        free(path);
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    while (r->qcount == STORE_QUEUE)
        pthread_cond_wait(&r->cv, &r->mu);
    r->queue[(r->qhead + r->qcount) % STORE_QUEUE] = path;
    r->qcount++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static const multipart_callbacks callbacks = {part_begin, part_data, part_end};

/* libcurl's write callback: the first call sets the reader up from the answer's type. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    retrieval *r = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200)
        return n; /* an error answer: drained, reported by status */
    r->bytes += n;
    if (r->job)
        atomic_fetch_add(&r->job->bytes, n);
    if (!r->reader) {
        char *ct = NULL, boundary[MULTIPART_MAX_BOUNDARY + 1];
        curl_easy_getinfo(r->h, CURLINFO_CONTENT_TYPE, &ct);
        if (!ct || !multipart_is_type(ct, "multipart/related") ||
            multipart_param(ct, "boundary", boundary, sizeof boundary) < 0) {
            snprintf(r->err, sizeof r->err, "the source answered %.80s, not multipart/related",
                     ct ? ct : "no content type");
            return 0;
        }
        if (!(r->reader = multipart_reader_new(boundary, &callbacks, r)))
            return 0;
    }
    if (multipart_reader_feed(r->reader, ptr, n) < 0) {
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "%s", multipart_reader_error(r->reader));
        return 0;
    }
    return n;
}

/* GET {source}/dicom-web/studies/{uid}; returns the HTTP status (0: no answer, err set). */
static long retrieve(const recognition *rec, retrieval *r, const char *source)
{
    char url[1400];
    if (!r->copy_ready) { /* whom it belongs to: the newest prompt that listed it */
        char key[80];
        snprintf(key, sizeof key, "study:%s", r->study);
        if (rec_copy_prepare(r->n, NULL, key, &r->copy, r->err, sizeof r->err) < 0) {
            r->status = 500;
            return 0;
        }
        r->copy_ready = 1;
    }
    char *uid = rec_url_escape(r->study);
    snprintf(url, sizeof url, "%s/dicom-web/studies/%s", source, uid ? uid : "");
    free(uid);
    struct curl_slist *hdrs =
        curl_slist_append(NULL, "Accept: multipart/related; type=\"application/dicom\"");
    http_client_opts o = {
        .url = url,
        .cert = rec->cert,
        .key = rec->key_file,
        .ca = rec->ca,
        .timeout_ms = RETRIEVE_TIMEOUT_S * 1000L,
        .connect_timeout_ms = REC_PEER_TIMEOUT_MS,
        .headers = hdrs,
        .on_data = on_data,
        .data = r,
        .on_progress = on_progress,
        .progress = r,
    };
    if (!hdrs || !(r->h = http_client_new(&o))) {
        curl_slist_free_all(hdrs);
        snprintf(r->err, sizeof r->err, "out of memory");
        return 0;
    }
    workers_start(r);
    CURLcode cc = curl_easy_perform(r->h);
    workers_finish(r);
    long code = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK && code == 200 && (!r->reader || multipart_reader_finish(r->reader) < 0))
        snprintf(r->err, sizeof r->err, "the answer was cut short");
    else if (cc != CURLE_OK && !r->err[0])
        snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(cc));
    if (r->fd >= 0) { /* a part cut short */
        close(r->fd);
        r->fd = -1;
    }
    if (r->path[0])
        unlink(r->path);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(r->h);
    multipart_reader_free(r->reader);
    metrics *m = &r->n->metrics;
    int complete = cc == CURLE_OK && code == 200 && !r->err[0] && !r->refused && !r->failed;
    atomic_fetch_add(complete ? &m->rec_retrievals_complete : &m->rec_retrievals_incomplete, 1);
    atomic_fetch_add(&m->rec_retrieved_instances, r->stored);
    atomic_fetch_add(&m->rec_retrieved_bytes, r->bytes);
    return cc == CURLE_OK || code ? code : 0;
}

long rec_retrieve(node *n, const char *study, const char *source, rec_job *job,
                  rec_retrieve_out *out)
{
    retrieval r = {.n = n, .study = study, .fd = -1, .rec = n->recognition, .job = job};
    long code = retrieve(n->recognition, &r, source);
    *out = (rec_retrieve_out){r.stored, r.duplicates, r.refused, r.failed, r.status, ""};

    snprintf(out->err, sizeof out->err, "%s", r.err);
    if (!out->err[0] && code != 200 && code)
        snprintf(out->err, sizeof out->err, "the source answered HTTP %ld", code);
    else if (!out->err[0] && code != 200)
        snprintf(out->err, sizeof out->err, "the source did not answer");
    return code;
}

static int answer(http_response *res, const retrieval *r, const char *source, long code)
{
    int ok = code == 200 && !r->err[0] && !r->status;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "study_uid", r->study, "source",
                          source, "status", ok ? "complete" : "incomplete", "stored",
                          (json_int_t)r->stored, "already_held", (json_int_t)r->duplicates,
                          "refused", (json_int_t)r->refused, "failed", (json_int_t)r->failed);
    if (!ok) {
        char why[HUREN_ERRLEN];
        snprintf(why, sizeof why, "%s", r->err[0] ? r->err : "the source refused");
        if (code && code != 200)
            snprintf(why, sizeof why, "the source answered HTTP %ld", code);
        json_object_set_new(o, "error", json_string(why));
    }
    snprintf(res->audit_object, sizeof res->audit_object,
             "retrieval of study %.64s from %.80s: %zu stored, %zu held, %zu refused", r->study,
             source, r->stored, r->duplicates, r->refused);
    int status = ok ? 200 : r->status ? 500 : code == 404 ? 404 : 502;
    int rc = http_reply_json(res, status, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}

/* A report is not stored here: it is fetched as JSON from its holder and shown with the
 * institution that issued it. */
static int report_fetch(const recognition *rec, http_response *res, const char *key, const char *id,
                        const char *source)
{
    char url[1400], inst[128];
    char *eid = rec_url_escape(id);
    snprintf(url, sizeof url, "%s/api/v1/reports/%s", source, eid ? eid : "");
    free(eid);
    snprintf(inst, sizeof inst, "%.*s", (int)(strchr(key, '/') - key), key);
    rec_fetch f = {.url = url};
    json_t *o = NULL;
    if (rec_fetch_all(rec, &f, 1, REC_PEER_TIMEOUT_MS) == 0 && f.status == 200 && f.body.data)
        o = json_loadb(f.body.data, f.body.len, 0, NULL);
    snprintf(res->audit_object, sizeof res->audit_object, "report %.64s from %.80s: HTTP %ld", id,
             source, f.status);
    int rc;
    if (json_is_object(o)) {
        json_t *a = json_pack("{s:s, s:s, s:s, s:O}", "result_key", key, "institution", inst,
                              "source", source, "report", o);
        rc = http_reply_json(res, 200, a ? json_dumps(a, JSON_COMPACT) : NULL);
        json_decref(a);
    } else {
        char why[HUREN_ERRLEN];
        snprintf(why, sizeof why, "the source did not give the report (%.200s)",
                 f.error[0] ? f.error
                 : f.status ? "unexpected answer"
                            : "no answer");
        rc = http_reply_error(res, f.status == 404 ? 404 : 502, why);
    }
    json_decref(o);
    rec_fetch_clear(&f);
    return rc;
}

/* Start it in the background: 202 with where to follow it. */
static int background(node *n, http_response *res, const char *study, const char *source)
{
    rec_job *j = rec_job_start(n, study, source);
    if (!j)
        return http_reply_error(
            res, 503,
            "cannot start a retrieval now (too many running, or no random id); try again later");
    char url[128];
    snprintf(url, sizeof url, "/api/v1/retrievals/%s", j->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "retrieval_id", j->id, "status", "running",
                          "study_uid", study, "source", source, "progress", url);
    snprintf(res->audit_object, sizeof res->audit_object,
             "retrieval %s of study %.64s from %.80s started", j->id, study, source);
    http_response_header(res, "Location", url);
    int rc = http_reply_json(res, 202, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}

int api_retrieval_create(http_request *req, http_response *res)
{
    node *n = req->app;
    recognition *rec = n->recognition;
    json_error_t je;
    char source[1024];
    if (!rec)
        return http_reply_error(res, 503, "recognition is not configured");
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *prompt = json_string_value(json_object_get(o, "prompt_id"));
    const char *key = json_string_value(json_object_get(o, "result_key"));
    int rc;
    if (!prompt || !key) {
        rc = http_reply_error(res, 400,
                              "the body must be {\"prompt_id\", \"result_key\"} of a "
                              "result a recognition prompt listed");
        goto done;
    }
    if (rec_session_bind(req, prompt, key, res) < 0) {
        rc = 0;
        goto done;
    }
    int found = huren_index_rec_shown_source(n->index, prompt, key, source, sizeof source);
    if (found < 0) {
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    const char *study = strstr(key, "/study:");
    if (!found || !source[0]) {
        rc = http_reply_error(res, 422, "result_key: not a result that prompt listed");
        goto done;
    }
    const char *report = strstr(key, "/report:");
    if (report && report[8]) {
        rc = report_fetch(rec, res, key, report + 8, source);
        goto done;
    }
    if (!study || !study[7] || strlen(study + 7) > 64) {
        rc = http_reply_error(res, 422, "result_key: neither a study nor a report");
        goto done;
    }
    if (json_is_true(json_object_get(o, "background"))) {
        rc = background(n, res, study + 7, source);
        goto done;
    }
    retrieval r = {.n = n, .study = study + 7, .fd = -1, .rec = rec};
    char err[HUREN_ERRLEN];
    if (rec_copy_prepare(n, prompt, key, &r.copy, err, sizeof err) < 0) {
        log_warnx("retrieval of %s: %s", r.study, err);
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    r.copy_ready = 1;
    long code = retrieve(rec, &r, source);
    if (code == 0)
        log_warnx("retrieval of %s from %s: %s", r.study, source, r.err);
    rc = answer(res, &r, source, code);
done:
    json_decref(o);
    return rc;
}

int recognition_retrieve_study(node *n, const char *study_uid, char *err, size_t errlen)
{
    recognition *rec = n->recognition;
    char key[80], source[1024];
    if (!rec || !n->cfg->rec_retrieve_on_move || !study_uid || !*study_uid ||
        strlen(study_uid) > 64)
        return 0;
    snprintf(key, sizeof key, "study:%s", study_uid);
    int found = huren_index_rec_record_source(n->index, key, source, sizeof source);
    if (found <= 0) {
        if (found < 0)
            snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return found;
    }
    retrieval r = {.n = n, .study = study_uid, .fd = -1, .rec = rec};
    long code = retrieve(rec, &r, source);
    log_info("retrieval of %s from %s for a C-MOVE: HTTP %ld, %zu stored, %zu held, %zu refused",
             study_uid, source, code, r.stored, r.duplicates, r.refused);
    if (code != 200 || r.err[0] || r.status) {
        snprintf(err, errlen, "%s", r.err[0] ? r.err : "the source refused");
        return r.stored ? 1 : -1;
    }
    return 1;
}
