/* http.h: the node's HTTP(S) server over libmicrohttpd. Routes requests by method and path
 * pattern to handlers that fill a response; bounds request bodies; with TLS, verifies client
 * certificates against the configured CA before any handler runs. */
#ifndef HUREN_GATEWAY_HTTP_H
#define HUREN_GATEWAY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_CAPTURES 4

/* Who is asking, as established by the transport (loopback, client certificate). */
typedef enum http_role {
    HTTP_ROLE_NONE = 0,
    HTTP_ROLE_CLINICIAN = 1 << 0,
    HTTP_ROLE_PEER = 1 << 1,
    HTTP_ROLE_INSURER = 1 << 2,
    HTTP_ROLE_ADMIN = 1 << 3,
} http_role;
#define HTTP_ROLES_ALL (HTTP_ROLE_CLINICIAN | HTTP_ROLE_PEER | HTTP_ROLE_INSURER | HTTP_ROLE_ADMIN)
#define HTTP_ROLES_STAFF (HTTP_ROLE_CLINICIAN | HTTP_ROLE_ADMIN)

typedef struct http_request {
    const char *method;
    const char *path;
    const char *remote;        /* numeric address of the client */
    const char *client_dn;     /* verified client certificate subject, or NULL */
    const char *institution;   /* institution code of the client (from auth.c), or NULL */
    const char *actor;         /* who, for the audit trail: client name, subject, "loopback" */
    unsigned roles;            /* HTTP_ROLE_* the client holds */
    const char *captures[HTTP_MAX_CAPTURES]; /* path segments matched by '*' in the route */
    size_t ncaptures;
    const char *body;          /* request body (NUL-terminated), bounded by max_body */
    size_t body_len;
    void *conn;                /* the library's connection, for http_request_arg() */
    void *app;                 /* the application context given to http_server_start */
} http_request;

typedef struct http_response {
    int status;
    char *body;                /* owned, freed by the server */
    size_t body_len;
    const char *content_type;  /* static string */
    /* For the audit trail: the patient and the object (study UID, report id, ...) this answer
     * concerned. Handlers that touch patient data fill them; empty otherwise. */
    char audit_patient[128];
    char audit_object[256];
    const char *www_authenticate; /* static string: a WWW-Authenticate header (401) */
} http_response;

/* A handler fills res (status defaults to 200) and returns 0, or -1 for an internal error
 * (answered 500). */
typedef int (*http_handler)(http_request *req, http_response *res);

typedef struct http_route {
    const char *method;        /* "GET", "POST", ... */
    const char *pattern;       /* "/api/v1/patients/ * /reports" without spaces: '*' = one segment */
    http_handler handler;
    unsigned roles;            /* which roles may call it */
    /* Routes that read or write patient data name their action for the audit trail
     * ("dicomweb.read", "records.read", ...): every answer of such a route is audited. */
    const char *audit_action;
} http_route;

/* The audit hook: called for every answer of a route with an audit_action, and for every
 * refused access (401/403, action "http.authenticate" when refused before routing). Returns
 * 0, or -1 if the entry could not be written: a successful answer is then replaced by 503,
 * so that patient data never leaves unaudited. */
typedef int (*http_audit_fn)(void *app, const http_request *req, const char *action,
                             const http_response *res);

typedef struct http_options {
    const char *bind_address;
    int port;                  /* 0 = pick a free port */
    unsigned threads;
    size_t max_body;
    const char *tls_cert;      /* PEM file paths; NULL or "" = plain HTTP (loopback only) */
    const char *tls_key;
    const char *tls_client_ca;
    int client_verify;         /* 0 none, 1 optional, 2 require */
    unsigned loopback_roles;   /* roles granted to plain-HTTP loopback clients */
    const void *access;        /* auth.c's table of clients (certificate subjects, tokens) */
    http_audit_fn audit;       /* NULL = no audit trail */
} http_options;

typedef struct http_server http_server;

int http_server_start(http_server **out, const http_options *opts, const http_route *routes,
                      size_t nroutes, void *app, char *err, size_t errlen);
int http_server_port(const http_server *srv);
uint64_t http_server_requests(const http_server *srv);
void http_server_stop(http_server *srv); /* NULL-safe */

/* Query-string argument of the request, or NULL. Borrowed for the request's lifetime. */
const char *http_request_arg(const http_request *req, const char *name);

/* Response helpers: take ownership of the text given. Return 0, or -1 if out of memory. */
int http_reply_json(http_response *res, int status, char *json_text);
int http_reply_text(http_response *res, int status, const char *content_type, const char *text);
/* {"error": message} with status. */
int http_reply_error(http_response *res, int status, const char *message);

#endif
