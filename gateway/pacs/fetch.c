/* fetch.c: a study held only at a PACS, brought here when asked for (a C-MOVE, C-GET or
 * WADO-RS of it, a peer's retrieval): C-GET from the PACS with each instance stored through
 * the normal ingest path, or C-MOVE to our own AE (the instances then arrive at our SCP and
 * are stored as any C-STORE). The study thus becomes one held here. Two requests for the same
 * study share one fetch. */
#define LOG_COMPONENT "pacs"
#include "pacs/pacs_int.h"

#include "huren_err.h"
#include "index/index_pacs.h"
#include "ingest/ingest_dicom.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fetch_ctx {
    node *n;
    pacs_conn *c;
    unsigned stored, failed;
} fetch_ctx;

static uint16_t on_instance(const huren_dicom_store_req *req, void *payload)
{
    fetch_ctx *f = payload;
    huren_index_put_outcome outcome;
    char err[HUREN_ERRLEN];
    ingest_result r =
        ingest_dicom_instance(f->n, req->elements, req->nelements, req->transfer_syntax_uid,
                              req->tmp_path, 0, &outcome, err, sizeof err);
    if (r != INGEST_OK) {
        f->failed++;
        log_warnx("PACS %s: instance %s of a fetch not stored: %s", f->c->cfg->name,
                  req->sop_instance_uid, err);
        return r == INGEST_INVALID ? HUREN_DICOM_STATUS_DATASET_MISMATCH
                                   : HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    f->stored++;
    atomic_fetch_add(&f->c->fetched_instances, 1);
    return HUREN_DICOM_STATUS_SUCCESS;
}

/* Mark study_uid as being fetched, or wait for the fetch in flight: 1 when we fetch it. */
static int fetch_claim(struct pacs_ctx *p, const char *uid)
{
    pthread_mutex_lock(&p->fetch_mu);
    int waited = 0;
    for (;;) {
        size_t i = 0;
        while (i < p->nfetching && strcmp(p->fetching[i], uid) != 0)
            i++;
        if (i == p->nfetching)
            break;
        waited = 1;
        pthread_cond_wait(&p->fetch_cv, &p->fetch_mu);
    }
    int mine = 0;
    if (!waited) {
        if (p->nfetching == p->capfetching) {
            size_t cap = p->capfetching ? 2 * p->capfetching : 8;
            char **v = realloc(p->fetching, cap * sizeof *v);
            if (v) {
                p->fetching = v;
                p->capfetching = cap;
            }
        }
        char *copy = p->nfetching < p->capfetching ? strdup(uid) : NULL;
        if (copy) {
            p->fetching[p->nfetching++] = copy;
            mine = 1;
        }
    }
    pthread_mutex_unlock(&p->fetch_mu);
    return mine;
}

static void fetch_release(struct pacs_ctx *p, const char *uid)
{
    pthread_mutex_lock(&p->fetch_mu);
    for (size_t i = 0; i < p->nfetching; i++)
        if (!strcmp(p->fetching[i], uid)) {
            free(p->fetching[i]);
            p->fetching[i] = p->fetching[--p->nfetching];
            break;
        }
    if (!p->nfetching) {
        free(p->fetching);
        p->fetching = NULL;
        p->capfetching = 0;
    }
    pthread_cond_broadcast(&p->fetch_cv);
    pthread_mutex_unlock(&p->fetch_mu);
}

static int fetch(node *n, pacs_conn *c, const char *uid, char *err, size_t errlen)
{
    huren_dicom_scu_options o;
    pacs__scu_options(c, &o);
    huren_dicom_element keys[] = {{HUREN_DICOM_TAG(0x0020, 0x000D), "UI", uid}};
    huren_dicom_scu_result res = {0};
    fetch_ctx f = {n, c, 0, 0};
    atomic_fetch_add(&c->fetches, 1);
    pacs__acquire(c, 0);
    int rc = c->cfg->retrieve == CONFIG_RETRIEVE_MOVE
                 ? huren_dicom_scu_move(&o, HUREN_DICOM_LEVEL_STUDY, keys, 1, n->cfg->aet, &res,
                                        err, errlen)
                 : huren_dicom_scu_get(&o, HUREN_DICOM_LEVEL_STUDY, keys, 1,
                                       huren_index_tmp_dir(n->index), on_instance, &f, &res, err,
                                       errlen);
    pacs__release(c);
    unsigned got = c->cfg->retrieve == CONFIG_RETRIEVE_MOVE ? res.completed : f.stored;
    if (rc == 0 && res.status != HUREN_DICOM_STATUS_SUCCESS && !got)
        snprintf(err, errlen, "%s answered %s (0x%04x)", c->cfg->ae_title,
                 huren_dicom_status_str(res.status), res.status);
    if (rc < 0 || !got) {
        atomic_fetch_add(&c->fetch_failures, 1);
        return -1;
    }
    log_info("PACS %s: fetched study %s: %u instances (%u failed)", c->cfg->name, uid, got,
             res.failed + f.failed);
    return 1;
}

int pacs_fetch_study(node *n, const char *study_uid, char *err, size_t errlen)
{
    char name[HUREN_INDEX_PACS_NAME_MAX + 1] = "";
    if (!n->pacs || !study_uid || !*study_uid)
        return 0;
    int held = huren_index_pacs_held(n->index, study_uid, name);
    if (held < 0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return -1;
    }
    pacs_conn *c = held ? pacs__conn(n, name) : NULL;
    if (!c)
        return 0; /* here already, unknown, or at a PACS no longer configured */
    if (!fetch_claim(n->pacs, study_uid)) /* fetched by another request meanwhile */
        return huren_index_pacs_held(n->index, study_uid, name) == 0 ? 1 : 0;
    int rc = fetch(n, c, study_uid, err, errlen);
    if (rc > 0)
        pacs__cache_fetched(c, study_uid);
    fetch_release(n->pacs, study_uid);
    return rc;
}
