/* api_records.c: the clinical records REST API: GET /api/v1/patients/{id}/reports, GET
 * /api/v1/reports/{id} (with the versions it replaced), GET /api/v1/patients/{id}/visits/{visit}.
 * By default huren's own JSON, whose shapes are named after FHIR R4 (DiagnosticReport with
 * Observation, Encounter with Condition and ChargeItem; money as exact decimal text and
 * integer fen); FHIR R4 itself when the client asks for it (records_fhir.c). */
#define LOG_COMPONENT "api"
#include "records.h"
#include "node.h"
#include "log.h"
#include "records/records_fhir.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 64

/* Local and national patient ids, visit numbers, item codes: 1..64 of [A-Za-z0-9._-]. */
static int id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *coding(const char *code, const char *display, const char *system)
{
    json_t *c = json_object();
    set_str(c, "code", code);
    set_str(c, "display", display);
    set_str(c, "system", system);
    return c;
}

/* HL7 result status (table 0123) to FHIR DiagnosticReport/Observation status. */
static const char *fhir_status(const char *s)
{
    if (!s || !*s)
        return "unknown";
    switch (s[0]) {
    case 'F':
        return "final";
    case 'C':
        return "corrected";
    case 'P':
    case 'I':
    case 'S':
    case 'R':
        return "preliminary";
    case 'X':
    case 'D':
    case 'W':
        return "cancelled";
    case 'A':
        return "partial";
    default:
        return "unknown";
    }
}

static char *money(int64_t fen, char *buf, size_t len)
{
    unsigned long long a = fen < 0 ? (unsigned long long)(-(fen + 1)) + 1 : (unsigned long long)fen;
    snprintf(buf, len, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
    return buf;
}

static json_t *observation_json(const huren_index_observation *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "resourceType", json_string("Observation"));
    set_str(j, "set_id", o->set_id);
    json_object_set_new(j, "status", json_string(fhir_status(o->status)));
    set_str(j, "result_status", o->status);
    json_object_set_new(j, "code", coding(o->code, o->name, o->code_system));
    set_str(j, "value_type", o->value_type);
    set_str(j, "value", o->value);
    set_str(j, "unit", o->units);
    set_str(j, "reference_range", o->reference_range);
    set_str(j, "interpretation", o->abnormal_flags);
    set_str(j, "effective", o->observed_time);
    return j;
}

static json_t *report_json(const huren_index_report *r)
{
    json_t *j = json_object(), *ids = json_object(), *src = json_object();
    json_t *orderer = json_object(), *performer = json_object(), *obs = json_array();
    json_object_set_new(j, "resourceType", json_string("DiagnosticReport"));
    json_object_set_new(j, "id", json_integer(r->id));
    json_object_set_new(j, "version", json_integer(r->version));
    json_object_set_new(j, "status", json_string(fhir_status(r->result_status)));
    set_str(j, "result_status", r->result_status);
    json_object_set_new(j, "category",
                        json_string(r->kind == HUREN_INDEX_REPORT_EXAM ? "exam" : "lab"));
    json_object_set_new(j, "code", coding(r->item_code, r->item_name, r->item_system));
    set_str(j, "patient_id", r->patient_id);
    set_str(j, "encounter", r->visit_number);
    set_str(ids, "placer", r->placer_number);
    set_str(ids, "filler", r->filler_number);
    set_str(ids, "accession", r->accession_number);
    json_object_set_new(j, "identifier", ids);
    set_str(j, "specimen", r->specimen);
    set_str(j, "requested", r->requested_time);
    set_str(j, "effective", r->observed_time);
    set_str(j, "issued", r->reported_time);
    set_str(orderer, "institution", r->ordering_institution);
    set_str(orderer, "department", r->ordering_department);
    json_object_set_new(j, "orderer", orderer);
    set_str(performer, "institution", r->performing_institution);
    set_str(performer, "department", r->performing_department);
    json_object_set_new(j, "performer", performer);
    set_str(j, "imaging_study", r->study_uid);
    set_str(src, "application", r->sender_app);
    set_str(src, "facility", r->sender_facility);
    set_str(src, "message_id", r->message_id);
    json_object_set_new(j, "source", src);
    set_str(j, "stored_at", r->stored_at);
    set_str(j, "replaced_at", r->replaced_at);
    for (size_t k = 0; k < r->nobs; k++)
        json_array_append_new(obs, observation_json(&r->obs[k]));
    json_object_set_new(j, "result", obs);
    return j;
}

