/* client.c: libcurl handles with the gateway's rules for every outgoing request, and the
 * bounded answer body (client.h). */
#include "client.h"

static size_t discard(char *data, size_t size, size_t nmemb, void *payload)
{
    (void)data, (void)payload;
    return size * nmemb;
}

CURL *http_client_new(const http_client_opts *o)
{
    CURL *h = o && o->url ? curl_easy_init() : NULL;
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, o->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->cert && *o->cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert);
        if (o->key && *o->key)
            curl_easy_setopt(h, CURLOPT_SSLKEY, o->key);
    }
    if (o->ca && *o->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca);
    if (o->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->connect_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, o->headers);
    if (o->post_body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->post_body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, o->on_data ? o->on_data : discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, o->data);
    if (o->on_progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, o->on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, o->progress);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    return h;
}

size_t http_client_body_write(char *data, size_t size, size_t nmemb, void *payload)
{
    size_t n = size * nmemb;
    return huren_buf_add(payload, data, n) == 0 ? n : 0; /* 0 aborts the transfer */
}
