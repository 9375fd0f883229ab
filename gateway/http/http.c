/* http.c: libmicrohttpd server with a route table. Bodies are gathered up to max_body (413
 * beyond), or streamed to a sink for body routes; the reply is queued on the final call, which
 * keeps keep-alive working, and may itself be streamed from a callback. With TLS (GnuTLS inside
 * libmicrohttpd) the client certificate is verified here, before routing. */
#define LOG_COMPONENT "http"
#include "http.h"
#include "http_int.h"
#include "huren_buf.h"
#include "auth.h"
#include "cors.h"
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
#include <time.h>
#include <strings.h>

/* Route families for the answer counters: the first pattern that is a prefix of the path
 * (whole segments, '*' = one segment) names it. Bounded, so that /metrics stays small. */
static const struct {
    const char *prefix;
    const char *family;
} families[] = {
    {"/dicom-web", "dicomweb"},
    {"/wado", "dicomweb"},
    {"/api/v1/consents", "consents"},
    {"/api/v1/patients/*/consents", "consents"},
    {"/api/v1/patients", "records"},
    {"/api/v1/reports", "records"},
    {"/api/v1/claims", "claims"},
    {"/api/v1/recognition", "recognition"},
    {"/api/v1/retrievals", "retrievals"},
    {"/api/v1/directory", "directory"},
    {"/api/v1/audit", "audit"},
    {"/api/v1/health", "health"},
    {"/metrics", "health"},
    {"/healthz", "health"},
    {"/readyz", "health"},
    {"/ui", "ui"},
};
static const char *const family_names[HTTP_FAMILIES] = {
    "dicomweb",  "consents", "records", "claims", "recognition", "retrievals",
    "directory", "audit",    "health",  "ui",     "other"};

/* Upper bounds (seconds) of the latency histogram's buckets; the last one is +Inf. */
static const double duration_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define NBOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

typedef struct route_stats {
    atomic_uint_fast64_t answers[4];           /* 2xx..5xx */
    atomic_uint_fast64_t buckets[NBOUNDS + 1]; /* not cumulative; the last is +Inf */
    atomic_uint_fast64_t micros;               /* sum of durations */
} route_stats;

/* Per-request state kept between libmicrohttpd's calls. */
typedef struct conn_state {
    huren_buf body;          /* a buffered body (bounded by max_body before it is written) */
    struct timespec started; /* the first call for this request */
    int too_large;
    const http_body_sink *sink; /* streamed body: the sink and its context */
    void *sink_ctx;
} conn_state;

/* A streamed response as libmicrohttpd's content reader sees it. */
typedef struct stream_state {
    http_stream_read read;
    void *cls;
    void (*free_cls)(void *cls);
} stream_state;

#define STREAM_BLOCK (1024 * 1024)

char *http__read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    huren_buf b;
    huren_buf_init(&b, 1u << 24);
    int rc = huren_buf_read(&b, f);
    fclose(f);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == HUREN_BUF_ETOOBIG ? "too large for a PEM file"
                 : rc == HUREN_BUF_EIO   ? "read error"
                                         : "out of memory");
        huren_buf_free(&b);
        return NULL;
    }
    return huren_buf_release(&b);
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

/* The methods routed at path, as an Allow header lists them ("GET, POST, OPTIONS"; "*" is
 * the whole server). Returns how many routes matched (0: path unknown). */
static size_t allowed_methods(http_server *srv, const char *path, char *out, size_t len)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    http_request scratch = {0};
    size_t found = 0, used = 0;
    out[0] = 0;
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        int has = 0;
        for (size_t i = 0; i < srv->nroutes && !has; i++)
            has = strcmp(srv->routes[i].method, methods[m]) == 0 &&
                  (strcmp(path, "*") == 0 || route_match(srv->routes[i].pattern, path, &scratch));
        if (!has)
            continue;
        found++;
        used += (size_t)snprintf(out + used, len - used, "%s, ", methods[m]);
    }
    if (found)
        snprintf(out + used, len - used, "OPTIONS");
    return found;
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