static int reply(http_response *res, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return http_reply_json(res, 200, text);
}

static int index_failed(http_request *req, http_response *res, const char *what)
{
    node *n = req->app;
    log_error("%s: %s", what, huren_index_errmsg(n->index));
    return http_reply_error(res, 503, "archive unavailable");
}

/* Checks the optional ?kind=lab|exam&item=CODE&since=YYYYMMDD[&limit=N]. */
static const char *filter_parse(http_request *req, huren_index_report_filter *f)
{
    const char *kind = http_request_arg(req, "kind"), *item = http_request_arg(req, "item");
    const char *since = http_request_arg(req, "since"), *limit = http_request_arg(req, "limit");
    f->kind = -1;
    if (kind && strcmp(kind, "lab") && strcmp(kind, "exam"))
        return "kind must be lab or exam";
    if (kind)
        f->kind = kind[0] == 'e' ? HUREN_INDEX_REPORT_EXAM : HUREN_INDEX_REPORT_LAB;
    if (item && !id_valid(item))
        return "malformed item code";
    f->item_code = item;
    if (since && (strlen(since) != 8 || strspn(since, "0123456789") != 8))
        return "since must be YYYYMMDD";
    f->since = since;
    if (limit) {
        char *end;
        long l = strtol(limit, &end, 10);
        if (*end || l < 1 || l > 100000)
            return "limit must be 1..100000";
        f->limit = (size_t)l;
    }
    return NULL;
}

int api_patient_reports(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *id = req->captures[0];
    huren_index_report_filter f = {0};
    huren_index_report_list l;
    char local[ID_MAX * 2];
    const char *bad = id_valid(id) ? filter_parse(req, &f) : "malformed patient id";
    if (bad)
        return http_reply_error(res, 400, bad);
    int found = huren_index_rec_patient_exists(n->index, id, local, sizeof local);
    if (found < 0)
        return index_failed(req, res, "reports of a patient");
    if (!found)
        return http_reply_error(res, 404, "no such patient");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", local);
    snprintf(res->audit_object, sizeof res->audit_object, "reports");
    if (huren_index_reports_find(n->index, id, &f, &l) < 0)
        return index_failed(req, res, "reports of a patient");
    if (records_fhir_wanted(req)) {
        int rc = records_fhir_reports(req, res, local, &l);
        huren_index_report_list_free(&l);
        return rc;
    }
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "resourceType", json_string("Bundle"));
    json_object_set_new(o, "patient_id", json_string(local));
    json_object_set_new(o, "total", json_integer((json_int_t)l.n));
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, report_json(&l.items[i]));
    json_object_set_new(o, "entry", arr);
    huren_index_report_list_free(&l);
    return reply(res, o);
}

int api_report(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *id = req->captures[0];
    huren_index_report_list l;
    char *end;
    if (strlen(id) > 18 || !isdigit((unsigned char)id[0]))
        return http_reply_error(res, 400, "malformed report id");
    long long v = strtoll(id, &end, 10);
    if (*end || v <= 0)
        return http_reply_error(res, 400, "malformed report id");
    int rc = huren_index_report_get(n->index, v, &l);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such report");
    if (rc < 0)
        return index_failed(req, res, "one report");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s",
             l.items[0].patient_id ? l.items[0].patient_id : "");
    snprintf(res->audit_object, sizeof res->audit_object, "report/%lld", v);
    if (records_fhir_wanted(req)) { /* the current version (its history: the default form) */
        rc = records_fhir_report(req, res, &l.items[0]);
        huren_index_report_list_free(&l);
        return rc;
    }
    json_t *o = report_json(&l.items[0]), *hist = json_array();
    for (size_t i = 1; i < l.n; i++)
        json_array_append_new(hist, report_json(&l.items[i]));
    json_object_set_new(o, "history", hist);
    huren_index_report_list_free(&l);
    return reply(res, o);
}

