/* api_decisions.c: the doctors' recognition decisions (POST /api/v1/recognition/decisions:
 * accepted, or rejected with a standard reason, for a result a prompt listed; a repeated post
 * is answered with the decision already held) and the statistics (GET .../stats, JSON or CSV,
 * by item, department, institution or month). */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "huren_err.h"
#include "random_id.h"
#include "recognition.h"
#include "recognition_int.h"
#include "http/session.h"
#include "rules.h"
#include "index/index_recognition.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An optional string member; *bad names the first member of another type or too long. */
static const char *member(json_t *o, const char *k, size_t max, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) > max) {
        if (!*bad)
            *bad = k;
        return NULL;
    }
    return json_string_value(v);
}

static int decision_parse(const recognition *rec, json_t *o, huren_index_rec_decision *d, char *why,
                          size_t whylen)
{
    const char *bad = NULL;
    if (!json_is_object(o)) {
        snprintf(why, whylen, "the body must be a JSON object");
        return -1;
    }
    d->prompt_id = member(o, "prompt_id", 64, &bad);
    d->result_key = member(o, "result_key", 256, &bad);
    d->decision = member(o, "decision", 16, &bad);
    d->reason = member(o, "reason", 32, &bad);
    d->reason_text = member(o, "reason_text", 500, &bad);
    d->doctor = member(o, "doctor", 64, &bad);
    d->department = member(o, "department", 64, &bad);
    d->order_id = member(o, "order_id", 64, &bad);
    d->visit_id = member(o, "visit_id", 64, &bad);
    if (bad) {
        snprintf(why, whylen, "%s: a string of limited length expected", bad);
        return -1;
    }
    json_t *cc = json_object_get(o, "confirm_critical");
    if (cc && !json_is_boolean(cc) && !json_is_null(cc)) {
        snprintf(why, whylen, "confirm_critical: true or false expected");
        return -1;
    }
    d->confirm_critical = json_is_true(cc);
    if (!d->prompt_id || !*d->prompt_id || !d->result_key || !*d->result_key) {
        snprintf(why, whylen, "prompt_id and result_key are required");
        return -1;
    }
    /* the platform's code table; the national default list on a node without recognition */
    return rec_decision_check_codes(rec ? (const char *const *)rec->reason_codes : rec_reasons,
                                    d->decision, d->reason, d->reason_text, why, whylen);
}

/* A HIS-launched session decides as its doctor, for its patient only: the doctor and the
 * department are the launch's, whatever the body says. */
static int decision_session(http_request *req, huren_index_rec_decision *d, http_response *res)
{
    const http_session *s = req->session;
    if (!s)
        return 0;
    if (rec_session_bind(req, d->prompt_id, d->result_key, res) < 0)
        return -1;
    d->doctor = s->doctor_id;
    d->department = s->department[0] ? s->department : d->department;
    if (!d->visit_id && s->visit[0])
        d->visit_id = s->visit;
    return 0;
}

