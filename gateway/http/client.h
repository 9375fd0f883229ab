/* client.h: the one HTTP client setup of the gateway. Every outgoing request (to the regional
 * directory, to peer hospitals for recognition and retrieval) gets its libcurl handle here, with
 * the same rules: mutual TLS with the node's certificate when one is given, peer and host
 * verified, https or http only, no redirects, no proxy, no signals, a total and a connect
 * timeout; and answers read into a bounded buffer (common/huren_buf.h). */
#ifndef HUREN_GATEWAY_HTTP_CLIENT_H
#define HUREN_GATEWAY_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

#include "huren_buf.h"

typedef size_t (*http_client_write_fn)(char *data, size_t size, size_t nmemb, void *payload);
typedef int (*http_client_progress_fn)(void *payload, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

typedef struct http_client_opts {
    const char *url;
    const char *cert, *key; /* client certificate and key (PEM); NULL or "": none */
    const char *ca;         /* CA bundle that signs the server; NULL or "": the system's */
    long timeout_ms;        /* the whole transfer; 0: none */
    long connect_timeout_ms;
    struct curl_slist *headers;   /* owned by the caller, alive until the handle is cleaned up */
    const char *post_body;        /* set: a POST of this NUL-terminated body */
    http_client_write_fn on_data; /* the answer's bytes; NULL: discarded */
    void *data;
    http_client_progress_fn on_progress; /* non-zero return aborts; NULL: none */
    void *progress;
} http_client_opts;

/* A handle set up from o, for curl_easy_perform() or a multi handle; NULL when libcurl cannot
 * make one. The caller cleans it up. */
CURL *http_client_new(const http_client_opts *o);

/* The write callback that reads an answer into a huren_buf (payload; its max bounds it):
 * aborts the transfer past max (failed = HUREN_BUF_ETOOBIG) or when out of memory. */
size_t http_client_body_write(char *data, size_t size, size_t nmemb, void *payload);

#endif
