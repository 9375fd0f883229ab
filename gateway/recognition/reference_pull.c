/* reference_pull.c: a hospital's copy of the province's reference data (reference.h). At start
 * the last good copy is read from <data_dir>/reference; a thread then asks the directory for
 * each table (conditional GET over the directory's mTLS client) at once and every [directory]
 * reference_interval seconds, checks what it gets and, only when it is good, stores it and
 * serves it to the prompts from then on. A table replaced stays allocated until stop (prompts
 * in flight may hold it). */
#define LOG_COMPONENT "recognition"
#include "http/client.h"
#include "log.h"
#include "recognition.h"
#include "recognition_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void folder_of(const recognition *rec, char *out, size_t len)
{
    snprintf(out, len, "%s/reference", rec->cfg->data_dir);
}

/* Serve t from now on; the one it replaces is kept for the prompts that still read it. */
static void table_swap(recognition *rec, ref_table *t)
{
    ref_kind k = ref_table_kind(t);
    pthread_mutex_lock(&rec->ref_mu);
    ref_table *old = rec->refs[k];
    if (old && rec->nretired < REC_REF_RETIRED_MAX) {
        rec->retired[rec->nretired++] = old;
        old = NULL;
    }
    rec->refs[k] = t;
    pthread_mutex_unlock(&rec->ref_mu);
    /* past the bound, the oldest copy is given up: a prompt reads a table for milliseconds,
     * and updates come every reference_interval */
    ref_table_free(old);
}

const ref_table *rec_reference(recognition *rec, ref_kind k)
{
    pthread_mutex_lock(&rec->ref_mu);
    const ref_table *t = rec->refs[k];
    pthread_mutex_unlock(&rec->ref_mu);
    return t;
}

static void load_stored(recognition *rec)
{
    char dir[4200], err[HUREN_ERRLEN];
    folder_of(rec, dir, sizeof dir);
    for (int k = 0; k < REF_NKINDS; k++) {
        char *data = NULL, perr[2048];
        size_t len = 0;
        ref_table *t = NULL;
        int r = ref_store_read(dir, (ref_kind)k, &data, &len, err, sizeof err);
        if (r < 0)
            log_warnx("reference %s: %s", ref_kind_name((ref_kind)k), err);
        if (r == 0 && ref_table_parse((ref_kind)k, data, len, &t, perr, sizeof perr) < 0)
            log_warnx("reference %s: the stored copy is damaged: %s", ref_kind_name((ref_kind)k),
                      perr);
        if (t)
            table_swap(rec, t);
        free(data);
    }
}

/* One conditional GET of kind k; a good new table is stored and served. */
static void pull_one(recognition *rec, ref_kind k)
{
    char url[1200], inm[80], dir[4200], err[4096];
    const ref_table *cur = rec_reference(rec, k);
    snprintf(url, sizeof url, "%s/api/v1/directory/reference/%s", rec->cfg->dir_url,
             ref_kind_name(k));
    huren_buf body = {0};
    huren_buf_init(&body, REF_MAX_BYTES);
    struct curl_slist *h = NULL;
    if (cur) {
        snprintf(inm, sizeof inm, "If-None-Match: \"%ld\"", ref_table_version(cur));
        h = curl_slist_append(NULL, inm);
    }
    long timeout = rec->cfg->dir_timeout * 1000;
    http_client_opts o = {.url = url,
                          .cert = rec->cert,
                          .key = rec->key_file,
                          .ca = rec->ca,
                          .timeout_ms = timeout,
                          .connect_timeout_ms = timeout,
                          .headers = h,
                          .on_data = http_client_body_write,
                          .data = &body};
    CURL *c = http_client_new(&o);
    long status = 0;
    CURLcode cr = c ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    if (cr == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    ref_table *t = NULL;
    if (status == 200 && body.data &&
        ref_table_parse(k, body.data, body.len, &t, err, sizeof err) < 0) {
        log_warnx("reference %s from the directory refused: %.300s", ref_kind_name(k), err);
    } else if (t) {
        folder_of(rec, dir, sizeof dir);
        if (ref_store_write(dir, k, body.data, body.len, err, sizeof err) < 0)
            log_warnx("reference %s: keeping a copy: %s", ref_kind_name(k), err);
        log_info("reference %s: version %ld from the directory", ref_kind_name(k),
                 ref_table_version(t));
        table_swap(rec, t);
    } else if (status != 304 && status != 404) {
        log_warnx("reference %s: HTTP %ld %s", ref_kind_name(k), status,
                  cr == CURLE_OK ? "" : curl_easy_strerror(cr));
    }
    pthread_mutex_lock(&rec->ref_mu);
    rec->ref_status[k] = status;
    rec->ref_checked[k] = time(NULL);
    pthread_mutex_unlock(&rec->ref_mu);
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(h);
    huren_buf_free(&body);
}

static void *pull_thread(void *arg)
{
    recognition *rec = arg;
    pthread_mutex_lock(&rec->ref_mu);
    while (!rec->ref_stop) {
        pthread_mutex_unlock(&rec->ref_mu);
        for (int k = 0; k < REF_NKINDS; k++)
            pull_one(rec, (ref_kind)k);
        pthread_mutex_lock(&rec->ref_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += rec->cfg->dir_ref_interval;
        while (!rec->ref_stop &&
               pthread_cond_timedwait(&rec->ref_cond, &rec->ref_mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&rec->ref_mu);
    return NULL;
}

int rec_reference_start(recognition *rec)
{
    pthread_mutex_init(&rec->ref_mu, NULL);
    pthread_cond_init(&rec->ref_cond, NULL);
    load_stored(rec);
    if (pthread_create(&rec->ref_thread, NULL, pull_thread, rec) != 0)
        return -1;
    rec->ref_running = 1;
    return 0;
}

void rec_reference_stop(recognition *rec)
{
    if (rec->ref_running) {
        pthread_mutex_lock(&rec->ref_mu);
        rec->ref_stop = 1;
        pthread_cond_signal(&rec->ref_cond);
        pthread_mutex_unlock(&rec->ref_mu);
        pthread_join(rec->ref_thread, NULL);
        rec->ref_running = 0;
    }
    for (int k = 0; k < REF_NKINDS; k++)
        ref_table_free(rec->refs[k]);
    for (size_t i = 0; i < rec->nretired; i++)
        ref_table_free(rec->retired[i]);
    pthread_cond_destroy(&rec->ref_cond);
    pthread_mutex_destroy(&rec->ref_mu);
}

void rec_reference_json(recognition *rec, json_t *o)
{
    pthread_mutex_lock(&rec->ref_mu);
    for (int k = 0; k < REF_NKINDS; k++) {
        const ref_table *t = rec->refs[k];
        json_t *e = json_object();
        json_object_set_new(e, "version", t ? json_integer(ref_table_version(t)) : json_null());
        json_object_set_new(e, "rows", json_integer((json_int_t)ref_table_rows(t)));
        json_object_set_new(e, "last_status", json_integer(rec->ref_status[k]));
        json_object_set_new(o, ref_kind_name((ref_kind)k), e);
    }
    pthread_mutex_unlock(&rec->ref_mu);
}

json_t *recognition_reference_health(node *n)
{
    recognition *rec = n ? n->recognition : NULL;
    json_t *o = rec ? json_object() : NULL;
    if (o)
        rec_reference_json(rec, o);
    return o;
}