int api_recognition_decision(http_request *req, http_response *res)
{
    node *n = req->app;
    json_error_t je;
    char why[HUREN_ERRLEN], id[33], held[65];
    huren_index_rec_decision d = {0};
    huren_index_rec_outcome out;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    int rc;
    if (!o) {
        snprintf(why, sizeof why, "malformed JSON: line %d column %d: %s", je.line, je.column,
                 je.text);
        return http_reply_error(res, 400, why);
    }
    if (decision_parse(n->recognition, o, &d, why, sizeof why) < 0) {
        rc = http_reply_error(res, 400, why);
        goto done;
    }
    if (decision_session(req, &d, res) < 0) {
        rc = 0;
        goto done;
    }
    if (random_id(id) < 0) { /* fail closed: never a guessable decision id */
        log_error("no random bytes for a decision id: %s", strerror(errno));
        rc = http_reply_error(res, 503, "cannot make a decision id now; try again later");
        goto done;
    }
    d.decision_id = id;
    rec_doctor_identity(req, &d);
    if (huren_index_rec_decision_put(n->index, &d, &out, held) < 0) {
        log_warnx("recording a decision: %s", huren_index_errmsg(n->index));
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    /* bounded: a long doctor or result key is cut in the audit line, never overflowing */
    if (snprintf(res->audit_object, sizeof res->audit_object,
                 "decision %.64s %s%s%s%s on %.80s (prompt %.64s) by %.40s (%s)",
                 held[0] ? held : "-", d.decision, d.reason ? " " : "", d.reason ? d.reason : "",
                 d.confirm_critical ? " critical-confirmed" : "", d.result_key, d.prompt_id,
                 d.doctor ? d.doctor : "-", d.doctor_source ? d.doctor_source : "-") < 0)
        res->audit_object[0] = 0;
    switch (out) {
    case HUREN_INDEX_REC_STORED:
        atomic_fetch_add(strcmp(d.decision, "accepted") == 0 ? &n->metrics.rec_accepted
                                                             : &n->metrics.rec_rejected,
                         1);
        /* fall through */
    case HUREN_INDEX_REC_SAME: {
        json_t *a =
            json_pack("{s:s, s:b}", "decision_id", held, "repeated", out == HUREN_INDEX_REC_SAME);
        rc = http_reply_json(res, out == HUREN_INDEX_REC_STORED ? 201 : 200,
                             a ? json_dumps(a, JSON_COMPACT) : NULL);
        json_decref(a);
        break;
    }
    case HUREN_INDEX_REC_CONFLICT:
        snprintf(why, sizeof why,
                 "another decision (%s) is already recorded for this result in "
                 "this prompt",
                 held);
        rc = http_reply_error(res, 409, why);
        break;
    case HUREN_INDEX_REC_NO_PROMPT:
        rc = http_reply_error(res, 422, "prompt_id: no such recognition prompt");
        break;
    case HUREN_INDEX_REC_UNCONFIRMED:
        rc = http_reply_error(res, 422,
                              "该结果为危急值，确认互认须明确确认 (\"confirm_critical\": true) / "
                              "this result is a critical value: recognising it needs "
                              "\"confirm_critical\": true");
        break;
    default:
        rc = http_reply_error(res, 422, "result_key: this result was never shown in that prompt");
        break;
    }
done:
    json_decref(o);
    return rc;
}

/* The deciding doctor: a HIS-launched session's (set by decision_session), else the request's
 * "doctor", else the verified client certificate's subject. */
void rec_doctor_identity(const http_request *req, huren_index_rec_decision *d)
{
    if (req->session && d->doctor && *d->doctor) {
        d->doctor_source = "session";
    } else if (d->doctor && *d->doctor) {
        d->doctor_source = "request";
    } else if (req->client_dn && *req->client_dn) {
        d->doctor = req->client_dn;
        d->doctor_source = "certificate";
    } else {
        d->doctor = NULL;
        d->doctor_source = NULL;
    }
}

#define REVOKE_REASON_MAX 256

/* POST /api/v1/recognition/decisions/{id}/revoke {"reason": "..."}: the decision stays, marked
 * revoked (who, when, why), and leaves the statistics. 404 unknown, 409 revoked before. */
int api_recognition_revoke(http_request *req, http_response *res)
{
    node *n = req->app;
    json_error_t je;
    const char *id = req->ncaptures ? req->captures[0] : NULL;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    json_t *r = o ? json_object_get(o, "reason") : NULL;
    int rc;
    if (!id || !*id || strlen(id) > 64) {
        rc = http_reply_error(res, 404, "no such decision");
        goto done;
    }
    if (!json_is_object(o) || !json_is_string(r) || !*json_string_value(r) ||
        strlen(json_string_value(r)) > REVOKE_REASON_MAX) {
        rc = http_reply_error(res, 400, "reason: required, a string of up to 256 bytes");
        goto done;
    }
    snprintf(res->audit_object, sizeof res->audit_object, "decision %.64s revoked: %.150s", id,
             json_string_value(r));
    int got = huren_index_rec_decision_revoke(n->index, id, req->actor, json_string_value(r), 0);
    if (got == 0) {
        json_t *a = json_pack("{s:s, s:b}", "decision_id", id, "revoked", 1);
        rc = http_reply_json(res, 200, a ? json_dumps(a, JSON_COMPACT) : NULL);
        json_decref(a);
    } else if (got == 1) {
        rc = http_reply_error(res, 409, "this decision was revoked before");
    } else if (got == HUREN_INDEX_ENOTFOUND) {
        rc = http_reply_error(res, 404, "no such decision");
    } else {
        log_warnx("revoking a decision: %s", huren_index_errmsg(n->index));
        rc = http_reply_error(res, 503, "archive unavailable");
    }
done:
    json_decref(o);
    return rc;
}

/* ---- statistics ---- */

static int group_parse(const char *by, huren_index_rec_group *g)
{
    static const char *const names[] = {"item", "department", "institution", "month"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(by ? by : "item", names[i])) {
            *g = (huren_index_rec_group)i;
            return 0;
        }
    return -1;
}

static json_t *row_json(const huren_index_rec_stats_row *r)
{
    json_t *reasons = json_object();
    for (size_t i = 0; i < r->nreasons; i++)
        json_object_set_new(reasons, r->reasons[i].reason, json_integer(r->reasons[i].n));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:f}", "key", r->key, "prompts",
                     (json_int_t)r->prompts, "shown", (json_int_t)r->shown, "accepted",
                     (json_int_t)r->accepted, "rejected", (json_int_t)r->rejected, "by_reason",
                     reasons, "rate", rec_rate(r->accepted, r->shown));
}

