/* fhir_report.c: a result report as FHIR R4 (fhir.h): DiagnosticReport with its Observations
 * (lab: numeric values as Quantity with the exact number sent, coded values as
 * CodeableConcept, text as string) or with its conclusion (imaging and other exams). */
#include "fhir.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V2_0074 "http://terminology.hl7.org/CodeSystem/v2-0074"
#define V2_0203 "http://terminology.hl7.org/CodeSystem/v2-0203"
#define V3_INTERP "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#define OBS_CAT "http://terminology.hl7.org/CodeSystem/observation-category"

const char *fhir_report_status(const char *s)
{
    switch (s && *s ? s[0] : 0) {
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

static const char *obs_status(const char *s)
{
    const char *r = fhir_report_status(s);
    return strcmp(r, "partial") ? r : "preliminary"; /* Observation has no "partial" */
}

char *fhir_report_text(const huren_index_report *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int first = 1;
    for (size_t k = 0; k < r->nobs; k++) {
        const char *vt = r->obs[k].value_type ? r->obs[k].value_type : "";
        if (r->obs[k].value && *r->obs[k].value &&
            (!strcmp(vt, "TX") || !strcmp(vt, "FT") || !strcmp(vt, "ST"))) {
            fprintf(f, "%s%s", first ? "" : "\n", r->obs[k].value);
            first = 0;
        }
    }
    fclose(f);
    return out;
}

/* A number, or a comparator and a number ("<0.5", ">=100"), as a Quantity; else NULL. */
static json_t *quantity(const char *v, const char *unit)
{
    static const char *const cmp[] = {"<=", ">=", "<", ">"};
    const char *c = NULL;
    for (int i = 0; i < 4 && !c; i++)
        if (!strncmp(v, cmp[i], strlen(cmp[i])))
            c = cmp[i];
    json_t *n = fhir_decimal(c ? v + strlen(c) : v);
    if (!n)
        return NULL;
    json_t *q = json_pack("{s:o}", "value", n);
    if (c)
        json_object_set_new(q, "comparator", json_string(c));
    fhir_set_str(q, "unit", unit);
    return q;
}

/* The value of an OBX by its type: NM/SN a Quantity when it is a number, CE/CWE/CNE
 * ("code^text^system") a CodeableConcept, anything else a string (with its unit). */
static void obs_value(json_t *j, const huren_index_observation *o)
{
    const char *vt = o->value_type ? o->value_type : "";
    if (!o->value || !*o->value)
        return;
    json_t *q = !strcmp(vt, "NM") || !strcmp(vt, "SN") ? quantity(o->value, o->units) : NULL;
    if (q) {
        json_object_set_new(j, "valueQuantity", q);
        return;
    }
    if (!strcmp(vt, "CE") || !strcmp(vt, "CWE") || !strcmp(vt, "CNE")) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->value);
        char *text = strchr(buf, '^'), *system = NULL;
        if (text) {
            *text++ = 0;
            if ((system = strchr(text, '^')))
                *system++ = 0;
        }
        json_object_set_new(j, "valueCodeableConcept",
                            fhir_codeable(system, *buf ? buf : NULL, text && *text ? text : NULL));
        return;
    }
    char buf[4096];
    snprintf(buf, sizeof buf, "%s%s%s", o->value, o->units && *o->units ? " " : "",
             o->units ? o->units : "");
    json_object_set_new(j, "valueString", json_string(buf));
}

/* HL7 abnormal flags (table 0078) that v3 ObservationInterpretation has with the same code. */
static json_t *interpretation(const char *flag)
{
    static const char *const v3[] = {"H",  "L", "HH",  "LL",  "N",   "A", "AA", "HU",
                                     "LU", "<", ">",   "I",   "R",   "S", "U",  "D",
                                     "B",  "W", "IND", "NEG", "POS", NULL};
    for (int i = 0; v3[i]; i++)
        if (!strcmp(flag, v3[i]))
            return json_pack("[{s:[{s:s, s:s}]}]", "coding", "system", V3_INTERP, "code", flag);
    return json_pack("[{s:s}]", "text", flag);
}

