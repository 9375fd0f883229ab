/* http.c: libmicrohttpd server with a route table. Bodies are gathered up to max_body (413
 * beyond) and the reply is queued on the final call, which keeps keep-alive working. With TLS
 * (GnuTLS inside libmicrohttpd) the client certificate is verified here, before routing. */
#define LOG_COMPONENT "http"
#include "http.h"
#include "auth.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_server {
    struct MHD_Daemon *daemon;
    http_options opts;
    const http_route *routes;
    size_t nroutes;
    void *app;
    char *cert_pem, *key_pem, *ca_pem;
    atomic_uint_fast64_t requests;
};

/* Per-request state kept between libmicrohttpd's calls. */
typedef struct conn_state {
    char *body;
    size_t len, cap;
    int too_large;
} conn_state;

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (1u << 24)) {
                snprintf(err, errlen, "%s: too large for a PEM file", path);
                goto fail;
            }
            char *n = realloc(buf, cap ? cap * 2 : 8192);
            if (!n)
                goto fail;
            buf = n;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    buf[len] = 0;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static int route_match(const char *pattern, const char *path, http_request *req)
{
    req->ncaptures = 0;
    const char *p = pattern, *s = path;
    static _Thread_local char capbuf[HTTP_MAX_CAPTURES][256];
    while (*p && *s) {
        if (*p == '*') {
            const char *end = strchr(s, '/');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            if (n == 0 || n >= sizeof capbuf[0] || req->ncaptures == HTTP_MAX_CAPTURES)
                return 0;
            memcpy(capbuf[req->ncaptures], s, n);
            capbuf[req->ncaptures][n] = 0;
            req->captures[req->ncaptures] = capbuf[req->ncaptures];
            req->ncaptures++;
            s += n;
            p++;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    return *p == 0 && *s == 0;
}

static void remote_address(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

static enum MHD_Result queue(struct MHD_Connection *conn, http_response *res)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(res->body);
        return MHD_NO;
    }
    res->body = NULL;
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (res->www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, res->www_authenticate);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void audit(http_server *srv, const http_request *req, const char *action,
                  http_response *res)
{
    if (!srv->opts.audit || srv->opts.audit(srv->app, req, action, res) == 0 || res->status >= 400)
        return;
    free(res->body);
    res->body = NULL;
    http_reply_error(res, 503, "audit trail unavailable: request not served");
}

static void dispatch(http_server *srv, http_request *req, http_response *res)
{
    int path_known = 0;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const http_route *rt = &srv->routes[i];
        if (!route_match(rt->pattern, req->path, req))
            continue;
        path_known = 1;
        if (strcmp(rt->method, req->method) != 0)
            continue;
        if (!(rt->roles & req->roles)) {
            http_reply_error(res, 403, "forbidden for this client's role");
            audit(srv, req, rt->audit_action ? rt->audit_action : "http.access", res);
            return;
        }
        res->status = 200;
        if (rt->handler(req, res) < 0) {
            free(res->body);
            res->body = NULL;
            http_reply_error(res, 500, "internal error");
        }
        if (rt->audit_action)
            audit(srv, req, rt->audit_action, res);
        return;
    }
    http_reply_error(res, path_known ? 405 : 404, path_known ? "method not allowed" : "not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *srv = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > srv->opts.max_body) {
            st->too_large = 1; /* keep reading (and dropping) so the answer can be sent */
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *b = realloc(st->body, cap);
            if (!b)
                return MHD_NO;
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    atomic_fetch_add(&srv->requests, 1);
    char remote[64];
    remote_address(conn, remote, sizeof remote);
    http_request req = {.method = method, .path = url, .remote = remote, .conn = conn,
                        .app = srv->app};
    http_response res = {.status = 200};
    auth_identity who;
    int refused = auth_identify(&srv->opts, conn, remote, &who) < 0;
    req.client_dn = who.dn[0] ? who.dn : NULL;
    req.institution = who.institution[0] ? who.institution : NULL;
    req.actor = who.actor;
    req.roles = who.roles;
    if (refused) {
        log_warnx("%s %s %s: %s; refused", remote, method, url, who.refusal);
        http_reply_error(&res, who.status, who.refusal);
        res.www_authenticate = who.challenge;
        snprintf(res.audit_object, sizeof res.audit_object, "%.10s %.100s: %.120s", method, url,
                 who.refusal);
        audit(srv, &req, "http.authenticate", &res);
        return queue(conn, &res);
    }
    if (st->too_large) {
        http_reply_error(&res, 413, "request body too large");
    } else {
        if (st->body)
            st->body[st->len] = 0;
        req.body = st->body ? st->body : "";
        req.body_len = st->len;
        dispatch(srv, &req, &res);
    }
    log_debug("%s %s %s -> %d", remote, method, url, res.status);
    return queue(conn, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    log_emitv(LOG_LEVEL_WARN, LOG_COMPONENT, 0, fmt, ap);
}

int http_server_start(http_server **out, const http_options *opts, const http_route *routes,
                      size_t nroutes, void *app, char *err, size_t errlen)
{
    *out = NULL;
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->opts = *opts;
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->app = app;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, opts->bind_address, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, opts->bind_address, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "bad bind address %s", opts->bind_address);
        goto fail;
    }
    int tls = opts->tls_cert && opts->tls_cert[0];
    if (tls) {
        flags |= MHD_USE_TLS;
        if (!(srv->cert_pem = read_file(opts->tls_cert, err, errlen)) ||
            !(srv->key_pem = read_file(opts->tls_key, err, errlen)))
            goto fail;
        if (opts->tls_client_ca && opts->tls_client_ca[0] &&
            !(srv->ca_pem = read_file(opts->tls_client_ca, err, errlen)))
            goto fail;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem},
        {srv->ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, srv->ca_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot start HTTP%s server on %s port %d (in use, or bad TLS files)",
                 tls ? "S" : "", opts->bind_address, opts->port);
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    http_server_stop(srv);
    return -1;
}

int http_server_port(const http_server *srv)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

uint64_t http_server_requests(const http_server *srv)
{
    return atomic_load(&((http_server *)srv)->requests);
}

void http_server_stop(http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    free(srv->cert_pem);
    free(srv->key_pem);
    free(srv->ca_pem);
    free(srv);
}

const char *http_request_arg(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_reply_json(http_response *res, int status, char *json_text)
{
    if (!json_text)
        return -1;
    free(res->body);
    res->status = status;
    res->body = json_text;
    res->body_len = strlen(json_text);
    res->content_type = "application/json";
    return 0;
}

int http_reply_text(http_response *res, int status, const char *content_type, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        return -1;
    free(res->body);
    res->status = status;
    res->body = copy;
    res->body_len = strlen(copy);
    res->content_type = content_type;
    return 0;
}

int http_reply_error(http_response *res, int status, const char *message)
{
    json_t *o = json_pack("{s:s, s:i}", "error", message, "status", status);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return http_reply_json(res, status, text);
}