/* Sum of the rows (by institution, prompts are counted once per institution: the total of
 * prompts is then not their sum but is left as such, documented). */
static void total_add(huren_index_rec_stats_row *t, const huren_index_rec_stats_row *r)
{
    t->prompts += r->prompts;
    t->shown += r->shown;
    t->accepted += r->accepted;
    t->rejected += r->rejected;
}

static int csv_field_ok(const char *s)
{
    return !strpbrk(s, ",\"\r\n");
}

static int stats_csv(http_response *res, const huren_index_rec_stats *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -1;
    fputs("key,prompts,shown,accepted,rejected,rate", f);
    for (int j = 0; rec_reasons[j]; j++)
        fprintf(f, ",%s", rec_reasons[j]);
    fputs("\r\n", f);
    for (size_t i = 0; i < s->n; i++) {
        const huren_index_rec_stats_row *r = &s->rows[i];
        if (csv_field_ok(r->key))
            fputs(r->key, f);
        else { /* RFC 4180: quote, double the quotes */
            fputc('"', f);
            for (const char *p = r->key; *p; p++) {
                if (*p == '"')
                    fputc('"', f);
                fputc(*p, f);
            }
            fputc('"', f);
        }
        fprintf(f, ",%lld,%lld,%lld,%lld,%.4f", (long long)r->prompts, (long long)r->shown,
                (long long)r->accepted, (long long)r->rejected, rec_rate(r->accepted, r->shown));
        for (int j = 0; rec_reasons[j]; j++) {
            long long c = 0;
            for (size_t k = 0; k < r->nreasons; k++)
                if (!strcmp(r->reasons[k].reason, rec_reasons[j]))
                    c = r->reasons[k].n;
            fprintf(f, ",%lld", c);
        }
        fputs("\r\n", f);
    }
    fclose(f);
    return http_reply_buffer(res, 200, "text/csv; charset=utf-8", buf, len);
}

