/* api_consents.c: recording and revoking patients' consents (hospital staff only):
 * POST /api/v1/consents, GET /api/v1/patients/{id}/consents, POST /api/v1/consents/{id}/revoke
 * (and DELETE /api/v1/consents/{id}). Answers are FHIR-shaped Consent resources; the rules
 * that use them are consent.c. */
#define LOG_COMPONENT "api"
#include "consent_api.h"
#include "consent.h"
#include "underwriting_consent.h"
#include "fhir.h"
#include "identity.h"
#include "log.h"
#include "index/index_records.h"
#include "index/index_consents.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_REF_MAX 128

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *api_consent_json(const huren_index_consent *c, time_t now)
{
    char t[32];
    json_t *j = json_object(), *p = json_object(), *period = json_object(), *v = json_array();
    json_object_set_new(j, "resourceType", json_string("Consent"));
    json_object_set_new(j, "id", json_integer(c->id));
    json_object_set_new(j, "status", json_string(consent_status(c, now)));
    json_object_set_new(j, "purpose", json_string(consent_purpose_name(c->purpose)));
    if (c->purpose == HUREN_INDEX_CONSENT_UNDERWRITING)
        underwriting_consent_json(j, c);
    set_str(p, "patient_id", c->patient_id);
    set_str(p, "national_id", c->national_id);
    json_object_set_new(j, "patient", p);
    set_str(j, "grantee", c->grantee);
    set_str(j, "policy_ref", c->policy_ref);
    for (size_t i = 0; i < c->nvisits; i++)
        json_array_append_new(v, json_string(c->visits[i]));
    json_object_set_new(j, "visits", v);
    json_object_set_new(period, "start", json_string(consent_time_format(c->valid_from, t)));
    json_object_set_new(period, "end", json_string(consent_time_format(c->expires_at, t)));
    json_object_set_new(j, "period", period);
    set_str(j, "form_ref", c->form_ref);
    set_str(j, "recorded_by", c->created_by);
    json_object_set_new(j, "recorded", json_string(consent_time_format(c->created_at, t)));
    if (c->revoked_at) {
        json_object_set_new(j, "revoked", json_string(consent_time_format(c->revoked_at, t)));
        set_str(j, "revoked_by", c->revoked_by);
    }
    return j;
}

static int reply(http_response *res, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return http_reply_json(res, status, text);
}

/* FHIR R4 asked for (Accept: application/fhir+json, or ?_format=json)? */
static int fhir_asked(http_request *req)
{
    return fhir_wanted(http_request_arg(req, "_format"), http_request_header(req, "Accept"));
}

static void fhir_builder_init(http_request *req, fhir_builder *b)
{
    node *n = req->app;
    memset(b, 0, sizeof *b);
    b->hospital = n->cfg->claims_institution && *n->cfg->claims_institution
                      ? n->cfg->claims_institution
                      : n->cfg->dir_institution;
    if (fhir_offset_parse(n->cfg->utc_offset, &b->offset_min) < 0)
        b->offset_min = 8 * 60; /* config_validate() refused it already */
}

/* One consent (status 201 or 200), as FHIR R4 Consent when asked, else our JSON. */
static int reply_consent(http_request *req, http_response *res, int status,
                         const huren_index_consent *c, time_t now)
{
    if (!fhir_asked(req))
        return reply(res, status, api_consent_json(c, now));
    fhir_builder b;
    fhir_builder_init(req, &b);
    json_t *j = fhir_consent(&b, c, consent_status(c, now));
    size_t len = 0;
    char *text = j ? fhir_dump(j, &len) : NULL;
    json_decref(j);
    if (!text)
        return http_reply_error(res, 500, "out of memory");
    return http_reply_buffer(res, status, FHIR_CONTENT_TYPE, text, len);
}

/* A patient's consents as an R4 searchset Bundle. */
static int reply_consents_fhir(http_request *req, http_response *res,
                               const huren_index_consent_list *l, time_t now)
{
    fhir_builder b;
    char ts[FHIR_TIME_LEN];
    fhir_builder_init(req, &b);
    b.seed = "consents";
    json_t *entries = json_array();
    for (size_t i = 0; i < l->n; i++) {
        json_t *c = fhir_consent(&b, &l->items[i], consent_status(&l->items[i], now));
        char url[FHIR_URL_LEN], id[24];
        snprintf(id, sizeof id, "%lld", (long long)l->items[i].id);
        fhir_url(&b, "Consent", id, url);
        json_array_append_new(entries, json_pack("{s:s, s:o, s:{s:s}}", "fullUrl", url, "resource",
                                                 c, "search", "mode", "match"));
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type",
                          "searchset", "timestamp", fhir_time_format(now, b.offset_min, ts),
                          "total", (json_int_t)l->n, "entry", entries);
    size_t len = 0;
    char *text = o ? fhir_dump(o, &len) : NULL;
    json_decref(o);
    if (!text)
        return http_reply_error(res, 500, "out of memory");
    return http_reply_buffer(res, 200, FHIR_CONTENT_TYPE, text, len);
}

