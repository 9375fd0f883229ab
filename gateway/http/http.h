/* http.h: the node's HTTP(S) server over libmicrohttpd. Routes requests by method and path
 * pattern to handlers that fill a response; bounds request bodies; with TLS, verifies client
 * certificates against the configured CA before any handler runs. */
#ifndef HUREN_GATEWAY_HTTP_H
#define HUREN_GATEWAY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_CAPTURES 4

/* Who is asking, as established by the transport (loopback, client certificate). */
typedef enum http_role {
    HTTP_ROLE_NONE = 0,
    HTTP_ROLE_CLINICIAN = 1 << 0,
    HTTP_ROLE_PEER = 1 << 1,
    HTTP_ROLE_INSURER = 1 << 2,
    HTTP_ROLE_ADMIN = 1 << 3,
    /* the province's platform operator at the directory: reference data, flags, statistics;
     * never a patient's records ([client] role = operator) */
    HTTP_ROLE_OPERATOR = 1 << 4,
    /* a hospital information system calling the order check ([client] role = his) */
    HTTP_ROLE_HIS = 1 << 6,
    /* a doctor in a browser session a HIS launch opened (http/session.h): one patient only */
    HTTP_ROLE_HIS_DOCTOR = 1 << 7,
} http_role;
#define HTTP_ROLES_ALL                                                                             \
    (HTTP_ROLE_CLINICIAN | HTTP_ROLE_PEER | HTTP_ROLE_INSURER | HTTP_ROLE_ADMIN | HTTP_ROLE_HIS |  \
     HTTP_ROLE_HIS_DOCTOR | HTTP_ROLE_OPERATOR)
#define HTTP_ROLES_STAFF (HTTP_ROLE_CLINICIAN | HTTP_ROLE_ADMIN)
/* A route flag, not a role: anyone may call it, unidentified (probes: /healthz, /readyz). Such
 * a route must reveal nothing about patients. */
#define HTTP_ROLE_ANYONE (1u << 8)

typedef struct http_request {
    const char *method;
    const char *path;
    const char *remote;      /* numeric address of the client */
    const char *client_dn;   /* verified client certificate subject, or NULL */
    const char *institution; /* institution code of the client (from auth.c), or NULL */
    const char *actor;       /* who, for the audit trail: client name, subject, "loopback" */
    unsigned roles;          /* HTTP_ROLE_* the client holds */
    /* a HIS-launched browser session (http/session.h), or NULL: the doctor and the one
     * patient the request is bound to */
    const struct http_session *session;
    const char *captures[HTTP_MAX_CAPTURES]; /* path segments matched by '*' in the route */
    size_t ncaptures;
    const char *body; /* request body (NUL-terminated), bounded by max_body */
    size_t body_len;
    void *conn;     /* the library's connection, for http_request_arg() */
    void *app;      /* the application context given to http_server_start */
    void *body_ctx; /* streamed-body routes: the context the body sink opened */
    /* Without a connection (conn NULL: unit tests and fuzz targets call handlers directly),
     * the query arguments and headers are these name/value pairs ([2i] name, [2i+1] value). */
    const char *const *direct_args;
    size_t ndirect_args;
    const char *const *direct_headers;
    size_t ndirect_headers;
} http_request;

/* A streamed response body: fill buf with up to max bytes from position pos (called in order);
 * return the count, 0 at the end, or -1 on error (the connection is then closed). */
typedef ssize_t (*http_stream_read)(void *cls, uint64_t pos, char *buf, size_t max);
#define HTTP_SIZE_UNKNOWN UINT64_MAX
#define HTTP_MAX_HEADERS 12

typedef struct http_response {
    int status;
    char *body; /* owned, freed by the server */
    size_t body_len;
    const char *content_type; /* static string */
    /* For the audit trail: the patient and the object (study UID, report id, ...) this answer
     * concerned. Handlers that touch patient data fill them; empty otherwise. */
    char audit_patient[128];
    char audit_object[256];
    /* Streamed body (http_reply_stream), used instead of body when stream_read is set. */
    http_stream_read stream_read;
    void *stream_cls;
    void (*stream_free)(void *cls); /* called once when the server is done with stream_cls */
    uint64_t stream_size;           /* HTTP_SIZE_UNKNOWN: chunked */
    char content_type_buf[256];     /* for content types with parameters (boundary, ...) */
    struct {
        char name[64];
        char value[448];
    } headers[HTTP_MAX_HEADERS]; /* extra response headers (http_response_header) */
    size_t nheaders;
    const char *www_authenticate; /* static string: a WWW-Authenticate header (401) */
} http_response;

/* A handler fills res (status defaults to 200) and returns 0, or -1 for an internal error
 * (answered 500). */
typedef int (*http_handler)(http_request *req, http_response *res);

typedef struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/patients/ * /reports" without spaces: '*' = one segment */
    http_handler handler;
    unsigned roles; /* which roles may call it */
    /* Routes that read or write patient data name their action for the audit trail
     * ("dicomweb.read", "records.read", ...): every answer of such a route is audited. */
    const char *audit_action;
} http_route;

/* A request body streamed to the application instead of buffered (STOW-RS of any size).
 * open runs once the request headers are in and the client is identified, before any body
 * byte: return 0 with *ctx set to accept, or -1 after filling res (status and message) to
 * refuse: the refusal is sent at once and no body is read (the connection then closes). write
 * gets each chunk in order and returns 0, or -1 to close the connection at once, without an
 * answer (a body past every limit and without Content-Length); a sink that finds the body bad
 * keeps returning 0 and drops the rest, so that its handler, which sees ctx as req->body_ctx
 * on the final call, can answer. close always runs once, last (also on a dropped connection). */