static ssize_t stream_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_state *ss = cls;
    ssize_t n = ss->read(ss->cls, pos, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free_cb(void *cls)
{
    stream_state *ss = cls;
    if (ss->free_cls)
        ss->free_cls(ss->cls);
    free(ss);
}

static void release_stream(http_response *res)
{
    if (res->stream_read && res->stream_free)
        res->stream_free(res->stream_cls);
    res->stream_read = NULL;
    res->stream_free = NULL;
    res->stream_cls = NULL;
}

static struct MHD_Response *make_stream_response(http_response *res)
{
    stream_state *ss = malloc(sizeof *ss);
    if (!ss) {
        release_stream(res);
        return NULL;
    }
    *ss = (stream_state){res->stream_read, res->stream_cls, res->stream_free};
    res->stream_read = NULL; /* ss owns it from here */
    uint64_t size = res->stream_size == HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : res->stream_size;
    struct MHD_Response *r =
        MHD_create_response_from_callback(size, STREAM_BLOCK, stream_read_cb, ss, stream_free_cb);
    if (!r)
        stream_free_cb(ss);
    return r;
}

static int prefix_match(const char *p, const char *s)
{
    while (*p) {
        if (*p == '*') {
            size_t n = strcspn(s, "/");
            if (n == 0)
                return 0;
            s += n;
            p++;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    return *s == 0 || *s == '/';
}

static size_t family_of(const char *path)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (prefix_match(families[i].prefix, path))
            for (size_t f = 0; f < HTTP_FAMILIES; f++)
                if (strcmp(family_names[f], families[i].family) == 0)
                    return f;
    return HTTP_FAMILIES - 1; /* "other" */
}

const char *http_family_name(size_t family)
{
    return family < HTTP_FAMILIES ? family_names[family] : "other";
}

uint64_t http_server_answers(const http_server *srv, size_t family, int status_class)
{
    if (family >= HTTP_FAMILIES || status_class < 2 || status_class > 5)
        return 0;
    return atomic_load(&((http_server *)srv)->answers[family][status_class - 2]);
}

static enum MHD_Result queue(struct MHD_Connection *conn, http_response *res)
{
    struct MHD_Response *r;
    if (res->stream_read) {
        free(res->body);
        res->body = NULL;
        r = make_stream_response(res);
    } else {
        r = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(res->body);
    }
    res->body = NULL;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (size_t i = 0; i < res->nheaders; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    if (res->www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, res->www_authenticate);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Every answer goes out here: the CORS headers of its path and origin, then the queue. */
/* OPTIONS: answered from the route table and the CORS policy alone, before authentication
 * (a browser's preflight carries no credentials), never running a route nor audited. */
static void options(http_server *srv, const http_request *req, http_response *res)
{
    char allow[128];
    if (allowed_methods(srv, req->path, allow, sizeof allow) == 0) {
        http_reply_error(res, 404, "not found");
        return;
    }
    if (cors_options(srv->opts.cors_origins, req, allow, res) < 0)
        http_reply_error(res, 500, "internal error");
}

static void audit(http_server *srv, const http_request *req, const char *action, http_response *res)
{
    if (!srv->opts.audit || srv->opts.audit(srv->app, req, action, res) == 0 || res->status >= 400)
        return;
    free(res->body);
    res->body = NULL;
    http_reply_error(res, 503, "audit trail unavailable: request not served");
}

/* Route req and run its handler. Returns the route's index, or -1 when none matched. */
static int dispatch(http_server *srv, http_request *req, http_response *res)
{
    int path_known = 0;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const http_route *rt = &srv->routes[i];
        if (!route_match(rt->pattern, req->path, req))
            continue;
        path_known = 1;
        if (strcmp(rt->method, req->method) != 0)
            continue;
        if (!(rt->roles & (req->roles | HTTP_ROLE_ANYONE))) {
            http_reply_error(res, 403, "forbidden for this client's role");
            audit(srv, req, rt->audit_action ? rt->audit_action : "http.access", res);
            return (int)i;
        }
        res->status = 200;
        if (http_session_guard_request(req, res) < 0) {
            audit(srv, req, rt->audit_action ? rt->audit_action : "http.access", res);
            return (int)i;
        }
        if (rt->handler(req, res) < 0) {
            free(res->body);
            res->body = NULL;
            release_stream(res);
            res->nheaders = 0;
            http_reply_error(res, 500, "internal error");
        }
        http_session_guard_answer(req, rt->audit_action, res);
        if (rt->audit_action)
            audit(srv, req, rt->audit_action, res);
        return (int)i;
    }
    http_reply_error(res, path_known ? 405 : 404, path_known ? "method not allowed" : "not found");
    char allow[128];
    if (path_known && allowed_methods(srv, req->path, allow, sizeof allow) > 0)
        http_response_header(res, "Allow", allow);
    return -1;
}

/* A route that anyone may call, unidentified (HTTP_ROLE_ANYONE)? */
static int open_route(http_server *srv, const char *method, const char *path)
{
    http_request scratch = {.path = path};
    for (size_t i = 0; i < srv->nroutes; i++)
        if ((srv->routes[i].roles & HTTP_ROLE_ANYONE) &&
            strcmp(srv->routes[i].method, method) == 0 &&
            route_match(srv->routes[i].pattern, path, &scratch))
            return 1;
    return 0;
}

static void route_count(http_server *srv, int route, int status, const struct timespec *t0)
{
    if (route < 0 || !srv->rstats)
        return;
    route_stats *rs = &srv->rstats[route];
    int c = status / 100;
    if (c >= 2 && c <= 5)
        atomic_fetch_add(&rs->answers[c - 2], 1);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
    size_t b = 0;
    while (b < NBOUNDS && secs > duration_bounds[b])
        b++;
    atomic_fetch_add(&rs->buckets[b], 1);
    atomic_fetch_add(&rs->micros, (uint_fast64_t)(secs * 1e6));
}

void http_server_route_metrics(const http_server *srv, huren_buf *out)
{
    huren_buf_adds(out, "# HELP huren_http_route_responses_total HTTP answers by route and status "
                        "class.\n# TYPE huren_http_route_responses_total counter\n");
    for (size_t i = 0; srv && i < srv->nroutes; i++)
        for (int c = 0; c < 4; c++) {
            uint64_t v = atomic_load(&srv->rstats[i].answers[c]);
            if (v)
                huren_buf_printf(out,
                                 "huren_http_route_responses_total{method=\"%s\",route=\"%s\","
                                 "class=\"%dxx\"} %llu\n",
                                 srv->routes[i].method, srv->routes[i].pattern, c + 2,
                                 (unsigned long long)v);
        }
    huren_buf_adds(out, "# HELP huren_http_route_duration_seconds Time from a request's first "
                        "byte to its answer, by route.\n"
                        "# TYPE huren_http_route_duration_seconds histogram\n");
    for (size_t i = 0; srv && i < srv->nroutes; i++) {
        route_stats *rs = &srv->rstats[i];
        uint64_t cum = 0, counts[NBOUNDS + 1];
        for (size_t b = 0; b <= NBOUNDS; b++)
            cum += counts[b] = atomic_load(&rs->buckets[b]);
        if (!cum)
            continue;
        const char *m = srv->routes[i].method, *r = srv->routes[i].pattern;
        uint64_t run = 0;
        for (size_t b = 0; b < NBOUNDS; b++) {
            run += counts[b];
            huren_buf_printf(out,
                             "huren_http_route_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                             "le=\"%g\"} %llu\n",
                             m, r, duration_bounds[b], (unsigned long long)run);
        }
        huren_buf_printf(
            out,
            "huren_http_route_duration_seconds_bucket{method=\"%s\",route=\"%s\","
            "le=\"+Inf\"} %llu\n"
            "huren_http_route_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
            "huren_http_route_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
            m, r, (unsigned long long)cum, m, r, (double)atomic_load(&rs->micros) / 1e6, m, r,
            (unsigned long long)cum);
    }
}

static const http_body_route *body_route(http_server *srv, const char *method, const char *url)
{
    http_request scratch = {0};
    for (size_t i = 0; i < srv->opts.nbody_routes; i++) {
        const http_body_route *br = &srv->opts.body_routes[i];
        if (strcmp(br->method, method) == 0 && route_match(br->pattern, url, &scratch))
            return br;
    }
    return NULL;
}

/* The route of method and req->path (filling req's captures), or NULL. */
static const http_route *find_route(http_server *srv, const char *method, http_request *req)
{
    for (size_t i = 0; i < srv->nroutes; i++)
        if (strcmp(srv->routes[i].method, method) == 0 &&
            route_match(srv->routes[i].pattern, req->path, req))
            return &srv->routes[i];
    return NULL;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* libmicrohttpd's unescape callback for the path and each query key and value: %XX decoded
 * as the library does, but a %00 (which would silently cut the text) and a '%' without two
 * hex digits become 0xFF, a byte no UTF-8 text holds, so that request_malformed() refuses
 * them with the invalid UTF-8 they are. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        if (*r != '%') {
            *w++ = *r++;
            continue;
        }
        int hi = hex_digit(r[1]), lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            *w++ = (char)0xFF;
            r += hi < 0 ? 1 : 2;
            continue;
        }
        *w++ = (char)(hi << 4 | lo);
        r += 3;
    }
    *w = 0;
    return (size_t)(w - s);
}

static enum MHD_Result arg_check(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    int *bad = cls;
    if (!http_text_valid(key, key_size) || (value && !http_text_valid(value, value_size))) {
        *bad = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

/* A path or query string that is not UTF-8 text (invalid bytes, NUL or other control bytes,
 * a bad percent-escape): answered 400 in res and audited as "http.bad_request"; 1 if so. */
static int request_malformed(http_server *srv, http_request *req, http_response *res)
{
    int bad = !http_text_valid(req->path, strlen(req->path));
    if (!bad)
        MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, arg_check, &bad);
    if (!bad)
        return 0;
    const char *why = "the path or query string is not UTF-8 text (invalid byte, control "
                      "character or bad percent-escape)";
    char path[160];
    http_utf8_clean(path, sizeof path, req->path);
    log_debug("%s %s %s: %s; refused", req->remote, req->method, path, why);
    http_reply_error(res, 400, why);
    snprintf(res->audit_object, sizeof res->audit_object, "%.10s %s: malformed request",
             req->method, path);
    audit(srv, req, "http.bad_request", res);
    return 1;
}

/* Identify the client into req (who must outlive req). On refusal res holds the answer
 * (401/403, audited as "http.authenticate") and -1 is returned. */
static int identify(http_server *srv, struct MHD_Connection *conn, http_request *req,
                    auth_identity *who, http_response *res)
{
    int refused = auth_identify(&srv->opts, conn, req->remote, who) < 0;
    req->client_dn = who->dn[0] ? who->dn : NULL;
    req->institution = who->institution[0] ? who->institution : NULL;
    req->actor = who->actor;
    req->roles = who->roles;
    req->session = who->has_session ? &who->session : NULL;
    if (!refused)
        return 0;
    log_warnx("%s %s %s: %s; refused", req->remote, req->method, req->path, who->refusal);
    http_reply_error(res, who->status, who->refusal);
    res->www_authenticate = who->challenge;
    snprintf(res->audit_object, sizeof res->audit_object, "%.10s %.100s: %.120s", req->method,
             req->path, who->refusal);
    audit(srv, req, "http.authenticate", res);
    return -1;
}

/* Count the answer by family and class, then queue it. */
/* Every answer: CORS headers for a listed origin, counted by route family and status class. */
static enum MHD_Result answer(http_server *srv, const http_request *req, http_response *res)
{
    int c = res->status / 100;
    cors_response_headers(srv->opts.cors_origins, req, res);
    if (c >= 2 && c <= 5)
        atomic_fetch_add(&srv->answers[family_of(req->path)][c - 2], 1);
    return queue(req->conn, res);
}

/* First call of a streamed-body route: identify the client and let the sink accept or refuse
 * before any body byte is read (so a 10 GB body over the limit is refused from its headers).
 * Refusals are audited like the answers of dispatch(). */
static enum MHD_Result open_sink(http_server *srv, struct MHD_Connection *conn, const char *url,
                                 const char *method, conn_state *st, const http_body_route *br)
{
    char remote[64];
    remote_address(conn, remote, sizeof remote);
    http_request req = {
        .method = method, .path = url, .remote = remote, .conn = conn, .app = srv->app};
    http_response res = {.status = 200};
    auth_identity who;
    const http_route *rt;
    if (identify(srv, conn, &req, &who, &res) < 0 || request_malformed(srv, &req, &res))
        goto refuse;
    if (!(rt = find_route(srv, method, &req)))
        return MHD_YES; /* not routed: dispatch() answers once the body is in */
    if (!(rt->roles & req.roles)) {
        http_reply_error(&res, 403, "forbidden for this client's role");
        audit(srv, &req, rt->audit_action ? rt->audit_action : "http.access", &res);
        goto refuse;
    }
    if (br->sink->open(&req, &res, &st->sink_ctx) < 0) {
        st->sink_ctx = NULL;
        if (rt->audit_action)
            audit(srv, &req, rt->audit_action, &res);
        goto refuse;
    }
    st->sink = br->sink;
    return MHD_YES;
refuse:
    atomic_fetch_add(&srv->requests, 1);
    log_debug("%s %s %s -> %d (before the body)", remote, method, url, res.status);
    return answer(srv, &req, &res);
}

static int buffer_body(http_server *srv, conn_state *st, const char *data, size_t n)
{
    if (st->sink)
        return st->sink->write(st->sink_ctx, data, n) < 0 ? -1 : 0;
    if (st->too_large || st->body.len + n > srv->opts.max_body) {
        st->too_large = 1; /* keep reading (and dropping) so the answer can be sent */
        return 0;
    }
    return huren_buf_add(&st->body, data, n) < 0 ? -1 : 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    http_server *srv = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (st)
            clock_gettime(CLOCK_MONOTONIC, &st->started);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        const http_body_route *br = body_route(srv, method, url);
        return br ? open_sink(srv, conn, url, method, st, br) : MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return buffer_body(srv, st, upload_data, n) < 0 ? MHD_NO : MHD_YES;
    }
    atomic_fetch_add(&srv->requests, 1);
    char remote[64];
    remote_address(conn, remote, sizeof remote);
    http_request req = {.method = method,
                        .path = url,
                        .remote = remote,
                        .conn = conn,
                        .app = srv->app,
                        .body_ctx = st->sink_ctx};
    http_response res = {.status = 200};
    auth_identity who;
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        options(srv, &req, &res);
        log_debug("%s OPTIONS %s -> %d", remote, url, res.status);
        return answer(srv, &req, &res);
    }
    if (open_route(srv, method, url)) {
        req.actor = "anonymous"; /* a probe: no identification asked, nothing to audit */
    } else if (identify(srv, conn, &req, &who, &res) < 0 || request_malformed(srv, &req, &res)) {
        return answer(srv, &req, &res);
    }
    int route = -1;
    if (st->too_large) {
        http_reply_error(&res, 413, "request body too large");
    } else {
        req.body = st->body.data ? st->body.data : "";
        req.body_len = st->body.len;
        route = dispatch(srv, &req, &res);
    }
    /* a cloud film path holds its credential (/s/{token}...): never logged */
    log_debug("%s %s %s -> %d", remote, method, strncmp(url, "/s/", 3) == 0 ? "/s/(token)" : url,
              res.status);
    route_count(srv, route, res.status, &st->started);
    return answer(srv, &req, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *st = *con_cls;
    if (st) {
        if (st->sink)
            st->sink->close(st->sink_ctx);
        huren_buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    log_emitv(LOG_LEVEL_WARN, LOG_COMPONENT, 0, fmt, ap);
}

struct MHD_Daemon *http__daemon_start(http_server *srv, int listen_fd, const char *cert_pem,
                                      const char *key_pem, const char *ca_pem)
{
    unsigned flags = srv->flags | (cert_pem ? MHD_USE_TLS : 0);
    struct MHD_OptionItem place[] = {
        /* a reload takes over the listening socket of the daemon it replaces */
        listen_fd >= 0 ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL}
                       : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &srv->addr},
        {cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key_pem},
        {ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)ca_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(
        flags, (uint16_t)srv->opts.port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)srv->opts.threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_ARRAY, place, MHD_OPTION_END);
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
    srv->rstats = calloc(nroutes ? nroutes : 1, sizeof *srv->rstats);
    if (!srv->rstats) {
        free(srv);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->app = app;

    struct sockaddr_storage *ss = &srv->addr;
    /* ITC: MHD_quiesce_daemon (a TLS reload, http/tls_reload.c) needs it with a thread pool */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
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
        if (!(srv->cert_pem = http__read_file(opts->tls_cert, err, errlen)) ||
            !(srv->key_pem = http__read_file(opts->tls_key, err, errlen)))
            goto fail;
        if (opts->tls_client_ca && opts->tls_client_ca[0] &&
            !(srv->ca_pem = http__read_file(opts->tls_client_ca, err, errlen)))
            goto fail;
    }
    srv->flags = flags;
    /* handlers may read *out (the node's http, for /metrics) as soon as the first thread
     * runs: set it before they start, not after */
    *out = srv;
    srv->daemon = http__daemon_start(srv, -1, srv->cert_pem, srv->key_pem, srv->ca_pem);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot start HTTP%s server on %s port %d (in use, or bad TLS files)",
                 tls ? "S" : "", opts->bind_address, opts->port);
        goto fail;
    }
    return 0;
