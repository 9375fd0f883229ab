/* api_audit.c: GET /api/v1/audit?since=&patient=&limit= for admins: the entries of the audit
 * trail from a time on, optionally of one patient, oldest first, as JSON. The log is read from
 * disk on each call (it is append-only; a filter over a stream needs no index). */
#define LOG_COMPONENT "api"
#include "audit_api.h"
#include "audit_trail.h"
#include "log.h"
#include "audit/huren_audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 10000

typedef struct audit_query {
    const char *since;
    const char *patient;
    long limit;
    json_t *entries;
    long unreadable;
    int truncated;
} audit_query;

/* Does a '\'-separated patient list hold id? */
static int has_patient(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p;) {
        const char *bs = strchr(p, '\\');
        size_t len = bs ? (size_t)(bs - p) : strlen(p);
        if (len == n && strncmp(p, id, n) == 0)
            return 1;
        p = bs ? bs + 1 : NULL;
    }
    return 0;
}

static int on_line(void *payload, const char *line, size_t len)
{
    audit_query *q = payload;
    json_t *e = json_loadb(line, len, 0, NULL);
    const char *time = e ? json_string_value(json_object_get(e, "time")) : NULL;
    const char *patient = e ? json_string_value(json_object_get(e, "patient")) : NULL;
    if (!time || !patient) {
        q->unreadable++;
        json_decref(e);
        return 0;
    }
    if ((q->since && strcmp(time, q->since) < 0) ||
        (q->patient && !has_patient(patient, q->patient))) {
        json_decref(e);
        return 0;
    }
    if ((long)json_array_size(q->entries) == q->limit) {
        json_decref(e);
        q->truncated = 1;
        return 1;
    }
    json_array_append_new(q->entries, e);
    return 0;
}

int api_audit(http_request *req, http_response *res)
{
    node *n = req->app;
    audit_query q = {http_request_arg(req, "since"),
                     http_request_arg(req, "patient"),
                     DEFAULT_LIMIT,
                     NULL,
                     0,
                     0};
    const char *limit = http_request_arg(req, "limit");
    if (q.since && !audit_since_valid(q.since))
        return http_reply_error(res, 400, "since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS");
    if (q.patient && (!q.patient[0] || strlen(q.patient) > 64))
        return http_reply_error(res, 400, "patient: 1 to 64 characters");
    if (limit) {
        char *end;
        q.limit = strtol(limit, &end, 10);
        if (end == limit || *end || q.limit < 1 || q.limit > MAX_LIMIT)
            return http_reply_error(res, 400, "limit: a number from 1 to 10000");
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", q.patient ? q.patient : "");
    snprintf(res->audit_object, sizeof res->audit_object, "audit since %s",
             q.since ? q.since : "-");
    char path[4200], err[512];
    if (audit_path(n->cfg, path, sizeof path) < 0 || !(q.entries = json_array()))
        return -1;
    int rc = huren_audit_scan(path, on_line, &q, err, sizeof err);
    if (rc < 0 && rc != HUREN_AUDIT_ECANCEL) {
        log_error("GET /api/v1/audit: %s", err);
        json_decref(q.entries);
        return -1;
    }
    if (q.unreadable)
        log_warnx("audit log %s: %ld lines are not JSON entries (run huren audit verify)", path,
                  q.unreadable);
    json_t *o = json_pack("{s:o, s:I, s:b}", "entries", q.entries, "count",
                          (json_int_t)json_array_size(q.entries), "truncated", q.truncated);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text ? http_reply_json(res, 200, text) : -1;
}