/* Savings (节约费用, integer fen) of the same period: by item, each item's recognitions times
 * its price; the rows get theirs when grouped by item, the totals always. -1 when the archive
 * fails; 0 without a price list (nothing added). */
static int savings_add(node *n, const char *from, const char *to, huren_index_rec_group g,
                       json_t *rows, json_t *totals)
{
    recognition *rec = n->recognition;
    huren_index_rec_stats s;
    int64_t total = 0;
    char text[32];
    if (!rec || !rec->nprices)
        return 0;
    if (huren_index_rec_stats_get(n->index, from, to, HUREN_INDEX_REC_BY_ITEM, &s) < 0)
        return -1;
    for (size_t i = 0; i < s.n; i++) {
        int64_t price = rec_price_fen(rec, s.rows[i].key);
        int64_t saved = price > 0 ? price * s.rows[i].accepted : 0;
        total += saved;
        json_t *row = json_array_get(rows, i);
        if (g != HUREN_INDEX_REC_BY_ITEM || !row ||
            strcmp(json_string_value(json_object_get(row, "key")) ?: "", s.rows[i].key))
            continue;
        rec_fen_format(saved, text);
        json_object_set_new(row, "savings_fen", json_integer(saved));
        json_object_set_new(row, "savings", json_string(text));
    }
    huren_index_rec_stats_free(&s);
    rec_fen_format(total, text);
    json_object_set_new(totals, "savings_fen", json_integer(total));
    json_object_set_new(totals, "savings", json_string(text));
    return 0;
}

int api_recognition_stats(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *from = http_request_arg(req, "from"), *to = http_request_arg(req, "to");
    const char *by = http_request_arg(req, "by"), *format = http_request_arg(req, "format");
    huren_index_rec_group g;
    huren_index_rec_stats s;
    long d;
    if (group_parse(by, &g) < 0)
        return http_reply_error(res, 400, "by: item, department, institution or month");
    if ((from && *from && rec_day_parse(from, &d) < 0) || (to && *to && rec_day_parse(to, &d) < 0))
        return http_reply_error(res, 400, "from, to: dates YYYYMMDD");
    if (format && strcmp(format, "csv") && strcmp(format, "json"))
        return http_reply_error(res, 400, "format: json or csv");
    if (huren_index_rec_stats_get(n->index, from, to, g, &s) < 0) {
        log_warnx("recognition statistics: %s", huren_index_errmsg(n->index));
        return http_reply_error(res, 503, "archive unavailable");
    }
    snprintf(res->audit_object, sizeof res->audit_object, "recognition statistics by %s",
             by ? by : "item");
    int rc;
    if (format && !strcmp(format, "csv")) {
        rc = stats_csv(res, &s);
    } else {
        json_t *rows = json_array();
        huren_index_rec_stats_row t = {.key = "total"};
        for (size_t i = 0; i < s.n; i++) {
            json_array_append_new(rows, row_json(&s.rows[i]));
            total_add(&t, &s.rows[i]);
        }
        json_t *totals = row_json(&t);
        json_t *sum = json_object(); /* rejections by reason over all rows */
        for (size_t i = 0; i < s.n; i++)
            for (size_t k = 0; k < s.rows[i].nreasons; k++) {
                const char *reason = s.rows[i].reasons[k].reason;
                json_int_t v = json_integer_value(json_object_get(sum, reason));
                json_object_set_new(sum, reason, json_integer(v + s.rows[i].reasons[k].n));
            }
        json_object_set_new(totals, "by_reason", sum);
        json_object_del(totals, "key");
        if (savings_add(n, from, to, g, rows, totals) < 0)
            log_warnx("recognition savings: %s", huren_index_errmsg(n->index));
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "by", by ? by : "item", "from",
                              from ? from : "", "to", to ? to : "", "rows", rows, "totals", totals);
        rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
        json_decref(o);
    }
    huren_index_rec_stats_free(&s);
    return rc;
}