typedef struct http_body_sink {
    int (*open)(http_request *req, http_response *res, void **ctx);
    int (*write)(void *ctx, const char *data, size_t len);
    void (*close)(void *ctx);
} http_body_sink;

/* A route (method and pattern as in http_route, also listed there with its handler and
 * roles) whose body goes to a sink instead of the bounded buffer. */
typedef struct http_body_route {
    const char *method;
    const char *pattern;
    const http_body_sink *sink;
} http_body_route;
/* The audit hook: called for every answer of a route with an audit_action, and for every
 * refused access (401/403, action "http.authenticate" when refused before routing). Returns
 * 0, or -1 if the entry could not be written: a successful answer is then replaced by 503,
 * so that patient data never leaves unaudited. */
typedef int (*http_audit_fn)(void *app, const http_request *req, const char *action,
                             const http_response *res);

typedef struct http_options {
    const char *bind_address;
    int port; /* 0 = pick a free port */
    unsigned threads;
    size_t max_body;
    const char *tls_cert; /* PEM file paths; NULL or "" = plain HTTP (loopback only) */
    const char *tls_key;
    const char *tls_client_ca;
    int client_verify;                  /* 0 none, 1 optional, 2 require */
    unsigned loopback_roles;            /* roles granted to plain-HTTP loopback clients */
    const http_body_route *body_routes; /* routes with streamed bodies; may be NULL */
    size_t nbody_routes;
    const void *access;       /* auth.c's table of clients (certificate subjects, tokens) */
    http_audit_fn audit;      /* NULL = no audit trail */
    const char *cors_origins; /* origins allowed cross-origin access (cors.h); NULL, "": none */
    struct http_sessions *sessions; /* HIS-launched sessions (session.h); NULL: none */
} http_options;

typedef struct http_server http_server;

int http_server_start(http_server **out, const http_options *opts, const http_route *routes,
                      size_t nroutes, void *app, char *err, size_t errlen);
int http_server_port(const http_server *srv);
uint64_t http_server_requests(const http_server *srv);
/* Answers counted by route family (from the path: "dicomweb", "records", "consents", ...,
 * "other" for paths no family names) and status class 2..5 (2xx..5xx), for /metrics. Answers
 * the library makes itself (a header block too large, ...) are not counted. */
#define HTTP_FAMILIES 11
const char *http_family_name(size_t family); /* family < HTTP_FAMILIES */
/* Per route of the table: answers by status class and a latency histogram, appended to out as
 * Prometheus text (huren_http_route_responses_total, huren_http_route_duration_seconds). */
struct huren_buf;
void http_server_route_metrics(const http_server *srv, struct huren_buf *out);
uint64_t http_server_answers(const http_server *srv, size_t family, int status_class);
void http_server_stop(http_server *srv); /* NULL-safe */
/* HTTPS: read the certificate, key and client CA files again (the paths of the options) and
 * accept new connections with them; connections already open go on with the old ones until
 * they close. A file that does not load changes nothing: -1 with err set. 0 on success, 1 for
 * a plain HTTP server (nothing to reload). Called from one thread at a time. */
int http_server_tls_reload(http_server *srv, char *err, size_t errlen);

/* Query-string argument of the request, or NULL. Borrowed for the request's lifetime. */
const char *http_request_arg(const http_request *req, const char *name);

/* A request header, or NULL. Borrowed for the request's lifetime. */
const char *http_request_header(const http_request *req, const char *name);
/* Call cb for every query-string argument in order (repeated keys included; value "" when the
 * key has no value). Stops when cb returns nonzero and returns that value; else 0. */
int http_request_args(const http_request *req,
                      int (*cb)(void *payload, const char *key, const char *value), void *payload);

/* Add a response header (copied; name < 64, value < 448 bytes). Returns 0, or -1 if full. */
int http_response_header(http_response *res, const char *name, const char *value);
/* Answer with a streamed body: read is called from the server's threads until it returns 0 or
 * -1; free_cls(cls) runs once afterwards (also when the client went away, and when this fails).
 * content_type is copied. size is the exact length, or HTTP_SIZE_UNKNOWN (chunked). */
int http_reply_stream(http_response *res, int status, const char *content_type, uint64_t size,
                      http_stream_read read, void *cls, void (*free_cls)(void *cls));
/* Answer with a body already in memory (owned: freed by the server) and a content type that is
 * copied (may carry parameters). */
int http_reply_buffer(http_response *res, int status, const char *content_type, char *body,
                      size_t len);

/* UTF-8 (utf8.c). http_utf8_valid: are the n bytes at s valid UTF-8 (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF)? http_text_valid: valid UTF-8 and no control
 * bytes (NUL, CR, LF, ...), what a path segment or a query key or value may hold. Both 1 or 0.
 * http_utf8_clean: copy in (NULL = "") into out (outlen > 0), each invalid byte replaced by
 * U+FFFD, cut before a sequence that would not fit; out is always valid UTF-8. */
int http_utf8_valid(const char *s, size_t n);
int http_text_valid(const char *s, size_t n);
void http_utf8_clean(char *out, size_t outlen, const char *in);

/* Response helpers: take ownership of the text given. Return 0, or -1 if out of memory. */
int http_reply_json(http_response *res, int status, char *json_text);
int http_reply_text(http_response *res, int status, const char *content_type, const char *text);
/* {"error": message, "status": status}; bytes of message that are not UTF-8 (echoed input)
 * are replaced by U+FFFD, so that the answer always builds. Returns 0, or -1 if out of
 * memory. */
int http_reply_error(http_response *res, int status, const char *message);

#endif
