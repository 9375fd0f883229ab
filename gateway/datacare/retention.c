/* retention.c: the [retention] rules. By age: studies whose StudyDate is more than
 * max_age_days ago. By disk: when the archive's file system has less than min_free_mb free,
 * the oldest studies until their bytes would make up the difference. protected = yes (the
 * default) keeps studies with a recognition decision and every study of a patient with an
 * insurer claim (huren_index_retention_candidates). Each deletion is an audited study.delete
 * (actor "retention"); packs are compacted after. serve runs it every [retention] interval. */
#include "datacare/datacare.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

typedef struct victim {
    char uid[65], date[9], patient[65];
    int64_t bytes;
    const char *why;
} victim;

typedef struct plan {
    victim *v;
    size_t n, cap;
    const char *why;
    int64_t need; /* disk rule: bytes still to free (<= 0: enough) */
    int oom;
} plan;

static int planned(const plan *p, const char *uid)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].uid, uid))
            return 1;
    return 0;
}

static int plan_add(void *payload, const huren_index_retention_study *st)
{
    plan *p = payload;
    if (!strcmp(p->why, "disk") && (p->need <= 0 || planned(p, st->study_uid)))
        return p->need <= 0; /* enough planned: stop */
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        victim *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->oom = 1;
            return 1;
        }
        p->v = v;
        p->cap = cap;
    }
    victim *v = &p->v[p->n++];
    snprintf(v->uid, sizeof v->uid, "%s", st->study_uid);
    snprintf(v->date, sizeof v->date, "%s", st->study_date);
    snprintf(v->patient, sizeof v->patient, "%s", st->patient_id ? st->patient_id : "");
    v->bytes = st->bytes;
    v->why = p->why;
    p->need -= st->bytes;
    return 0;
}

static int64_t disk_free(const char *dir)
{
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 ? (int64_t)sv.f_bavail * (int64_t)sv.f_frsize : -1;
}

static int plan_make(node *n, plan *p, char *err, size_t errlen)
{
    const config *c = n->cfg;
    int rc = 0;
    if (c->retention_max_age_days > 0) {
        char before[16];
        time_t cut = time(NULL) - (time_t)c->retention_max_age_days * 86400;
        struct tm tm;
        gmtime_r(&cut, &tm);
        strftime(before, sizeof before, "%Y%m%d", &tm);
        p->why = "age";
        p->need = INT64_MAX;
        rc =
            huren_index_retention_candidates(n->index, before, c->retention_protected, plan_add, p);
    }
    int64_t free_b = disk_free(c->data_dir);
    if (rc >= 0 && c->retention_min_free_mb > 0 && free_b >= 0) {
        int64_t planned_bytes = 0;
        for (size_t i = 0; i < p->n; i++)
            planned_bytes += p->v[i].bytes;
        p->why = "disk";
        p->need = ((int64_t)c->retention_min_free_mb << 20) - free_b - planned_bytes;
        if (p->need > 0)
            rc = huren_index_retention_candidates(n->index, NULL, c->retention_protected, plan_add,
                                                  p);
    }
    if (rc == HUREN_INDEX_ECANCEL)
        rc = 0;
    if (p->oom || rc < 0) {
        snprintf(err, errlen, "retention: %s",
                 p->oom ? "out of memory" : huren_index_errmsg(n->index));
        return -1;
    }
    return 0;
}

int retention_enabled(const config *cfg)
{
    return cfg->retention_max_age_days > 0 || cfg->retention_min_free_mb > 0;
}

int retention_run(node *n, int dry_run, int grace_s, FILE *out, char *err, size_t errlen)
{
    plan p = {0};
    int done = 0;
    if (plan_make(n, &p, err, errlen) < 0) {
        free(p.v);
        return -1;
    }
    for (size_t i = 0; i < p.n; i++) {
        const victim *v = &p.v[i];
        huren_index_study_deleted d;
        if (dry_run) {
            fprintf(out, "would delete study %s (StudyDate %s, PatientID %s, %lld bytes; %s)\n",
                    v->uid, v->date, v->patient, (long long)v->bytes, v->why);
            done++;
            continue;
        }
        int rc = datacare_delete_audited(n, v->uid, "retention", "system", &d);
        if (rc < 0 && rc != HUREN_INDEX_ENOTFOUND) {
            snprintf(err, errlen, "retention: deleting %s: %s", v->uid,
                     huren_index_errmsg(n->index));
            free(p.v);
            return -1;
        }
        done += rc >= 0;
        if (out && rc >= 0)
            fprintf(out, "deleted study %s (StudyDate %s, %lld instances; %s)\n", v->uid, v->date,
                    (long long)d.instances, v->why);
    }
    free(p.v);
    huren_index_compact_stats cs;
    if (!dry_run && done > 0 && huren_index_compact(n->index, 0.3, grace_s, &cs) < 0) {
        snprintf(err, errlen, "retention: compacting: %s", huren_index_errmsg(n->index));
        return -1;
    }
    return done;
}

/* ---- the serve job ---- */

typedef struct retention_job {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int running, stop;
    node *n;
} retention_job;
static retention_job job = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* the first run soon after start (a node restarted more often than daily still runs it) */
#define FIRST_RUN_MAX_S 300

static void *job_main(void *arg)
{
    (void)arg;
    long wait = job.n->cfg->retention_interval < FIRST_RUN_MAX_S ? job.n->cfg->retention_interval
                                                                 : FIRST_RUN_MAX_S;
    pthread_mutex_lock(&job.lock);
    while (!job.stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait;
        wait = job.n->cfg->retention_interval;
        while (!job.stop && pthread_cond_timedwait(&job.cond, &job.lock, &until) != ETIMEDOUT)
            ;
        if (job.stop)
            break;
        pthread_mutex_unlock(&job.lock);
        char err[512];
        int k = retention_run(job.n, 0, DATACARE_GRACE_S, NULL, err, sizeof err);
        if (k < 0)
            log_error("%s", err);
        else if (k > 0)
            log_info("retention: %d studies deleted (audited as study.delete)", k);
        pthread_mutex_lock(&job.lock);
    }
    pthread_mutex_unlock(&job.lock);
    return NULL;
}

int retention_start(node *n, char *err, size_t errlen)
{
    if (!retention_enabled(n->cfg))
        return 0;
    job.n = n;
    job.stop = 0;
    if (pthread_create(&job.thread, NULL, job_main, NULL) != 0) {
        snprintf(err, errlen, "retention: cannot start its thread");
        return -1;
    }
    job.running = 1;
    return 0;
}

void retention_stop(void)
{
    if (!job.running)
        return;
    pthread_mutex_lock(&job.lock);
    job.stop = 1;
    pthread_cond_signal(&job.cond);
    pthread_mutex_unlock(&job.lock);
    pthread_join(job.thread, NULL);
    job.running = 0;
}
