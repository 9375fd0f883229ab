/* records_fhir.c: the records API as FHIR R4 (records_fhir.h), built with the gateway's FHIR
 * builders (fhir.h) in their clinical view (order numbers, versions, local patient id). The
 * resources' full URLs are urn:uuid names derived from the patient, so the same report has the
 * same name in every answer. */
#include "records_fhir.h"
#include "node.h"
#include "fhir.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int records_fhir_wanted(http_request *req)
{
    return fhir_wanted(http_request_arg(req, "_format"), http_request_header(req, "Accept"));
}

static void builder_init(http_request *req, fhir_builder *b, const char *seed)
{
    node *n = req->app;
    const config *c = n->cfg;
    memset(b, 0, sizeof *b);
    b->seed = seed;
    b->clinical = 1;
    b->hospital = c->claims_institution && *c->claims_institution ? c->claims_institution
                                                                  : c->dir_institution;
    if (fhir_offset_parse(c->utc_offset, &b->offset_min) < 0)
        b->offset_min = 8 * 60; /* config_validate() refused it already */
}

static int reply(http_response *res, json_t *root)
{
    size_t len = 0;
    char *text = root ? fhir_dump(root, &len) : NULL;
    json_decref(root);
    if (!text)
        return http_reply_error(res, 500, "out of memory");
    return http_reply_buffer(res, 200, FHIR_CONTENT_TYPE, text, len);
}

static void search_mode(json_t *entries, size_t from, const char *mode)
{
    for (size_t i = from; i < json_array_size(entries); i++)
        json_object_set_new(json_array_get(entries, i), "search", json_pack("{s:s}", "mode", mode));
}

/* The Patient of a report list: the local id only (the reports carry no demographics). */
static void patient_add(fhir_builder *b, const char *local_id)
{
    huren_index_rec_patient p = {.patient_id = local_id};
    fhir_add_patient(b, &p);
}

int records_fhir_reports(http_request *req, http_response *res, const char *local_id,
                         const huren_index_report_list *l)
{
    fhir_builder b;
    char seed[160], ts[FHIR_TIME_LEN];
    snprintf(seed, sizeof seed, "records|%s", local_id);
    builder_init(req, &b, seed);
    b.entries = json_array();
    fhir_add_hospital(&b);
    patient_add(&b, local_id);
    search_mode(b.entries, 0, "include");
    for (size_t i = 0; i < l->n; i++) {
        char id[24];
        size_t at = json_array_size(b.entries);
        snprintf(id, sizeof id, "%lld", (long long)l->items[i].id);
        fhir_add_report(&b, &l->items[i], id, 0);
        search_mode(b.entries, at, "include"); /* its Observations, then the report itself */
        json_object_set_new(json_array_get(b.entries, json_array_size(b.entries) - 1), "search",
                            json_pack("{s:s}", "mode", "match"));
    }
    fhir_time_format(time(NULL), b.offset_min, ts);
    return reply(res, json_pack("{s:s, s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type",
                                "searchset", "timestamp", ts, "total", (json_int_t)l->n, "entry",
                                b.entries));
}

int records_fhir_report(http_request *req, http_response *res, const huren_index_report *r)
{
    fhir_builder b;
    char seed[160], id[24];
    snprintf(seed, sizeof seed, "records|%s", r->patient_id ? r->patient_id : "");
    builder_init(req, &b, seed);
    b.contained = json_array();
    fhir_add_hospital(&b);
    patient_add(&b, r->patient_id);
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    json_t *j = fhir_add_report(&b, r, id, 0);
    if (!j) {
        json_decref(b.contained);
        return http_reply_error(res, 500, "out of memory");
    }
    /* contained resources come right after the id and meta */
    json_t *out =
        json_pack("{s:s, s:O}", "resourceType", "DiagnosticReport", "id", json_object_get(j, "id"));
    const char *key;
    json_t *v;
    fhir_set(out, "meta", json_incref(json_object_get(j, "meta")));
    json_object_set_new(out, "contained", b.contained);
    json_object_foreach(j, key, v)
    {
        if (!json_object_get(out, key))
            json_object_set(out, key, v);
    }
    json_decref(j);
    return reply(res, out);
}

int records_fhir_visit(http_request *req, http_response *res, const huren_index_visit_record *v)
{
    fhir_builder b;
    char seed[160], ts[FHIR_TIME_LEN];
    int64_t total = 0;
    snprintf(seed, sizeof seed, "records|%s", v->patient.patient_id ? v->patient.patient_id : "");
    builder_init(req, &b, seed);
    b.entries = json_array();
    fhir_add_hospital(&b);
    fhir_add_patient(&b, &v->patient);
    if (!fhir_add_visit(&b, v, &total)) {
        json_decref(b.entries);
        return http_reply_error(res, 500, "out of memory");
    }
    fhir_time_format(time(NULL), b.offset_min, ts);
    return reply(res, json_pack("{s:s, s:s, s:s, s:o}", "resourceType", "Bundle", "type",
                                "collection", "timestamp", ts, "entry", b.entries));
}