fail:
    *out = NULL;
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
    http__retired_stop(srv, 0);
    free(srv->cert_pem);
    free(srv->key_pem);
    free(srv->ca_pem);
    free(srv->rstats);
    free(srv);
}

/* A pair of a request made without a connection (see http_request.direct_args). */
static const char *direct(const char *const *pairs, size_t n, const char *name, int nocase)
{
    for (size_t i = 0; i < n; i++)
        if ((nocase ? strcasecmp : strcmp)(pairs[2 * i], name) == 0)
            return pairs[2 * i + 1];
    return NULL;
}

const char *http_request_arg(const http_request *req, const char *name)
{
    if (!req->conn)
        return direct(req->direct_args, req->ndirect_args, name, 0);
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_reply_json(http_response *res, int status, char *json_text)
{
    if (!json_text)
        return -1;
    free(res->body);
    release_stream(res);
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
    release_stream(res);
    res->status = status;
    res->body = copy;
    res->body_len = strlen(copy);
    res->content_type = content_type;
    return 0;
}

int http_reply_error(http_response *res, int status, const char *message)
{
    /* the message often echoes input: clean it so that jansson always takes it */
    size_t cap = 3 * strlen(message ? message : "") + 1;
    char *clean = malloc(cap);
    json_t *o = NULL;
    if (clean) {
        http_utf8_clean(clean, cap, message);
        o = json_pack("{s:s, s:i}", "error", clean, "status", status);
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(clean);
    return http_reply_json(res, status, text);
}

const char *http_request_header(const http_request *req, const char *name)
{
    if (!req->conn)
        return direct(req->direct_headers, req->ndirect_headers, name, 1);
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

typedef struct args_ctx {
    int (*cb)(void *payload, const char *key, const char *value);
    void *payload;
    int rc;
} args_ctx;

static enum MHD_Result args_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    args_ctx *a = cls;
    a->rc = a->cb(a->payload, key, value ? value : "");
    return a->rc ? MHD_NO : MHD_YES;
}

int http_request_args(const http_request *req,
                      int (*cb)(void *payload, const char *key, const char *value), void *payload)
{
    args_ctx a = {cb, payload, 0};
    if (!req->conn) {
        for (size_t i = 0; i < req->ndirect_args && !a.rc; i++)
            a.rc = cb(payload, req->direct_args[2 * i],
                      req->direct_args[2 * i + 1] ? req->direct_args[2 * i + 1] : "");
        return a.rc;
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, args_iter, &a);
    return a.rc;
}

int http_response_header(http_response *res, const char *name, const char *value)
{
    if (res->nheaders == HTTP_MAX_HEADERS || strlen(name) >= sizeof res->headers[0].name ||
        strlen(value) >= sizeof res->headers[0].value)
        return -1;
    snprintf(res->headers[res->nheaders].name, sizeof res->headers[0].name, "%s", name);
    snprintf(res->headers[res->nheaders].value, sizeof res->headers[0].value, "%s", value);
    res->nheaders++;
    return 0;
}

static void set_content_type(http_response *res, const char *content_type)
{
    snprintf(res->content_type_buf, sizeof res->content_type_buf, "%s", content_type);
    res->content_type = res->content_type_buf;
}

int http_reply_stream(http_response *res, int status, const char *content_type, uint64_t size,
                      http_stream_read read, void *cls, void (*free_cls)(void *cls))
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    release_stream(res);
    res->status = status;
    set_content_type(res, content_type);
    res->stream_read = read;
    res->stream_cls = cls;
    res->stream_free = free_cls;
    res->stream_size = size;
    return 0;
}

int http_reply_buffer(http_response *res, int status, const char *content_type, char *body,
                      size_t len)
{
    free(res->body);
    release_stream(res);
    res->status = status;
    res->body = body;
    res->body_len = len;
    set_content_type(res, content_type);
    return 0;
}
