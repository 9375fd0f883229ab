/* claim_bundle.c: builds the claim Bundle of one visit (claim_bundle.h) with jansson. Only the
 * fields a claim needs are copied: no local patient id, address, phone, order numbers, sender
 * or other visits. Numbers that must stay exact (money, results) are written as the decimal
 * text they came as, never through a double. */
#include "claim_bundle.h"
#include "consent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ICD10 "http://hl7.org/fhir/sid/icd-10"
#define LOINC "http://loinc.org"
#define CN_ID_SYSTEM "urn:huren:id:CN-ID" /* resident id number (GB 11643) */

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static char *money(int64_t fen, char *buf, size_t len)
{
    unsigned long long a = fen < 0 ? (unsigned long long)(-(fen + 1)) + 1 : (unsigned long long)fen;
    snprintf(buf, len, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
    return buf;
}

static json_t *money_json(int64_t fen)
{
    char buf[32];
    return json_pack("{s:s, s:s, s:I}", "value", money(fen, buf, sizeof buf), "currency", "CNY",
                     "value_fen", (json_int_t)fen);
}

/* HL7 "YYYYMMDD[HHMM[SS]]" as FHIR "YYYY-MM-DD[THH:MM[:SS]]"; other text as it is. */
static json_t *when(const char *v)
{
    char buf[32];
    size_t n = v ? strlen(v) : 0;
    if (!n)
        return NULL;
    if (n != 8 && n != 12 && n != 14)
        return json_string(v);
    int k = snprintf(buf, sizeof buf, "%.4s-%.2s-%.2s", v, v + 4, v + 6);
    if (n >= 12)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "T%.2s:%.2s", v + 8, v + 10);
    if (n == 14)
        snprintf(buf + k, sizeof buf - (size_t)k, ":%.2s", v + 12);
    return json_string(buf);
}

static void set_when(json_t *o, const char *key, const char *v)
{
    json_t *w = when(v);
    if (w)
        json_object_set_new(o, key, w);
}

static json_t *codeable(const char *system, const char *code, const char *display)
{
    json_t *c = json_object();
    set_str(c, "system", system);
    set_str(c, "code", code);
    set_str(c, "display", display);
    return json_pack("{s:[o]}", "coding", c);
}

static json_t *ref(const char *type, const char *id)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s/%s", type, id);
    return json_pack("{s:s}", "reference", buf);
}

static void entry(json_t *entries, json_t *res)
{
    char url[128];
    snprintf(url, sizeof url, "urn:huren:%s/%s",
             json_string_value(json_object_get(res, "resourceType")),
             json_string_value(json_object_get(res, "id")));
    json_array_append_new(entries, json_pack("{s:s, s:o}", "fullUrl", url, "resource", res));
}

static json_t *patient_json(const huren_index_rec_patient *p)
{
    json_t *j = json_pack("{s:s, s:s}", "resourceType", "Patient", "id", "patient");
    if (p->national_id)
        json_object_set_new(j, "identifier",
                            json_pack("[{s:s, s:s}]", "system", CN_ID_SYSTEM, "value",
                                      p->national_id));
    if (p->name) {
        json_t *name = json_object();
        const char *caret = strchr(p->name, '^');
        char text[512];
        if (caret) {
            json_object_set_new(name, "family", json_stringn(p->name, (size_t)(caret - p->name)));
            json_object_set_new(name, "given", json_pack("[s]", caret + 1));
            snprintf(text, sizeof text, "%.*s%s", (int)(caret - p->name), p->name, caret + 1);
        } else {
            snprintf(text, sizeof text, "%s", p->name);
        }
        json_object_set_new(name, "text", json_string(text));
        json_object_set_new(j, "name", json_pack("[o]", name));
    }
    const char *g = !p->sex ? NULL
                    : p->sex[0] == 'M' ? "male"
                    : p->sex[0] == 'F' ? "female"
                    : p->sex[0] == 'O' ? "other"
                                       : "unknown";
    set_str(j, "gender", g);
    set_when(j, "birthDate", p->birth_date);
    return j;
}

static json_t *encounter_json(const huren_index_visit *v)
{
    const char *c = v->visit_class ? v->visit_class : "";
    const char *cls = c[0] == 'I' ? "IMP" : c[0] == 'E' ? "EMER" : c[0] == 'O' ? "AMB" : NULL;
    json_t *j = json_pack("{s:s, s:s, s:[{s:s}], s:s, s:o}", "resourceType", "Encounter", "id",
                          "encounter", "identifier", "value", v->visit_number, "status",
                          v->discharge_time ? "finished" : "in-progress", "subject",
                          ref("Patient", "patient"));
    if (cls)
        json_object_set_new(j, "class",
                            json_pack("{s:s, s:s}", "system",
                                      "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code",
                                      cls));
    if (v->department)
        json_object_set_new(j, "serviceType", json_pack("{s:s}", "text", v->department));
    json_t *period = json_object();
    set_when(period, "start", v->admit_time);
    set_when(period, "end", v->discharge_time);
    json_object_set_new(j, "period", period);
    return j;
}

