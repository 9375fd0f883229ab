/* fetch.c: the recognition feature's HTTP client: GETs towards the regional directory and the
 * holding peers, run in parallel with libcurl multi over mutual TLS, each with its own timeout
 * and size bound, so that one slow or absent peer never holds up the others. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "recognition_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    rec_fetch *f = userdata;
    size_t n = size * nmemb;
    if (f->len + n > REC_BODY_MAX) {
        snprintf(f->error, sizeof f->error, "answer larger than %d bytes", REC_BODY_MAX);
        return 0; /* aborts the transfer */
    }
    char *b = realloc(f->body, f->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + f->len, ptr, n);
    f->body = b;
    f->len += n;
    b[f->len] = 0;
    return n;
}

static CURL *easy_new(const recognition *rec, rec_fetch *f, long timeout_ms)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, f->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_PRIVATE, f);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (rec->cert && *rec->cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, rec->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, rec->key_file);
    }
    if (rec->ca && *rec->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, rec->ca);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    return h;
}

/* Record each finished transfer's outcome. */
static void collect(CURLM *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        rec_fetch *f = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        if (msg->data.result == CURLE_OK) {
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &f->status);
        } else {
            f->status = 0;
            if (!f->error[0])
                snprintf(f->error, sizeof f->error, "%s", curl_easy_strerror(msg->data.result));
        }
    }
}

int rec_fetch_all(const recognition *rec, rec_fetch *f, size_t n, long timeout_ms)
{
    CURLM *m = curl_multi_init();
    CURL **h = calloc(n ? n : 1, sizeof *h);
    int rc = -1, running = 0;
    if (!m || !h)
        goto done;
    for (size_t i = 0; i < n; i++) {
        f[i].status = 0;
        f[i].error[0] = 0;
        if (!(h[i] = easy_new(rec, &f[i], timeout_ms))) {
            snprintf(f[i].error, sizeof f[i].error, "out of memory");
            continue;
        }
        curl_multi_add_handle(m, h[i]);
    }
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(m, NULL, 0, 200, NULL) != CURLM_OK)
            break;
    } while (running);
    collect(m);
    rc = 0;
done:
    for (size_t i = 0; h && i < n; i++)
        if (h[i]) {
            curl_multi_remove_handle(m, h[i]);
            curl_easy_cleanup(h[i]);
        }
    free(h);
    if (m)
        curl_multi_cleanup(m);
    return rc;
}

void rec_fetch_clear(rec_fetch *f)
{
    if (!f)
        return;
    free(f->body);
    f->body = NULL;
    f->len = 0;
}

char *rec_url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}
