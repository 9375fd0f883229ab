/* sender.c: the thread that drains the outbox to the regional directory. Each round reads up
 * to batch_size due rows, POSTs them as one JSON batch with libcurl (client certificate, the
 * directory's CA), and removes the rows the directory acknowledged; a failed round (network,
 * timeout, HTTP error, an answer that does not match the batch) keeps every row and waits,
 * doubling the wait up to retry_max_ms. Refused entries are kept and retried after the maximum. */
#define LOG_COMPONENT "directory"
#include "http/client.h"
#include "huren_err.h"
#include "index/index_directory.h"
#include "log.h"
#include "publisher_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (4 << 20) /* the longest answer read from the directory */
#define PATH_ENTRIES "/api/v1/directory/entries"

static int on_progress(void *clientp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct publisher *p = clientp;
    return atomic_load(&p->stopping) ? 1 : 0; /* stop: abandon the send, rows stay */
}

/* The JSON batch: each row's entry with its pseudonym, record key, version and institution. */
static char *batch_body(struct publisher *p, const huren_index_outbox_batch *b)
{
    json_t *entries = json_array();
    for (size_t i = 0; i < b->n; i++) {
        const huren_index_outbox_item *it = &b->items[i];
        json_t *e = it->entry ? json_loads(it->entry, 0, NULL) : json_object();
        if (!json_is_object(e)) { /* cannot happen: the hook wrote it */
            json_decref(e);
            e = json_object();
        }
        json_object_set_new(e, "pseudonym", json_string(it->pseudonym));
        json_object_set_new(e, "record_key", json_string(it->record_key));
        json_object_set_new(e, "version", json_integer(it->version));
        json_object_set_new(e, "institution", json_string(p->cfg->dir_institution));
        if (it->deleted)
            json_object_set_new(e, "deleted", json_true());
        json_array_append_new(entries, e);
    }
    json_t *o = json_pack("{s:o}", "entries", entries);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* POST body; returns 0 with the HTTP status and answer, or -1 with why. */
static int post(struct publisher *p, const char *body, long *status, huren_buf *a, char *why,
                size_t whylen)
{
    char url[1200];
    snprintf(url, sizeof url, "%s%s", p->cfg->dir_url, PATH_ENTRIES);
    /* a trailing '/' in the configured URL would double the slash */
    size_t base = strlen(p->cfg->dir_url);
    if (base && p->cfg->dir_url[base - 1] == '/')
        snprintf(url, sizeof url, "%.*s%s", (int)(base - 1), p->cfg->dir_url, PATH_ENTRIES);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    const config *c = p->cfg;
    long timeout_ms = c->dir_timeout * 1000L;
    http_client_opts o = {
        .url = url,
        .cert = *c->dir_tls_cert ? c->dir_tls_cert : c->tls_cert,
        .key = *c->dir_tls_cert ? c->dir_tls_key : c->tls_key,
        .ca = c->dir_tls_ca,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = timeout_ms < 10000 ? timeout_ms : 10000,
        .headers = hdrs,
        .post_body = body,
        .on_data = http_client_body_write,
        .data = a,
        .on_progress = on_progress,
        .progress = p,
    };
    CURL *h = hdrs ? http_client_new(&o) : NULL;
    int rc = -1;
    if (!h) {
        snprintf(why, whylen, "cannot set up the HTTP client");
    } else {
        CURLcode cc = curl_easy_perform(h);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
            rc = 0;
        } else {
            snprintf(why, whylen, "%s",
                     a->failed == HUREN_BUF_ETOOBIG ? "answer too long" : curl_easy_strerror(cc));
        }
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
    return rc;
}

/* Check the directory's answer against the batch and sort the rows: acknowledged (stored,
 * replaced, ignored: the directory holds this version or a newer one) or refused. Returns 0,
 * or -1 when the answer does not fit the batch (then nothing is acknowledged). */
static int answer_apply(struct publisher *p, const huren_index_outbox_batch *b, const char *text,
                        int64_t *acked, size_t *nacked, int64_t *refused, size_t *nrefused,
                        char *why, size_t whylen)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je), *results = json_object_get(o, "results");
    int rc = -1;
    *nacked = *nrefused = 0;
    if (!json_is_array(results) || json_array_size(results) != b->n) {
        snprintf(why, whylen, "the directory's answer is not a result per entry");
        goto done;
    }
    for (size_t i = 0; i < b->n; i++) {
        json_t *r = json_array_get(results, i);
        const char *key = json_string_value(json_object_get(r, "record_key"));
        const char *st = json_string_value(json_object_get(r, "status"));
        json_t *v = json_object_get(r, "version");
        if (!key || !st || !json_is_integer(v) || strcmp(key, b->items[i].record_key) != 0 ||
            json_integer_value(v) != b->items[i].version) {
            snprintf(why, whylen, "the directory's answer %zu does not match the entry sent", i);
            goto done;
        }
        if (!strcmp(st, "stored") || !strcmp(st, "replaced") || !strcmp(st, "ignored")) {
            acked[(*nacked)++] = b->items[i].id;
        } else if (!strcmp(st, "refused")) {
            refused[(*nrefused)++] = b->items[i].id;
            const char *reason = json_string_value(json_object_get(r, "reason"));
            log_warnx("directory refused %s version %lld: %s", key, (long long)b->items[i].version,
                      reason ? reason : "(no reason)");
        } else {
            snprintf(why, whylen, "the directory's answer %zu has an unknown status", i);
            goto done;
        }
    }
    rc = 0;
