/* jobs.c: background retrievals: POST /api/v1/retrievals with "background": true starts one on
 * its own thread and answers 202 at once; GET /api/v1/retrievals/{id} follows its progress
 * (instances stored, already held, refused, bytes received). Kept in memory: a retrieval cut
 * short (or lost with a restart) is asked again, and stores only what is still missing. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "random_id.h"
#include "recognition.h"
#include "recognition_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JOB_FREE = 0, JOB_RUNNING, JOB_COMPLETE, JOB_INCOMPLETE };

static void *job_main(void *arg)
{
    rec_job *j = arg;
    rec_retrieve_out out;
    long code = rec_retrieve(j->n, j->study, j->source, j, &out);
    atomic_store(&j->stored, out.stored);
    atomic_store(&j->held, out.held);
    atomic_store(&j->refused, out.refused);
    atomic_store(&j->failed, out.failed);
    int ok = code == 200 && !out.err[0] && !out.local_error;
    snprintf(j->error, sizeof j->error, "%s", ok ? "" : out.err);
    log_info("retrieval %s of %s from %s: %s, %zu stored, %zu held, %zu refused", j->id, j->study,
             j->source, ok ? "complete" : "incomplete", out.stored, out.held, out.refused);
    atomic_store(&j->state, ok ? JOB_COMPLETE : JOB_INCOMPLETE); /* after error: see rec_job */
    return NULL;
}

/* A slot: a free one, else the oldest finished one (joined first). Under jobs_mu. */
static rec_job *slot(recognition *rec)
{
    for (int i = 0; i < REC_JOBS_MAX; i++)
        if (atomic_load(&rec->jobs[i].state) == JOB_FREE)
            return &rec->jobs[i];
    for (int i = 0; i < REC_JOBS_MAX; i++) {
        rec_job *j = &rec->jobs[i];
        if (atomic_load(&j->state) != JOB_RUNNING) {
            if (j->joinable)
                pthread_join(j->thread, NULL);
            j->joinable = 0;
            return j;
        }
    }
    return NULL;
}

rec_job *rec_job_start(node *n, const char *study, const char *source)
{
    recognition *rec = n->recognition;
    char id[RANDOM_ID_LEN];
    if (random_id(id) < 0) { /* fail closed: never a guessable retrieval id */
        log_error("no random bytes for a retrieval id: %s", strerror(errno));
        return NULL;
    }
    pthread_mutex_lock(&rec->jobs_mu);
    rec_job *j = atomic_load(&rec->stopping) ? NULL : slot(rec);
    if (j) {
        memset(j->error, 0, sizeof j->error);
        snprintf(j->id, sizeof j->id, "%s", id);
        snprintf(j->study, sizeof j->study, "%s", study);
        snprintf(j->source, sizeof j->source, "%s", source);
        atomic_store(&j->stored, 0);
        atomic_store(&j->held, 0);
        atomic_store(&j->refused, 0);
        atomic_store(&j->failed, 0);
        atomic_store(&j->bytes, 0);
        j->rec = rec;
        j->n = n;
        atomic_store(&j->state, JOB_RUNNING);
        if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
            atomic_store(&j->state, JOB_FREE);
            j = NULL;
        } else {
            j->joinable = 1;
        }
    }
    pthread_mutex_unlock(&rec->jobs_mu);
    return j;
}

rec_job *rec_job_find(recognition *rec, const char *id)
{
    rec_job *found = NULL;
    pthread_mutex_lock(&rec->jobs_mu);
    for (int i = 0; i < REC_JOBS_MAX && !found; i++)
        if (atomic_load(&rec->jobs[i].state) != JOB_FREE && !strcmp(rec->jobs[i].id, id))
            found = &rec->jobs[i];
    pthread_mutex_unlock(&rec->jobs_mu);
    return found;
}

void rec_jobs_stop(recognition *rec)
{
    atomic_store(&rec->stopping, 1);
    pthread_mutex_lock(&rec->jobs_mu);
    for (int i = 0; i < REC_JOBS_MAX; i++)
        if (rec->jobs[i].joinable) {
            pthread_join(rec->jobs[i].thread, NULL);
            rec->jobs[i].joinable = 0;
        }
    pthread_mutex_unlock(&rec->jobs_mu);
}

int api_retrieval_get(http_request *req, http_response *res)
{
    node *n = req->app;
    recognition *rec = n->recognition;
    const char *id = req->captures[0];
    rec_job *j = rec && id ? rec_job_find(rec, id) : NULL;
    if (!j)
        return http_reply_error(res, 404,
                                "no such retrieval (finished ones are kept for a while "
                                "only: ask again, what is held is not fetched twice)");
    int state = atomic_load(&j->state);
    static const char *const names[] = {"free", "running", "complete", "incomplete"};
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "retrieval_id", j->id, "status",
        names[state], "study_uid", j->study, "source", j->source, "stored",
        (json_int_t)atomic_load(&j->stored), "already_held", (json_int_t)atomic_load(&j->held),
        "refused", (json_int_t)atomic_load(&j->refused), "failed",
        (json_int_t)atomic_load(&j->failed), "bytes", (json_int_t)atomic_load(&j->bytes));
    if (state == JOB_INCOMPLETE)
        json_object_set_new(o, "error", json_string(j->error));
    snprintf(res->audit_object, sizeof res->audit_object, "retrieval %s of study %.64s: %s", j->id,
             j->study, names[state]);
    int rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}
