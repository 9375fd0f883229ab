/* fetch.c: the recognition feature's HTTP client: GETs towards the regional directory and the
 * holding peers, run in parallel with libcurl multi over mutual TLS, each with its own timeout
 * and size bound, so that one slow or absent peer never holds up the others. */
#define LOG_COMPONENT "recognition"
#include "http/client.h"
#include "log.h"
#include "recognition_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CURL *easy_new(const recognition *rec, rec_fetch *f, long timeout_ms)
{
    f->body.max = REC_BODY_MAX;
    http_client_opts o = {
        .url = f->url,
        .cert = rec->cert,
        .key = rec->key_file,
        .ca = rec->ca,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = timeout_ms,
        .on_data = http_client_body_write,
        .data = &f->body,
    };
    CURL *h = http_client_new(&o);
    if (h)
        curl_easy_setopt(h, CURLOPT_PRIVATE, f);
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
            if (f->body.failed == HUREN_BUF_ETOOBIG)
                snprintf(f->error, sizeof f->error, "answer larger than %d bytes", REC_BODY_MAX);
            else if (!f->error[0])
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
    huren_buf_free(&f->body);
}

char *rec_url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}
