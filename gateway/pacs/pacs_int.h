/* pacs_int.h: shared by the files of gateway/pacs/ only: one PACS's limits (associations,
 * queries per minute) and counters, and the SCU options towards it. */
#ifndef HUREN_GATEWAY_PACS_INT_H
#define HUREN_GATEWAY_PACS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pacs/pacs.h"

typedef struct pacs_conn {
    const config_pacs *cfg;
    struct pacs_ctx *ctx;
    const char *calling_ae;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;               /* associations open now (at most cfg->max_associations) */
    struct timespec next_q; /* CLOCK_MONOTONIC: the next query may start then */
    pthread_t thread;       /* the periodic sync, when started */
    int thread_started;
    atomic_uint_fast64_t queries, query_failures, splits, fetches, fetch_failures,
        fetched_instances, evictions;
} pacs_conn;

/* A study being read or read lately (cache.c): pins > 0 while read. */
typedef struct pacs_read {
    char uid[65];
    int pins;
    int64_t last_read;
} pacs_read;

struct pacs_ctx {
    node *n;
    pacs_conn *conns;
    size_t nconns;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stopping;
    /* studies being fetched now: a second request for one waits for the first */
    pthread_mutex_t fetch_mu;
    pthread_cond_t fetch_cv;
    char **fetching;
    size_t nfetching, capfetching;
    /* the fetch cache's reads (cache.c) */
    pthread_mutex_t cache_mu;
    pacs_read reads[1024];
    size_t nreads;
};

/* Set up n->pacs; periodic: start the sync threads too (not for `huren pacs sync`). */
int pacs__open(node *n, int periodic, char *err, size_t errlen);

/* The PACS named name, or NULL. */
pacs_conn *pacs__conn(node *n, const char *name);
/* Take an association slot (waiting), and for a query also the rate limit's turn; give the
 * slot back with pacs__release. */
void pacs__acquire(pacs_conn *c, int query);
void pacs__release(pacs_conn *c);
/* The SCU options towards c. */
void pacs__scu_options(const pacs_conn *c, huren_dicom_scu_options *o);
/* cache.c: after a fetch of study_uid from c, mark its copies and keep c within its
 * cache_budget; at stop, the last reads written and the lock freed. */
void pacs__cache_fetched(pacs_conn *c, const char *study_uid);
void pacs__cache_close(struct pacs_ctx *p);
/* Wait up to seconds or until the node stops; returns 1 when stopping. */
int pacs__sleep(struct pacs_ctx *p, long seconds);

#endif