static int index_failed(http_request *req, http_response *res, const char *what)
{
    node *n = req->app;
    log_error("%s: %s", what, huren_index_errmsg(n->index));
    return http_reply_error(res, 503, "archive unavailable");
}

static int printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* A consent's fields out of the request body; NULL, or why it is refused (400). */
typedef struct consent_req {
    huren_index_consent c;
    const char *visits[HUREN_INDEX_CONSENT_MAX_VISITS];
    const char *patient;
    char scope[32];
} consent_req;

static const char *visits_parse(json_t *arr, consent_req *cr)
{
    size_t i;
    json_t *v;
    if (!arr)
        return NULL;
    if (!json_is_array(arr) || json_array_size(arr) > HUREN_INDEX_CONSENT_MAX_VISITS)
        return "visits must be an array of up to 64 visit numbers";
    json_array_foreach(arr, i, v)
    {
        if (!consent_token_valid(json_string_value(v)))
            return "malformed visit number";
        cr->visits[i] = json_string_value(v);
    }
    cr->c.visits = cr->visits;
    cr->c.nvisits = json_array_size(arr);
    return NULL;
}

static const char *times_parse(json_t *body, consent_req *cr, time_t now)
{
    const char *from = json_string_value(json_object_get(body, "valid_from"));
    const char *to = json_string_value(json_object_get(body, "expires"));
    if (json_object_get(body, "valid_from") && !from)
        return "valid_from must be a time text";
    cr->c.valid_from = now;
    if (from && consent_time_parse(from, &cr->c.valid_from) < 0)
        return "valid_from must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS(Z|+HH:MM)";
    if (!to || consent_time_parse(to, &cr->c.expires_at) < 0)
        return "expires is required: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS(Z|+HH:MM)";
    if (cr->c.expires_at <= cr->c.valid_from || cr->c.expires_at <= (int64_t)now)
        return "expires must be in the future and after valid_from";
    return NULL;
}

static const char *consent_parse(json_t *body, consent_req *cr, time_t now)
{
    const char *purpose = json_string_value(json_object_get(body, "purpose"));
    const char *bad;
    if (!json_is_object(body))
        return "body must be a JSON object";
    cr->patient = json_string_value(json_object_get(body, "patient"));
    if (!consent_token_valid(cr->patient))
        return "patient (local or national id) is required";
    if (!purpose || (strcmp(purpose, "claim") && strcmp(purpose, "recognition") &&
                     strcmp(purpose, "underwriting")))
        return "purpose must be claim, recognition or underwriting";
    cr->c.purpose = purpose[0] == 'c'   ? HUREN_INDEX_CONSENT_CLAIM
                    : purpose[0] == 'u' ? HUREN_INDEX_CONSENT_UNDERWRITING
                                        : HUREN_INDEX_CONSENT_RECOGNITION;
    cr->c.grantee = json_string_value(json_object_get(body, "grantee"));
    int any = cr->c.grantee && !strcmp(cr->c.grantee, "*");
    if (!(consent_token_valid(cr->c.grantee) ||
          (any && cr->c.purpose == HUREN_INDEX_CONSENT_RECOGNITION)))
        return "grantee must be an institution code (\"*\": any hospital, recognition only)";
    if ((bad = visits_parse(json_object_get(body, "visits"), cr)))
        return bad;
    if (cr->c.purpose == HUREN_INDEX_CONSENT_CLAIM && cr->c.nvisits == 0)
        return "a claim consent names the visits it covers";
    if (cr->c.purpose == HUREN_INDEX_CONSENT_UNDERWRITING) {
        if (cr->c.nvisits)
            return "an underwriting consent covers a period, not visits";
        if ((bad = underwriting_consent_parse(body, &cr->c, cr->scope, sizeof cr->scope, now)))
            return bad;
    }
    cr->c.form_ref = json_string_value(json_object_get(body, "form_ref"));
    if (!printable(cr->c.form_ref, FORM_REF_MAX))
        return "form_ref (the signed form's reference, up to 128 characters) is required";
    cr->c.policy_ref = json_string_value(json_object_get(body, "policy_ref"));
    if (json_object_get(body, "policy_ref") && !consent_token_valid(cr->c.policy_ref))
        return "malformed policy_ref";
    return times_parse(body, cr, now);
}

