/* cds_hooks.c: the order check as a CDS Hooks 2.0 service (https://cds-hooks.hl7.org):
 * GET /cds-services (discovery) and POST /cds-services/huren-order-select, the 'order-select'
 * hook: context.patientId and context.draftOrders (a FHIR Bundle of ServiceRequest, the item
 * in code.coding[].code) in, one card per draft order with recognisable results out: summary,
 * indicator, source, a suggestion to delete the draft order, and a link to the prompt. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "random_id.h"
#include "recognition.h"
#include "recognition_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_ID "huren-order-select"
#define SUMMARY_MAX 139 /* the spec: "<140 characters" */

int api_cds_discovery(http_request *req, http_response *res)
{
    (void)req;
    json_t *o = json_pack(
        "{s:[{s:s, s:s, s:s, s:s, s:{}}]}", "services", "hook", "order-select", "id", SERVICE_ID,
        "title", "huren 检查检验结果互认", "description",
        "Lists, for each draft order, the patient's recognisable results at other hospitals "
        "(mutual recognition) and suggests cancelling the order when one is recognised.",
        "prefetch");
    int rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}

/* The item code of a ServiceRequest: its first code.coding[].code. */
static const char *request_code(json_t *sr)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(sr, "code"), "coding"), i, c)
    {
        const char *v = json_string_value(json_object_get(c, "code"));
        if (v && *v && strlen(v) <= 64)
            return v;
    }
    return NULL;
}

/* The hook request into q (borrowed from body): -1 with why when it is not an order-select
 * request with a patient and at least one coded ServiceRequest. */
static int hook_parse(json_t *body, rec_order_query *q, char *why, size_t len)
{
    json_t *ctx = json_object_get(body, "context");
    const char *hook = json_string_value(json_object_get(body, "hook"));
    json_t *bundle = json_object_get(ctx, "draftOrders");
    if (!hook || strcmp(hook, "order-select") ||
        !json_is_string(json_object_get(body, "hookInstance")) || !json_is_object(ctx))
        return snprintf(why, len,
                        "not a CDS Hooks order-select request (hook, hookInstance, "
                        "context)"),
               -1;
    q->patient = json_string_value(json_object_get(ctx, "patientId"));
    q->visit = json_string_value(json_object_get(ctx, "encounterId"));
    q->doctor = json_string_value(json_object_get(ctx, "userId"));
    if (!q->patient || !*q->patient || strlen(q->patient) > 64)
        return snprintf(why, len, "context.patientId is required"), -1;
    if (q->doctor && strlen(q->doctor) > 64)
        q->doctor = NULL;
    if (q->visit && strlen(q->visit) > 64)
        q->visit = NULL;
    if (!json_is_object(bundle) ||
        strcmp(json_string_value(json_object_get(bundle, "resourceType")) ?: "", "Bundle"))
        return snprintf(why, len, "context.draftOrders must be a FHIR Bundle"), -1;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        const char *type = json_string_value(json_object_get(r, "resourceType"));
        const char *code = request_code(r), *id = json_string_value(json_object_get(r, "id"));
        if (!type || strcmp(type, "ServiceRequest") || !code || q->norders == REC_ORDERS_MAX)
            continue; /* other draft orders (medications, ...) are not ours to check */
        q->codes[q->norders] = code;
        q->ids[q->norders++] = id && strlen(id) <= 64 ? id : NULL;
    }
    return 0;
}

/* "可互认：胸部CT平扫，2 项结果（最近 2024-01-05 H37010002）", cut on a character boundary. */
static void summary_of(json_t *order, char *out, size_t len)
{
    json_t *p = json_object_get(order, "prompt"),
           *first = json_array_get(json_object_get(p, "results"), 0);
    const char *name = json_string_value(json_object_get(json_object_get(p, "item"), "name"));
    snprintf(out, len, "可互认：%s，%d 项结果（最近 %s %s）",
             name ? name : json_string_value(json_object_get(order, "code")),
             (int)json_integer_value(json_object_get(order, "recognisable")),
             json_string_value(json_object_get(first, "date")) ?: "",
             json_string_value(json_object_get(first, "institution")) ?: "");
    size_t n = strlen(out), chars = 0, cut = n;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)out[i] & 0xC0) != 0x80 && ++chars > SUMMARY_MAX) {
            cut = i;
            break;
        }
    out[cut] = 0;
}

static json_t *card_of(http_request *req, const rec_order_query *q, json_t *order)
{
    node *n = req->app;
    char summary[600], link[1200], u1[RANDOM_ID_LEN], u2[RANDOM_ID_LEN], ref[80];
    const char *id = json_string_value(json_object_get(order, "id"));
    const char *code = json_string_value(json_object_get(order, "code"));
    if (random_id(u1) < 0 || random_id(u2) < 0)
        return NULL;
    summary_of(order, summary, sizeof summary);
    char *pe = rec_url_escape(q->patient), *ce = rec_url_escape(code), *oe = rec_url_escape(id);
    snprintf(link, sizeof link, "%s/ui/recognition?patient=%s&item=%s%s%s",
             n->cfg->dir_source_url ? n->cfg->dir_source_url : "", pe ? pe : "", ce ? ce : "",
             oe && *oe ? "&order=" : "", oe ? oe : "");
    free(pe);
    free(ce);
    free(oe);
    json_t *card = json_pack("{s:s, s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:s}]}", "uuid", u1, "summary",
                             summary, "indicator", "info", "source", "label", "huren 互认", "links",
                             "label", "打开互认提示", "url", link, "type", "absolute");
    if (id && *id) { /* a recognised result makes the draft order unnecessary */
        snprintf(ref, sizeof ref, "ServiceRequest/%s", id);
        json_object_set_new(card, "suggestions",
                            json_pack("[{s:s, s:s, s:b, s:[{s:s, s:s, s:s}]}]", "label",
                                      "取消此医嘱（已有可互认结果）", "uuid", u2, "isRecommended",
                                      0, "actions", "type", "delete", "description",
                                      "取消草稿医嘱 / cancel the draft order", "resourceId", ref));
        json_object_set_new(card, "selectionBehavior", json_string("at-most-one"));
    }
    return card;
}

int api_cds_order_select(http_request *req, http_response *res)
{
    char why[200];
    rec_order_query q = {0};
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    int rc;
    if (!json_is_object(body) || hook_parse(body, &q, why, sizeof why) < 0) {
        rc = http_reply_error(res, 400, json_is_object(body) ? why : "malformed JSON");
        json_decref(body);
        return rc;
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", q.patient);
    snprintf(res->audit_object, sizeof res->audit_object, "cds order-select: %zu orders",
             q.norders);
    json_t *orders = rec_order_check(req, &q), *cards = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(orders, i, o)
    {
        if (json_integer_value(json_object_get(o, "status")) == 200 &&
            json_integer_value(json_object_get(o, "recognisable")) > 0) {
            json_t *c = card_of(req, &q, o);
            if (c)
                json_array_append_new(cards, c);
        }
    }
    json_t *a = json_pack("{s:o}", "cards", cards);
    rc = http_reply_json(res, 200, a ? json_dumps(a, JSON_COMPACT) : NULL);
    json_decref(a);
    json_decref(orders);
    json_decref(body);
    return rc;
}
