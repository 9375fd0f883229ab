/* session.c: the store of HIS-launched browser sessions (a fixed table under a mutex: a few
 * hundred doctors at a time), the session cookie, and the rule that a session reaches only
 * its own patient: what a request names is checked before the handler, what the answer was
 * about (res->audit_patient, which every patient-data handler fills) after it. */
#include "session.h"
#include "random_id.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_sessions {
    pthread_mutex_t mu;
    http_session *s; /* id[0] == 0: a free slot */
    size_t max;
};

http_sessions *http_sessions_new(size_t max)
{
    http_sessions *st = calloc(1, sizeof *st);
    if (!st || !(st->s = calloc(max ? max : 1, sizeof *st->s))) {
        free(st);
        return NULL;
    }
    st->max = max ? max : 1;
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

void http_sessions_free(http_sessions *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->mu);
    memset(st->s, 0, st->max * sizeof *st->s); /* whom doctors saw: not left in freed memory */
    free(st->s);
    free(st);
}

static int expired(const http_session *s, time_t now)
{
    return s->id[0] && now - s->last > s->idle;
}

int http_sessions_open(http_sessions *st, http_session *s)
{
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw) < 0)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    time_t now = time(NULL);
    s->last = now;
    int rc = -1;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->max; i++) {
        if (expired(&st->s[i], now))
            memset(&st->s[i], 0, sizeof st->s[i]);
        if (!st->s[i].id[0]) {
            st->s[i] = *s;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int id_equal(const char *a, const char *b)
{
    unsigned diff = 0;
    for (size_t i = 0; i < HTTP_SESSION_ID_LEN - 1; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

int http_sessions_get(http_sessions *st, const char *id, http_session *out)
{
    if (!st || strlen(id) != HTTP_SESSION_ID_LEN - 1)
        return 0;
    time_t now = time(NULL);
    int found = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->max; i++) { /* no early exit: the time says nothing */
        http_session *s = &st->s[i];
        if (!s->id[0])
            continue;
        if (!id_equal(s->id, id))
            continue;
        if (expired(s, now)) {
            memset(s, 0, sizeof *s);
            continue;
        }
        s->last = now;
        *out = *s;
        found = 1;
    }
    pthread_mutex_unlock(&st->mu);
    return found;
}

int http_session_cookie(const char *header, char id[HTTP_SESSION_ID_LEN])
{
    size_t n = strlen(HTTP_SESSION_COOKIE);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " ;");
        size_t k = strcspn(p, ";");
        if (k > n && strncmp(p, HTTP_SESSION_COOKIE, n) == 0 && p[n] == '=') {
            size_t v = k - n - 1;
            while (v && p[n + 1 + v - 1] == ' ')
                v--;
            if (v != HTTP_SESSION_ID_LEN - 1)
                return -1;
            memcpy(id, p + n + 1, v);
            id[v] = 0;
            return 0;
        }
        p += k;
    }
    return -1;
}

int http_session_patient_is(const http_session *s, const char *patient)
{
    if (!patient || !*patient)
        return 0;
    if (s->patient[0] && strcmp(s->patient, patient) == 0)
        return 1;
    /* a resident id as typed: its check character 'x' or 'X' */
    return s->resident[0] && strcasecmp(s->resident, patient) == 0;
}

static int refuse(http_response *res, const char *why)
{
    http_reply_error(res, 403, why);
    return -1;
}

int http_session_guard_request(const http_request *req, http_response *res)
{
    const http_session *s = req->session;
    if (!s)
        return 0;
    static const char *const names[] = {"patient", "id", "PatientID", "00100020"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = http_request_arg(req, names[i]);
        if (v && !http_session_patient_is(s, v))
            return refuse(res, "this session is for another patient");
    }
    const char *pfx = "/api/v1/patients/";
    if (strncmp(req->path, pfx, strlen(pfx)) == 0 && req->ncaptures &&
        !http_session_patient_is(s, req->captures[0]))
        return refuse(res, "this session is for another patient");
    return 0;
}

void http_session_guard_answer(const http_request *req, const char *audit_action,
                               http_response *res)
{
    const http_session *s = req->session;
    if (!s)
        return;
    const char *named = res->audit_patient;
    int ok = res->status >= 300 || !audit_action ? !named[0] || http_session_patient_is(s, named)
             : named[0]
                 ? http_session_patient_is(s, named)
                 : !strcmp(audit_action, "ui.view") || !strcmp(audit_action, "retrieval.read");
    if (ok)
        return;
    free(res->body);
    res->body = NULL;
    res->nheaders = 0;
    if (res->stream_read && res->stream_free)
        res->stream_free(res->stream_cls);
    res->stream_read = NULL;
    res->stream_cls = NULL;
    res->stream_free = NULL;
    http_reply_error(res, 403,
                     named[0] ? "this session is for another patient"
                              : "this answer names no patient: not for a HIS session");
}