/* Every visit must be one of this patient's; its national id is taken from the record. */
static int visits_check(http_request *req, http_response *res, consent_req *cr, char *nid,
                        size_t len)
{
    node *n = req->app;
    for (size_t i = 0; i < cr->c.nvisits; i++) {
        huren_index_visit_record v;
        int rc = huren_index_visit_get(n->index, cr->c.patient_id, cr->c.visits[i], &v);
        if (rc == HUREN_INDEX_ENOTFOUND) {
            char msg[128];
            snprintf(msg, sizeof msg, "visit %s is not a visit of this patient", cr->c.visits[i]);
            http_reply_error(res, 400, msg);
            return -1;
        }
        if (rc < 0) {
            index_failed(req, res, "consent visit");
            return -1;
        }
        if (v.patient.national_id && !nid[0])
            snprintf(nid, len, "%s", v.patient.national_id);
        huren_index_visit_record_free(&v);
    }
    return 0;
}

int api_consent_create(http_request *req, http_response *res)
{
    node *n = req->app;
    time_t now = time(NULL);
    consent_req cr;
    json_error_t jerr;
    char local[128], nid[IDENTITY_ID_LEN + 1] = "", why[64];
    identity_type type;
    memset(&cr, 0, sizeof cr);
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *bad = body ? consent_parse(body, &cr, now) : "malformed JSON";
    int rc = 0;
    if (bad) {
        rc = http_reply_error(res, 400, bad);
        goto done;
    }
    int found = huren_index_rec_patient_exists(n->index, cr.patient, local, sizeof local);
    if (found == 0 && cr.c.nvisits == 0 &&
        identity_normalise(cr.patient, nid, &type, why, sizeof why) == 0) {
        /* a patient not known here yet (no ADT): the consent is kept under the resident id */
        snprintf(local, sizeof local, "%s", nid);
        found = 1;
    }
    nid[0] = 0;
    if (found <= 0) {
        rc = found < 0 ? index_failed(req, res, "consent patient")
                       : http_reply_error(res, 404, "no such patient");
        goto done;
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", local);
    cr.c.patient_id = local;
    if (visits_check(req, res, &cr, nid, sizeof nid) < 0)
        goto done;
    if (!nid[0] && identity_normalise(cr.patient, nid, &type, why, sizeof why) < 0)
        nid[0] = 0;
    cr.c.national_id = nid[0] ? nid : NULL;
    cr.c.created_by = req->actor && *req->actor ? req->actor : "unknown";
    cr.c.created_at = now;
    if (huren_index_consent_put(n->index, &cr.c, &cr.c.id) < 0) {
        rc = index_failed(req, res, "storing consent");
        goto done;
    }
    snprintf(res->audit_object, sizeof res->audit_object, "consent/%lld created",
             (long long)cr.c.id);
    log_info("consent %lld recorded (%s, grantee %s) by %s", (long long)cr.c.id,
             consent_purpose_name(cr.c.purpose), cr.c.grantee, cr.c.created_by);
    rc = reply_consent(req, res, 201, &cr.c, now);
done:
    json_decref(body);
    return rc;
}

int api_patient_consents(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *id = req->captures[0];
    char local[128];
    huren_index_consent_list l;
    if (!consent_token_valid(id))
        return http_reply_error(res, 400, "malformed patient id");
    int found = huren_index_rec_patient_exists(n->index, id, local, sizeof local);
    if (found < 0)
        return index_failed(req, res, "consents of a patient");
    if (!found)
        return http_reply_error(res, 404, "no such patient");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", local);
    snprintf(res->audit_object, sizeof res->audit_object, "consents");
    huren_index_consent_filter f = {.patient = id, .purpose = -1};
    if (huren_index_consents_find(n->index, &f, &l) < 0)
        return index_failed(req, res, "consents of a patient");
    time_t now = time(NULL);
    if (fhir_asked(req)) {
        int rc = reply_consents_fhir(req, res, &l, now);
        huren_index_consent_list_free(&l);
        return rc;
    }
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "resourceType", json_string("Bundle"));
    json_object_set_new(o, "patient_id", json_string(local));
    json_object_set_new(o, "total", json_integer((json_int_t)l.n));
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, api_consent_json(&l.items[i], now));
    json_object_set_new(o, "entry", arr);
    huren_index_consent_list_free(&l);
    return reply(res, 200, o);
}

int api_consent_revoke(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *id = req->captures[0];
    huren_index_consent_list l;
    char *end;
    if (strlen(id) > 18 || !isdigit((unsigned char)id[0]))
        return http_reply_error(res, 400, "malformed consent id");
    long long v = strtoll(id, &end, 10);
    if (*end || v <= 0)
        return http_reply_error(res, 400, "malformed consent id");
    time_t now = time(NULL);
    int rc = huren_index_consent_revoke(
        n->index, v, req->actor && *req->actor ? req->actor : "unknown", (int64_t)now);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such consent");
    if (rc < 0 || huren_index_consent_get(n->index, v, &l) < 0)
        return index_failed(req, res, "revoking consent");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", l.items[0].patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "consent/%lld revoked", v);
    log_info("consent %lld revoked by %s", v, l.items[0].revoked_by ? l.items[0].revoked_by : "");
    rc = reply_consent(req, res, 200, &l.items[0], now);
    huren_index_consent_list_free(&l);
    return rc;
}