static json_t *condition_json(const huren_index_diagnosis *d, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "condition-%zu", i + 1);
    const char *t = d->type ? d->type : "";
    const char *cat = t[0] == 'A' ? "admitting" : t[0] == 'W' ? "working" : t[0] == 'F' ? "final"
                                                                                      : NULL;
    json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o}", "resourceType", "Condition", "id", id,
                          "code", codeable(ICD10, d->code, d->description), "subject",
                          ref("Patient", "patient"), "encounter", ref("Encounter", "encounter"));
    if (cat)
        json_object_set_new(j, "category", json_pack("[{s:s}]", "text", cat));
    set_when(j, "recordedDate", d->diagnosed_time);
    return j;
}

static json_t *charge_json(const huren_index_charge *c, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "charge-%zu", i + 1);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "resourceType", "ChargeItem", "id",
                          id, "status", "billable", "code",
                          codeable(NULL, c->item_code, c->item_name), "subject",
                          ref("Patient", "patient"), "context", ref("Encounter", "encounter"));
    if (c->transaction_id)
        json_object_set_new(j, "identifier", json_pack("[{s:s}]", "value", c->transaction_id));
    if (c->quantity)
        json_object_set_new(j, "quantity", json_pack("{s:s}", "value", c->quantity));
    if (c->has_unit_price)
        json_object_set_new(j, "unitPrice", money_json(c->unit_price_fen));
    json_object_set_new(j, "priceOverride", money_json(c->amount_fen));
    set_when(j, "occurrenceDateTime", c->charged_time);
    if (c->department)
        json_object_set_new(j, "performingOrganization", json_pack("{s:s}", "display",
                                                                    c->department));
    return j;
}

/* The Invoice: one line per ChargeItem and their exact total. */
static json_t *invoice_json(const huren_index_visit_record *v, int64_t *total)
{
    json_t *lines = json_array();
    *total = 0;
    for (size_t i = 0; i < v->ncharges; i++) {
        char id[32];
        snprintf(id, sizeof id, "charge-%zu", i + 1);
        json_array_append_new(lines, json_pack("{s:I, s:o}", "sequence", (json_int_t)(i + 1),
                                               "chargeItemReference", ref("ChargeItem", id)));
        *total += v->charges[i].amount_fen;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "resourceType", "Invoice", "id",
                     "invoice", "status", "issued", "subject", ref("Patient", "patient"),
                     "lineItem", lines, "totalNet", money_json(*total), "totalGross",
                     money_json(*total));
}

static const char *fhir_status(const char *s)
{
    switch (s && *s ? s[0] : 0) {
    case 'F':
        return "final";
    case 'C':
        return "corrected";
    case 'P': case 'I': case 'S': case 'R':
        return "preliminary";
    case 'X': case 'D': case 'W':
        return "cancelled";
    case 'A':
        return "partial";
    default:
        return "unknown";
    }
}

static json_t *observation_json(const huren_index_observation *o, const char *id)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o}", "resourceType", "Observation", "id", id,
                          "status", fhir_status(o->status), "code",
                          codeable(o->code_system, o->code, o->name), "subject",
                          ref("Patient", "patient"));
    if (o->value && o->value_type && !strcmp(o->value_type, "NM")) {
        json_t *q = json_pack("{s:s}", "value", o->value); /* as sent: never rounded */
        set_str(q, "unit", o->units);
        json_object_set_new(j, "valueQuantity", q);
    } else if (o->value) {
        json_object_set_new(j, "valueString", json_string(o->value));
        set_str(j, "unit", o->units);
    }
    if (o->reference_range)
        json_object_set_new(j, "referenceRange", json_pack("[{s:s}]", "text", o->reference_range));
    if (o->abnormal_flags)
        json_object_set_new(j, "interpretation",
                            json_pack("[o]", codeable(NULL, o->abnormal_flags, NULL)));
    set_when(j, "effectiveDateTime", o->observed_time);
    return j;
}

/* The text of a report's TX/FT/ST observations, one per line ("" when none). */
static char *report_text(const huren_index_report *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int first = 1;
    for (size_t k = 0; k < r->nobs; k++) {
        const char *vt = r->obs[k].value_type ? r->obs[k].value_type : "";
        if (r->obs[k].value && (!strcmp(vt, "TX") || !strcmp(vt, "FT") || !strcmp(vt, "ST"))) {
            fprintf(f, "%s%s", first ? "" : "\n", r->obs[k].value);
            first = 0;
        }
    }
    fclose(f);
    return out;
}

