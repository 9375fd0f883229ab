/* pacs.c: the PACS side of the node: one pacs_conn per [pacs] section with its limits (a
 * counting slot per association, a minimum gap between queries from queries_per_minute),
 * the periodic sync thread of each (the last sync_window_days days every sync_interval
 * seconds), and the metrics. */
#define LOG_COMPONENT "pacs"
#include "pacs/pacs_int.h"

#include "huren_buf.h"
#include "huren_err.h"
#include "index/index_pacs.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

pacs_conn *pacs__conn(node *n, const char *name)
{
    for (size_t i = 0; n->pacs && name && i < n->pacs->nconns; i++)
        if (!strcmp(n->pacs->conns[i].cfg->name, name))
            return &n->pacs->conns[i];
    return NULL;
}

static void ts_add(struct timespec *t, long ns)
{
    t->tv_nsec += ns % 1000000000L;
    t->tv_sec += ns / 1000000000L + t->tv_nsec / 1000000000L;
    t->tv_nsec %= 1000000000L;
}

void pacs__acquire(pacs_conn *c, int query)
{
    pthread_mutex_lock(&c->mu);
    while (c->open >= c->cfg->max_associations)
        pthread_cond_wait(&c->cv, &c->mu);
    c->open++;
    struct timespec now, start;
    clock_gettime(CLOCK_MONOTONIC, &now);
    start = now;
    if (query) { /* our turn: the later of now and the slot after the previous query */
        if (c->next_q.tv_sec > now.tv_sec ||
            (c->next_q.tv_sec == now.tv_sec && c->next_q.tv_nsec > now.tv_nsec))
            start = c->next_q;
        c->next_q = start;
        ts_add(&c->next_q, 60000000000L / c->cfg->queries_per_minute);
    }
    pthread_mutex_unlock(&c->mu);
    if (query)
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) == EINTR)
            ;
}

void pacs__release(pacs_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->open--;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void pacs__scu_options(const pacs_conn *c, huren_dicom_scu_options *o)
{
    huren_dicom_scu_options init = HUREN_DICOM_SCU_OPTIONS_INIT;
    *o = init;
    o->calling_ae = c->calling_ae;
    o->called_ae = c->cfg->ae_title;
    o->host = c->cfg->host;
    o->port = (int)c->cfg->port;
    o->timeout_s = (int)c->cfg->timeout;
    o->tls_ca = c->cfg->tls_ca;
    o->tls_cert = c->cfg->tls_cert;
    o->tls_key = c->cfg->tls_key;
    o->model = c->cfg->query_model == CONFIG_QR_PATIENT_ROOT ? HUREN_DICOM_MODEL_PATIENT_ROOT
                                                             : HUREN_DICOM_MODEL_STUDY_ROOT;
}

int pacs__sleep(struct pacs_ctx *p, long seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&p->stop_mu);
    while (!p->stopping && pthread_cond_timedwait(&p->stop_cv, &p->stop_mu, &until) != ETIMEDOUT)
        ;
    int stopping = p->stopping;
    pthread_mutex_unlock(&p->stop_mu);
    return stopping;
}

/* The periodic sync: the window's days, today first, again every interval. */
static void *sync_main(void *arg)
{
    pacs_conn *c = arg;
    struct pacs_ctx *p = c->ctx;
    char err[HUREN_ERRLEN];
    while (!p->stopping) {
        time_t now = time(NULL);
        time_t first = now - (time_t)(c->cfg->sync_window_days - 1) * 86400;
        char from[16], to[16];
        struct tm tm;
        localtime_r(&first, &tm);
        strftime(from, sizeof from, "%Y%m%d", &tm);
        localtime_r(&now, &tm);
        strftime(to, sizeof to, "%Y%m%d", &tm);
        err[0] = 0;
        int days = pacs_sync_days(p->n, c->cfg->name, from, to, 0, NULL, NULL, err, sizeof err);
        if (days < 0)
            log_warnx("PACS %s: sync of %s-%s failed: %s", c->cfg->name, from, to, err);
        else
            log_info("PACS %s: synced %s-%s", c->cfg->name, from, to);
        if (pacs__sleep(p, c->cfg->sync_interval))
            break;
    }
    return NULL;
}

int pacs__open(node *n, int periodic, char *err, size_t errlen)
{
    const config *cfg = n->cfg;
    n->pacs = NULL;
    if (!cfg->npacs)
        return 0;
    struct pacs_ctx *p = calloc(1, sizeof *p);
    pacs_conn *conns = p ? calloc(cfg->npacs, sizeof *conns) : NULL;
    if (!conns) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->n = n;
    p->conns = conns;
    p->nconns = cfg->npacs;
    pthread_mutex_init(&p->stop_mu, NULL);
    pthread_cond_init(&p->stop_cv, NULL);
    pthread_mutex_init(&p->fetch_mu, NULL);
    pthread_cond_init(&p->fetch_cv, NULL);
    pthread_mutex_init(&p->cache_mu, NULL);
    for (size_t i = 0; i < cfg->npacs; i++) {
        pacs_conn *c = &conns[i];
        c->cfg = &cfg->pacs[i];
        c->ctx = p;
        c->calling_ae = c->cfg->calling_ae ? c->cfg->calling_ae : cfg->aet;
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
    }
    n->pacs = p;
    for (size_t i = 0; periodic && i < cfg->npacs; i++) {
        pacs_conn *c = &conns[i];
        if (!c->cfg->sync_interval)
            continue;
        if (pthread_create(&c->thread, NULL, sync_main, c) != 0) {
            snprintf(err, errlen, "PACS %s: cannot start its sync thread", c->cfg->name);
            return -1;
        }
        c->thread_started = 1;
        log_info("PACS %s (%s at %s:%ld): syncing the last %ld days every %ld s", c->cfg->name,
                 c->cfg->ae_title, c->cfg->host, c->cfg->port, c->cfg->sync_window_days,
                 c->cfg->sync_interval);
    }
    return 0;
}

