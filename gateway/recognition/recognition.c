/* recognition.c: the recognition feature's lifecycle: at start, load the catalogue and the
 * region key named in [directory] (the same ones the publisher uses) and choose the client
 * certificate for the directory and the peers. Shared by all threads; SIGHUP replaces the
 * catalogue (recognition_catalogue_reload), the old one kept until stop. */
#define LOG_COMPONENT "recognition"
#include "recognition.h"
#include "huren_err.h"
#include "log.h"
#include "recognition_int.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

int recognition_start(node *n, char *err, size_t errlen)
{
    const config *c = n->cfg;
    n->recognition = NULL;
    if (c->role != CONFIG_ROLE_HOSPITAL || !*c->dir_url || !*c->dir_catalogue ||
        !*c->dir_institution || !*c->dir_region_key)
        return 0;
    recognition *rec = calloc(1, sizeof *rec);
    if (!rec) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rec->cfg = c;
    char why[HUREN_ERRLEN];
    int keylen = config_region_key(c, rec->key, why, sizeof why);
    if (keylen < 0) {
        snprintf(err, errlen, "recognition: %s", why);
        free(rec);
        return -1;
    }
    rec->keylen = (size_t)keylen;
    catalogue *cat = NULL;
    if (catalogue_load(c->dir_catalogue, &cat, why, sizeof why) < 0) {
        snprintf(err, errlen, "recognition: [directory] catalogue: %s", why);
        memset(rec->key, 0, sizeof rec->key);
        free(rec);
        return -1;
    }
    rec->cat = cat;
    int bad_prices = 0;
    if (rec_reasons_load(rec, c->rec_reasons, why, sizeof why) < 0 ||
        (bad_prices = rec_prices_load(rec, c->rec_prices, why, sizeof why) < 0)) {
        snprintf(err, errlen, "recognition: [recognition] %s: %s",
                 bad_prices ? "prices" : "reasons", why);
        rec_reasons_free(rec);
        rec_prices_free(rec);
        catalogue_free(cat);
        memset(rec->key, 0, sizeof rec->key);
        free(rec);
        return -1;
    }
    rec->cert = *c->dir_tls_cert ? c->dir_tls_cert : c->tls_cert;
    rec->key_file = *c->dir_tls_cert ? c->dir_tls_key : c->tls_key;
    rec->ca = c->dir_tls_ca;
    pthread_mutex_init(&rec->jobs_mu, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rec_reference_start(rec) < 0)
        log_warnx("reference data: the pulling thread did not start");
    n->recognition = rec;
    log_info("%zu catalogue items, directory %s", catalogue_count(rec->cat), c->dir_url);
    return 0;
}

int recognition_catalogue_reload(node *n, char *err, size_t errlen)
{
    recognition *rec = n->recognition;
    if (!rec)
        return 1;
    catalogue *cat = NULL;
    if (catalogue_load(rec->cfg->dir_catalogue, &cat, err, errlen) < 0)
        return -1;
    catalogue_retire(cat, rec->cat); /* prompts in flight may still read the old one */
    rec->cat = cat;
    return 0;
}

void recognition_stop(node *n)
{
    recognition *rec = n ? n->recognition : NULL;
    if (!rec)
        return;
    rec_jobs_stop(rec);
    rec_reference_stop(rec);
    rec_reasons_free(rec);
    rec_prices_free(rec);
    pthread_mutex_destroy(&rec->jobs_mu);
    catalogue_free(rec->cat);
    memset(rec->key, 0, sizeof rec->key);
    free(rec);
    n->recognition = NULL;
    curl_global_cleanup();
}