int claim_bundle_is_discharge_summary(const huren_index_report *r)
{
    const char *c = r->item_code ? r->item_code : "";
    return !strcmp(c, "18842-5") || !strcmp(c, "11490-0") ||
           (r->performing_department && !strcmp(r->performing_department, "DS"));
}

static json_t *report_json(const huren_index_report *r, size_t i, json_t *entries)
{
    char id[32];
    snprintf(id, sizeof id, "report-%zu", i + 1);
    int exam = r->kind == HUREN_INDEX_REPORT_EXAM;
    json_t *j = json_pack("{s:s, s:s, s:s, s:[o], s:o, s:o, s:o}", "resourceType",
                          "DiagnosticReport", "id", id, "status", fhir_status(r->result_status),
                          "category", codeable(NULL, exam ? "RAD" : "LAB",
                                               exam ? "imaging" : "laboratory"),
                          "code", codeable(r->item_system, r->item_code, r->item_name), "subject",
                          ref("Patient", "patient"), "encounter", ref("Encounter", "encounter"));
    set_when(j, "effectiveDateTime", r->observed_time);
    set_when(j, "issued", r->reported_time);
    set_str(j, "specimen_text", r->specimen);
    if (exam) { /* an imaging report: its conclusion only */
        char *text = report_text(r);
        if (text && *text)
            json_object_set_new(j, "conclusion", json_string(text));
        free(text);
        if (r->study_uid)
            json_object_set_new(j, "imagingStudy",
                                json_pack("[{s:{s:s, s:s}}]", "identifier", "system",
                                          "urn:dicom:uid", "value", r->study_uid));
        return j;
    }
    json_t *results = json_array();
    for (size_t k = 0; k < r->nobs; k++) {
        char oid[48];
        snprintf(oid, sizeof oid, "obs-%zu-%zu", i + 1, k + 1);
        json_array_append_new(results, ref("Observation", oid));
        entry(entries, observation_json(&r->obs[k], oid));
    }
    json_object_set_new(j, "result", results);
    return j;
}

static json_t *discharge_json(const huren_index_report *r, const char *text)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:[{s:s, s:s}]}", "resourceType",
                          "Composition", "id", "discharge-summary", "status",
                          fhir_status(r->result_status), "type",
                          codeable(LOINC, "18842-5", "Discharge summary"), "subject",
                          ref("Patient", "patient"), "encounter", ref("Encounter", "encounter"),
                          "title", "Discharge summary", "section", "title",
                          r->item_name ? r->item_name : "Discharge summary", "text", text);
    set_when(j, "date", r->reported_time ? r->reported_time : r->observed_time);
    return j;
}

static void reports_add(const huren_index_report_list *l, json_t *entries)
{
    int discharge_done = 0;
    for (size_t i = 0; l && i < l->n; i++) {
        const huren_index_report *r = &l->items[i];
        if (claim_bundle_is_discharge_summary(r)) {
            char *text = report_text(r);
            if (text && *text && !discharge_done) { /* the newest one */
                entry(entries, discharge_json(r, text));
                discharge_done = 1;
            }
            free(text);
            continue;
        }
        entry(entries, report_json(r, i, entries));
    }
}

char *claim_bundle_build(const claim_bundle_input *in, size_t *len)
{
    const huren_index_visit_record *v = in->visit;
    char ts[32], tot[32];
    int64_t total = 0;
    json_t *entries = json_array();
    entry(entries, patient_json(&v->patient));
    entry(entries, encounter_json(&v->visit));
    for (size_t i = 0; i < v->ndiagnoses; i++)
        entry(entries, condition_json(&v->diagnoses[i], i));
    for (size_t i = 0; i < v->ncharges; i++)
        entry(entries, charge_json(&v->charges[i], i));
    json_t *invoice = invoice_json(v, &total);
    entry(entries, invoice);
    reports_add(in->reports, entries);
    json_t *claim = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:I}", "request_id",
                              in->request_id, "insurer", in->insurer, "hospital",
                              in->hospital ? in->hospital : "", "consent",
                              (json_int_t)in->consent_id, "visit", v->visit.visit_number,
                              "charges", (json_int_t)v->ncharges, "total",
                              money(total, tot, sizeof tot), "total_fen", (json_int_t)total);
    json_t *b = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:o, s:o}", "resourceType", "Bundle",
                          "type", "collection", "identifier", "system", "urn:huren:claim",
                          "value", in->claim_id, "timestamp",
                          consent_time_format((int64_t)in->now, ts), "claim", claim, "entry",
                          entries);
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (text && len)
        *len = strlen(text);
    return text;
}