static json_t *observation_json(const fhir_builder *b, const huren_index_observation *o,
                                const char *id, const char *report_time)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:o}", "resourceType", "Observation", "id", id, "status",
                  obs_status(o->status), "code", fhir_codeable(o->code_system, o->code, o->name),
                  "subject", fhir_ref(b, "Patient", "patient"));
    json_object_set_new(
        j, "category",
        json_pack("[{s:[{s:s, s:s}]}]", "coding", "system", OBS_CAT, "code", "laboratory"));
    /* OBX-14 when sent, else the report's OBR-7, as HL7 v2 reads it */
    const char *t = o->observed_time && *o->observed_time ? o->observed_time : report_time;
    fhir_set(j, "effectiveDateTime", fhir_datetime(t, b->offset_min));
    obs_value(j, o);
    if (o->abnormal_flags && *o->abnormal_flags)
        json_object_set_new(j, "interpretation", interpretation(o->abnormal_flags));
    if (o->reference_range && *o->reference_range)
        json_object_set_new(j, "referenceRange", json_pack("[{s:s}]", "text", o->reference_range));
    return j;
}

/* Placer, filler and accession numbers, typed by HL7 table 0203. */
static json_t *order_ids(const huren_index_report *r)
{
    const char *v[3] = {r->placer_number, r->filler_number, r->accession_number};
    static const char *const type[3] = {"PLAC", "FILL", "ACSN"};
    json_t *a = json_array();
    for (int i = 0; i < 3; i++)
        if (v[i] && *v[i])
            json_array_append_new(a, json_pack("{s:{s:[{s:s, s:s}]}, s:s}", "type", "coding",
                                               "system", V2_0203, "code", type[i], "value", v[i]));
    if (json_array_size(a))
        return a;
    json_decref(a);
    return NULL;
}

/* The report's clinical extras for the records view: order numbers, version, visit. */
static void clinical_add(const fhir_builder *b, json_t *j, const huren_index_report *r)
{
    char ver[24];
    snprintf(ver, sizeof ver, "%d", r->version > 0 ? r->version : 1);
    json_t *meta = json_pack("{s:s}", "versionId", ver);
    fhir_set(meta, "lastUpdated", fhir_instant(r->stored_at, 0));
    json_object_set_new(j, "meta", meta);
    fhir_set(j, "identifier", order_ids(r));
    if (r->visit_number && *r->visit_number)
        json_object_set_new(j, "encounter",
                            json_pack("{s:{s:s}}", "identifier", "value", r->visit_number));
    (void)b;
}

json_t *fhir_add_report(fhir_builder *b, const huren_index_report *r, const char *local_id,
                        int in_visit)
{
    char id[80];
    int exam = r->kind == HUREN_INDEX_REPORT_EXAM;
    const char *sect = r->performing_department && *r->performing_department
                           ? r->performing_department
                       : exam ? "RAD"
                              : "LAB"; /* OBR-24, diagnostic service section */
    snprintf(id, sizeof id, "report-%s", local_id);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:[{s:[{s:s, s:s}]}], s:o, s:o}", "resourceType", "DiagnosticReport", "id",
        id, "status", fhir_report_status(r->result_status), "category", "coding", "system", V2_0074,
        "code", sect, "code", fhir_codeable(r->item_system, r->item_code, r->item_name), "subject",
        fhir_ref(b, "Patient", "patient"));
    if (!j)
        return NULL;
    if (b->clinical)
        clinical_add(b, j, r);
    if (in_visit)
        json_object_set_new(j, "encounter", fhir_ref(b, "Encounter", "encounter"));
    fhir_set(j, "effectiveDateTime", fhir_datetime(r->observed_time, b->offset_min));
    fhir_set(j, "issued", fhir_instant(r->reported_time, b->offset_min));
    json_object_set_new(j, "performer", json_pack("[o]", fhir_ref(b, "Organization", "hospital")));
    if (r->specimen && *r->specimen)
        json_object_set_new(j, "specimen", json_pack("[{s:s}]", "display", r->specimen));
    if (exam) { /* an imaging or other exam report: its conclusion */
        char *text = fhir_report_text(r);
        if (text && *text)
            json_object_set_new(j, "conclusion", json_string(text));
        free(text);
        if (r->study_uid && *r->study_uid) {
            char oid[96];
            snprintf(oid, sizeof oid, "urn:oid:%s", r->study_uid);
            json_object_set_new(j, "imagingStudy",
                                json_pack("[{s:{s:s, s:s}}]", "identifier", "system",
                                          "urn:dicom:uid", "value", oid));
        }
    } else if (r->nobs) {
        json_t *results = json_array();
        for (size_t k = 0; k < r->nobs; k++) {
            char oid[96];
            snprintf(oid, sizeof oid, "obs-%s-%zu", local_id, k + 1);
            json_array_append_new(results, fhir_ref(b, "Observation", oid));
            fhir_add(b, observation_json(b, &r->obs[k], oid, r->observed_time));
        }
        json_object_set_new(j, "result", results);
    }
    if (!b->contained)
        fhir_add(b, j);
    return j;
}
