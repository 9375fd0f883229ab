/* api_order_check.c: the order check for a HIS (POST /api/v1/recognition/order-check): for a
 * patient and the draft orders, per order the prompt's content (GET /api/v1/recognition run
 * once per order, so that each order has its prompt and its decisions), and the same as a
 * CDS Hooks 'order-select' service (cds_hooks.c uses rec_order_check). */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "recognition.h"
#include "recognition_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The recognition query for one order, as a JSON object {"status", and the prompt or the
 * error}. The caller's identity (actor, roles, session) goes with it. */
static json_t *one_order(http_request *req, const rec_order_query *q, const char *code,
                         const char *order_id)
{
    const char *args[12];
    size_t k = 0;
    const char *pairs[][2] = {{"patient", q->patient}, {"item", code},
                              {"order", order_id},     {"doctor", q->doctor},
                              {"dept", q->department}, {"visit", q->visit}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i][1] && *pairs[i][1]) {
            args[2 * k] = pairs[i][0];
            args[2 * k + 1] = pairs[i][1];
            k++;
        }
    http_request sub = {.method = "GET",
                        .path = "/api/v1/recognition",
                        .remote = req->remote,
                        .actor = req->actor,
                        .institution = req->institution,
                        .roles = req->roles,
                        .session = req->session,
                        .app = req->app,
                        .direct_args = args,
                        .ndirect_args = k};
    http_response r = {.status = 200};
    json_t *body = NULL;
    if (api_recognition_query(&sub, &r) == 0 && r.body)
        body = json_loadb(r.body, r.body_len, 0, NULL);
    free(r.body);
    if (!json_is_object(body)) {
        json_decref(body);
        return json_pack("{s:i, s:s}", "status", 500, "error", "internal error");
    }
    json_object_set_new(body, "status", json_integer(r.status));
    return body;
}

json_t *rec_order_check(http_request *req, const rec_order_query *q)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < q->norders; i++) {
        json_t *o = one_order(req, q, q->codes[i], q->ids[i]);
        json_t *results = json_object_get(o, "results");
        json_t *a =
            json_pack("{s:s, s:s, s:i, s:i, s:O}", "id", q->ids[i] ? q->ids[i] : "", "code",
                      q->codes[i], "status", (int)json_integer_value(json_object_get(o, "status")),
                      "recognisable", (int)json_array_size(results), "prompt", o);
        json_object_del(json_object_get(a, "prompt"), "status");
        if (json_object_get(o, "error"))
            json_object_set(a, "error", json_object_get(o, "error"));
        json_decref(o);
        json_array_append_new(out, a);
    }
    return out;
}

static const char *str(json_t *o, const char *k, size_t max, int *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > max) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* {"patient", "doctor", "department", "visit", "orders": [{"id", "code"}]} into q (borrowed
 * from body). Returns 0, or -1 with why. */
static int order_parse(json_t *body, rec_order_query *q, char *why, size_t len)
{
    int bad = 0;
    json_t *orders = json_object_get(body, "orders");
    q->patient = str(body, "patient", 64, &bad);
    q->doctor = str(body, "doctor", 64, &bad);
    q->department = str(body, "department", 64, &bad);
    q->visit = str(body, "visit", 64, &bad);
    if (bad || !q->patient || !json_is_array(orders) || !json_array_size(orders) ||
        json_array_size(orders) > REC_ORDERS_MAX)
        return snprintf(why, len,
                        "the body must be {\"patient\", \"orders\": [{\"id\", \"code\"}] (1 to %d)}"
                        " with strings of at most 64 bytes",
                        REC_ORDERS_MAX),
               -1;
    size_t i;
    json_t *o;
    json_array_foreach(orders, i, o)
    {
        q->codes[i] = str(o, "code", 64, &bad);
        q->ids[i] = str(o, "id", 64, &bad);
        if (bad || !q->codes[i] || !*q->codes[i])
            return snprintf(why, len, "orders[%zu]: a code (string) is required", i), -1;
    }
    q->norders = i;
    return 0;
}

int api_recognition_order_check(http_request *req, http_response *res)
{
    char why[200];
    rec_order_query q = {0};
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    int rc;
    if (!json_is_object(body) || order_parse(body, &q, why, sizeof why) < 0) {
        rc = http_reply_error(res, 400, json_is_object(body) ? why : "malformed JSON");
        json_decref(body);
        return rc;
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", q.patient);
    snprintf(res->audit_object, sizeof res->audit_object, "order check: %zu orders", q.norders);
    json_t *orders = rec_order_check(req, &q);
    json_t *o = json_pack("{s:s, s:o}", "patient", q.patient, "orders", orders);
    rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    json_decref(body);
    return rc;
}
