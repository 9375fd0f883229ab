/* cache.c: the fetch cache of each PACS (cache_budget). Reads of studies (the study_read
 * hook) are counted in memory: a study being read is pinned, and its last read is kept here
 * and written to the index in one batch before an eviction pass or when the table fills, so
 * a read costs no write. After each fetch, the fetched instances are marked as copies and,
 * while the PACS's copies exceed its budget, the least recently read studies made only of
 * copies and not being read are evicted (held at the PACS again, NEARLINE). */
#define LOG_COMPONENT "pacs"
#include "pacs/pacs_int.h"

#include "huren_err.h"
#include "index/index_pacs.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READS_MAX (sizeof((struct pacs_ctx *)0)->reads / sizeof(pacs_read))
#define LRU_BATCH 16

static pacs_read *read_find(struct pacs_ctx *p, const char *uid)
{
    for (size_t i = 0; i < p->nreads; i++)
        if (!strcmp(p->reads[i].uid, uid))
            return &p->reads[i];
    return NULL;
}

/* Write the last reads to the index and forget those not pinned. Holds cache_mu. */
static void reads_flush(struct pacs_ctx *p)
{
    const char *uids[READS_MAX];
    int64_t at[READS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < p->nreads && n < READS_MAX; i++, n++) {
        uids[n] = p->reads[i].uid;
        at[n] = p->reads[i].last_read;
    }
    if (huren_index_pacs_cache_touch(p->n->index, uids, at, n) < 0)
        log_warnx("fetch cache: last reads not noted: %s", huren_index_errmsg(p->n->index));
    size_t k = 0;
    for (size_t i = 0; i < p->nreads; i++)
        if (p->reads[i].pins > 0)
            p->reads[k++] = p->reads[i];
    p->nreads = k;
}

void pacs_study_read(node *n, const char *study_uid, int delta)
{
    struct pacs_ctx *p = n->pacs;
    if (!p || !study_uid || strlen(study_uid) >= sizeof p->reads[0].uid)
        return;
    pthread_mutex_lock(&p->cache_mu);
    pacs_read *r = read_find(p, study_uid);
    if (!r && delta > 0) {
        if (p->nreads == READS_MAX)
            reads_flush(p);
        if (p->nreads < READS_MAX) {
            r = &p->reads[p->nreads++];
            snprintf(r->uid, sizeof r->uid, "%s", study_uid);
            r->pins = 0;
        }
    }
    if (r) {
        r->pins += delta;
        if (r->pins < 0)
            r->pins = 0;
        r->last_read = (int64_t)time(NULL);
    }
    pthread_mutex_unlock(&p->cache_mu);
}

/* Evict from c until its copies fit its budget. Holds cache_mu (no pin starts meanwhile). */
static void evict_pass(pacs_conn *c, int64_t bytes)
{
    struct pacs_ctx *p = c->ctx;
    huren_index *idx = p->n->index;
    huren_index_pacs_cached lru[LRU_BATCH];
    size_t n = 0;
    while (bytes > c->cfg->cache_budget) {
        if (huren_index_pacs_cache_lru(idx, c->cfg->name, lru, LRU_BATCH, &n) < 0 || n == 0)
            break;
        int progress = 0;
        for (size_t i = 0; i < n && bytes > c->cfg->cache_budget; i++) {
            pacs_read *r = read_find(p, lru[i].study_uid);
            int64_t freed = 0;
            if (r && r->pins > 0)
                continue; /* being read: never evicted */
            if (huren_index_pacs_cache_evict(idx, lru[i].study_uid, &freed) < 0) {
                log_warnx("PACS %s: study %s not evicted: %s", c->cfg->name, lru[i].study_uid,
                          huren_index_errmsg(idx));
                continue;
            }
            bytes -= freed;
            progress = 1;
            atomic_fetch_add(&c->evictions, 1);
            log_info("PACS %s: evicted study %s (%lld bytes) from the fetch cache", c->cfg->name,
                     lru[i].study_uid, (long long)freed);
        }
        if (!progress)
            break; /* all candidates in use or failing: over budget until they are free */
    }
}

void pacs__cache_fetched(pacs_conn *c, const char *study_uid)
{
    struct pacs_ctx *p = c->ctx;
    huren_index *idx = p->n->index;
    if (huren_index_pacs_cache_mark(idx, study_uid, (int64_t)time(NULL)) < 0) {
        log_warnx("PACS %s: fetched study %s not marked as a cache copy: %s", c->cfg->name,
                  study_uid, huren_index_errmsg(idx));
        return;
    }
    if (!c->cfg->cache_budget)
        return;
    pthread_mutex_lock(&p->cache_mu);
    reads_flush(p);
    int64_t bytes = 0;
    if (huren_index_pacs_cache_usage(idx, c->cfg->name, &bytes, NULL) == 0)
        evict_pass(c, bytes);
    pthread_mutex_unlock(&p->cache_mu);
}

void pacs__cache_close(struct pacs_ctx *p)
{
    pthread_mutex_lock(&p->cache_mu);
    reads_flush(p);
    pthread_mutex_unlock(&p->cache_mu);
    pthread_mutex_destroy(&p->cache_mu);
}