int pacs_open_for_command(node *n, char *err, size_t errlen)
{
    return pacs__open(n, 0, err, errlen);
}

int pacs_start(node *n, char *err, size_t errlen)
{
    return pacs__open(n, 1, err, errlen);
}

void pacs_stop(node *n)
{
    struct pacs_ctx *p = n ? n->pacs : NULL;
    if (!p)
        return;
    pthread_mutex_lock(&p->stop_mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->stop_cv);
    pthread_mutex_unlock(&p->stop_mu);
    for (size_t i = 0; i < p->nconns; i++)
        if (p->conns[i].thread_started)
            pthread_join(p->conns[i].thread, NULL);
    for (size_t i = 0; i < p->nconns; i++) {
        pthread_mutex_destroy(&p->conns[i].mu);
        pthread_cond_destroy(&p->conns[i].cv);
    }
    pthread_mutex_destroy(&p->stop_mu);
    pthread_cond_destroy(&p->stop_cv);
    pacs__cache_close(p);
    pthread_mutex_destroy(&p->fetch_mu);
    pthread_cond_destroy(&p->fetch_cv);
    free(p->conns);
    free(p);
    n->pacs = NULL;
}

char *pacs_metrics(node *n)
{
    struct pacs_ctx *p = n->pacs;
    if (!p)
        return NULL;
    huren_buf b = {0};
    huren_buf_adds(&b, "# HELP huren_pacs_studies Studies known at each PACS; only_there: none of "
                       "their instances here.\n# TYPE huren_pacs_studies gauge\n");
    for (size_t i = 0; i < p->nconns; i++) {
        huren_index_pacs_stats st = {0};
        (void)huren_index_pacs_stats_get(n->index, p->conns[i].cfg->name, &st);
        const char *name = p->conns[i].cfg->name;
        huren_buf_printf(&b, "huren_pacs_studies{pacs=\"%s\"} %lld\n", name, (long long)st.studies);
        huren_buf_printf(&b, "huren_pacs_studies_only_there{pacs=\"%s\"} %lld\n", name,
                         (long long)st.only_there);
        huren_buf_printf(&b, "huren_pacs_days_synced{pacs=\"%s\"} %lld\n", name,
                         (long long)st.days);
    }
    huren_buf_adds(&b, "# HELP huren_pacs_requests_total Requests to each PACS by kind.\n"
                       "# TYPE huren_pacs_requests_total counter\n");
    for (size_t i = 0; i < p->nconns; i++) {
        pacs_conn *c = &p->conns[i];
        const char *name = c->cfg->name;
        huren_buf_printf(
            &b,
            "huren_pacs_requests_total{pacs=\"%s\",kind=\"find\"} %llu\n"
            "huren_pacs_requests_total{pacs=\"%s\",kind=\"find_failed\"} %llu\n"
            "huren_pacs_requests_total{pacs=\"%s\",kind=\"split\"} %llu\n"
            "huren_pacs_requests_total{pacs=\"%s\",kind=\"fetch\"} %llu\n"
            "huren_pacs_requests_total{pacs=\"%s\",kind=\"fetch_failed\"} %llu\n"
            "huren_pacs_fetched_instances_total{pacs=\"%s\"} %llu\n"
            "huren_pacs_cache_evictions_total{pacs=\"%s\"} %llu\n",
            name, (unsigned long long)c->queries, name, (unsigned long long)c->query_failures, name,
            (unsigned long long)c->splits, name, (unsigned long long)c->fetches, name,
            (unsigned long long)c->fetch_failures, name, (unsigned long long)c->fetched_instances,
            name, (unsigned long long)c->evictions);
        int64_t bytes = 0, studies = 0;
        (void)huren_index_pacs_cache_usage(n->index, name, &bytes, &studies);
        huren_buf_printf(&b,
                         "huren_pacs_cache_bytes{pacs=\"%s\"} %lld\n"
                         "huren_pacs_cache_studies{pacs=\"%s\"} %lld\n"
                         "huren_pacs_cache_budget_bytes{pacs=\"%s\"} %ld\n",
                         name, (long long)bytes, name, (long long)studies, name,
                         c->cfg->cache_budget);
    }
    if (b.failed) {
        huren_buf_free(&b);
        return NULL;
    }
    return b.data;
}