static json_t *charge_json(const huren_index_charge *c)
{
    char buf[32];
    json_t *j = json_object();
    json_object_set_new(j, "resourceType", json_string("ChargeItem"));
    set_str(j, "transaction_id", c->transaction_id);
    json_object_set_new(j, "code", coding(c->item_code, c->item_name, NULL));
    set_str(j, "quantity", c->quantity);
    if (c->has_unit_price) {
        json_object_set_new(j, "unit_price",
                            json_string(money(c->unit_price_fen, buf, sizeof buf)));
        json_object_set_new(j, "unit_price_fen", json_integer(c->unit_price_fen));
    }
    json_object_set_new(j, "amount", json_string(money(c->amount_fen, buf, sizeof buf)));
    json_object_set_new(j, "amount_fen", json_integer(c->amount_fen));
    set_str(j, "date", c->charged_time);
    set_str(j, "department", c->department);
    return j;
}

static json_t *visit_json(const huren_index_visit_record *v)
{
    char buf[32];
    json_t *j = json_object(), *p = json_object(), *period = json_object();
    json_t *dg = json_array(), *ch = json_array();
    json_object_set_new(j, "resourceType", json_string("Encounter"));
    set_str(j, "visit_number", v->visit.visit_number);
    set_str(j, "class", v->visit.visit_class);
    set_str(j, "department", v->visit.department);
    set_str(period, "start", v->visit.admit_time);
    set_str(period, "end", v->visit.discharge_time);
    json_object_set_new(j, "period", period);
    set_str(p, "patient_id", v->patient.patient_id);
    set_str(p, "national_id", v->patient.national_id);
    set_str(p, "name", v->patient.name);
    set_str(p, "sex", v->patient.sex);
    set_str(p, "birth_date", v->patient.birth_date);
    json_object_set_new(j, "patient", p);
    for (size_t i = 0; i < v->ndiagnoses; i++) {
        const huren_index_diagnosis *d = &v->diagnoses[i];
        json_t *c = json_object();
        json_object_set_new(c, "resourceType", json_string("Condition"));
        set_str(c, "set_id", d->set_id);
        json_object_set_new(c, "code", coding(d->code, d->description, d->code_system));
        set_str(c, "type", d->type);
        set_str(c, "recorded", d->diagnosed_time);
        json_array_append_new(dg, c);
    }
    json_object_set_new(j, "diagnoses", dg);
    for (size_t i = 0; i < v->ncharges; i++)
        json_array_append_new(ch, charge_json(&v->charges[i]));
    json_object_set_new(j, "charges", ch);
    json_object_set_new(j, "total", json_string(money(v->total_fen, buf, sizeof buf)));
    json_object_set_new(j, "total_fen", json_integer(v->total_fen));
    return j;
}

int api_patient_visit(http_request *req, http_response *res)
{
    node *n = req->app;
    huren_index_visit_record v;
    if (!id_valid(req->captures[0]))
        return http_reply_error(res, 400, "malformed patient id");
    if (!id_valid(req->captures[1]))
        return http_reply_error(res, 400, "malformed visit number");
    int rc = huren_index_visit_get(n->index, req->captures[0], req->captures[1], &v);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such visit for this patient");
    if (rc < 0)
        return index_failed(req, res, "one visit");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", v.patient.patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "visit/%s", v.visit.visit_number);
    if (records_fhir_wanted(req)) {
        rc = records_fhir_visit(req, res, &v);
        huren_index_visit_record_free(&v);
        return rc;
    }
    json_t *o = visit_json(&v);
    huren_index_visit_record_free(&v);
    return reply(res, o);
}