done:
    (void)p;
    json_decref(o);
    return rc;
}

/* One round with rows b. Returns 0 (the answer was applied) or -1 with why. */
static int round_send(struct publisher *p, const huren_index_outbox_batch *b, char *why,
                      size_t whylen)
{
    huren_buf a;
    huren_buf_init(&a, ANSWER_MAX);
    long status = 0;
    int64_t *acked = calloc(b->n, sizeof *acked), *refused = calloc(b->n, sizeof *refused);
    size_t nacked = 0, nrefused = 0;
    char *body = batch_body(p, b);
    int rc = -1;
    if (!body || !acked || !refused) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    if (post(p, body, &status, &a, why, whylen) < 0)
        goto done;
    if (status != 200) {
        json_t *e = a.data ? json_loads(a.data, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(e, "error"));
        snprintf(why, whylen, "HTTP %ld%s%.200s", status, msg ? ": " : "", msg ? msg : "");
        json_decref(e);
        goto done;
    }
    if (answer_apply(p, b, a.data ? a.data : "", acked, &nacked, refused, &nrefused, why, whylen) <
        0)
        goto done;
    int64_t later = (int64_t)time(NULL) + p->cfg->dir_retry_max_ms / 1000 + 1;
    if ((rc = huren_index_outbox_ack(p->index, acked, nacked)) == 0)
        rc = huren_index_outbox_defer(p->index, refused, nrefused, later,
                                      "refused by the directory");
    if (rc < 0) {
        snprintf(why, whylen, "outbox: %s", huren_index_errmsg(p->index));
        rc = -1;
        goto done;
    }
    atomic_fetch_add(&p->sent, nacked);
    atomic_fetch_add(&p->refused, nrefused);
    rc = 0;
done:
    huren_buf_free(&a);
    free(body);
    free(acked);
    free(refused);
    return rc;
}

/* Sleep ms, or less when asked to stop. Returns 1 when stopping. */
static int pause_ms(struct publisher *p, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) != ETIMEDOUT)
        ;
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return stop;
}

static void note(struct publisher *p, int ok, const char *why)
{
    pthread_mutex_lock(&p->mu);
    if (ok) {
        p->last_success = time(NULL);
    } else {
        p->last_error_at = time(NULL);
        snprintf(p->last_error, sizeof p->last_error, "%.255s", why);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *sender_main(void *arg)
{
    struct publisher *p = arg;
    const config *c = p->cfg;
    long backoff = 0;
    char why[HUREN_ERRLEN];
    while (!atomic_load(&p->stopping)) {
        huren_index_outbox_batch b;
        int n =
            huren_index_outbox_fetch(p->index, (int64_t)time(NULL), (size_t)c->dir_batch_size, &b);
        if (n <= 0) {
            huren_index_outbox_batch_free(&b);
            if (n < 0)
                log_error("outbox: %s", huren_index_errmsg(p->index));
            if (pause_ms(p, c->dir_poll_ms))
                break;
            continue;
        }
        int rc = round_send(p, &b, why, sizeof why);
        huren_index_outbox_batch_free(&b);
        if (rc == 0) {
            if (backoff)
                log_info("directory reachable again");
            backoff = 0;
            note(p, 1, NULL);
            continue;
        }
        if (atomic_load(&p->stopping))
            break;
        atomic_fetch_add(&p->failures, 1);
        note(p, 0, why);
        backoff = backoff ? backoff * 2 : c->dir_retry_min_ms;
        if (backoff > c->dir_retry_max_ms)
            backoff = c->dir_retry_max_ms;
        log_warnx("sending %d entries to %s failed: %s; next try in %ld ms", n, c->dir_url, why,
                  backoff);
        if (pause_ms(p, backoff))
            break;
    }
    return NULL;
}

int sender_start(struct publisher *p, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl cannot be initialised");
        return -1;
    }
    if (pthread_create(&p->thread, NULL, sender_main, p) != 0) {
        snprintf(err, errlen, "cannot start the directory sender thread");
        curl_global_cleanup();
        return -1;
    }
    p->running = 1;
    return 0;
}

void sender_stop(struct publisher *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stopping, 1);
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->running = 0;
    curl_global_cleanup();
}
