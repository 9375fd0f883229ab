/* http_int.h: the server's state, shared by http.c (requests) and tls_reload.c (a new
 * certificate for new connections). Not included outside http/. */
#ifndef HUREN_GATEWAY_HTTP_INT_H
#define HUREN_GATEWAY_HTTP_INT_H

#include "http.h"

#include <stdatomic.h>
#include <sys/socket.h>

struct MHD_Daemon;
struct route_stats;

#define HTTP_MAX_RETIRED 32 /* daemons replaced by reloads, still serving their connections */

typedef struct http_retired {
    struct MHD_Daemon *daemon;
    char *cert_pem, *key_pem, *ca_pem; /* what it was started with */
} http_retired;

struct http_server {
    struct MHD_Daemon *daemon; /* accepts new connections */
    http_options opts;
    const http_route *routes;
    size_t nroutes;
    void *app;
    unsigned flags;               /* libmicrohttpd's, without MHD_USE_TLS */
    struct sockaddr_storage addr; /* where it binds */
    char *cert_pem, *key_pem, *ca_pem;
    http_retired retired[HTTP_MAX_RETIRED];
    size_t nretired;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t answers[HTTP_FAMILIES][4]; /* by family and class 2xx..5xx */
    struct route_stats *rstats;                     /* one per route of the table */
};

/* http.c: a daemon of srv with these PEMs (NULL cert: plain HTTP), binding srv->addr or, with
 * listen_fd >= 0, taking over that listening socket. NULL if it cannot start. */
struct MHD_Daemon *http__daemon_start(http_server *srv, int listen_fd, const char *cert_pem,
                                      const char *key_pem, const char *ca_pem);
/* http.c: a whole (PEM) file, NUL-terminated, malloc'd; NULL with err set. */
char *http__read_file(const char *path, char *err, size_t errlen);
/* tls_reload.c: stop the retired daemons (only_idle: those without connections), free them. */
void http__retired_stop(http_server *srv, int only_idle);

#endif
