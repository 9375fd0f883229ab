/* session.h: browser sessions opened by a HIS launch (gateway/his/launch.c): a random id in a
 * cookie (HttpOnly, Secure, SameSite=Strict), an idle timeout, and the doctor and patient the
 * session is bound to. auth.c identifies a request by its cookie when it shows no certificate
 * or token; http.c then lets it reach only that patient's data (http_session_guard_*). */
#ifndef HUREN_GATEWAY_HTTP_SESSION_H
#define HUREN_GATEWAY_HTTP_SESSION_H

#include "http.h"

#include <stddef.h>
#include <time.h>

#define HTTP_SESSION_COOKIE "huren_session"
#define HTTP_SESSION_ORDERS_MAX 16
#define HTTP_SESSION_ID_LEN 65 /* 256 random bits as hex, and the NUL */

typedef struct http_session_order {
    char id[65];   /* the HIS's order id ("" when it gave none) */
    char code[65]; /* the item code as the HIS knows it */
} http_session_order;

/* Whom a session is for. Strings are "" when not given. */
typedef struct http_session {
    char id[HTTP_SESSION_ID_LEN];
    char his[65];     /* the [his "NAME"] that launched it */
    char origin[256]; /* that HIS's origin, for postMessage ("" = none) */
    char doctor_id[65], doctor_name[129], department[65];
    char patient[65];  /* the local patient id */
    char resident[33]; /* the resident id, normalised */
    char visit[65];
    http_session_order orders[HTTP_SESSION_ORDERS_MAX];
    size_t norders;
    long idle;   /* seconds without a request before it ends */
    time_t last; /* last request */
} http_session;

typedef struct http_sessions http_sessions; /* thread-safe */

/* A store of at most max sessions. NULL when out of memory. */
http_sessions *http_sessions_new(size_t max);
void http_sessions_free(http_sessions *st); /* NULL-safe */
/* Open a session like s (its id is made here, from the CSPRNG, into s->id; last = now).
 * Returns 0, or -1 when no random bytes could be had or the store is full of live sessions. */
int http_sessions_open(http_sessions *st, http_session *s);
/* The live session with this id, copied into *out and its idle clock restarted: 1; 0 when
 * unknown or idle too long (then forgotten). Compares ids in constant time. */
int http_sessions_get(http_sessions *st, const char *id, http_session *out);
/* The value of cookie HTTP_SESSION_COOKIE in a Cookie header, into id: 0, or -1 if absent. */
int http_session_cookie(const char *header, char id[HTTP_SESSION_ID_LEN]);
/* Is patient (a local or a resident id) the one s is bound to? 1 or 0. */
int http_session_patient_is(const http_session *s, const char *patient);

/* Before a handler runs for a session-bound request: a patient named by the request (query
 * arguments patient, id, PatientID; /api/v1/patients/{id}/...) that is not the session's is
 * refused (403 in res): -1. 0 to go on. */
int http_session_guard_request(const http_request *req, http_response *res);
/* After the handler: an answer about another patient, or a successful answer of an audited
 * route that names no patient (except the page shell and a retrieval's progress), is replaced
 * by 403. */
void http_session_guard_answer(const http_request *req, const char *audit_action,
                               http_response *res);

#endif
