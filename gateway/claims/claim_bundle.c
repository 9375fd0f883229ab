/* claim_bundle.c: builds the claim Bundle of one visit (claim_bundle.h) as FHIR R4 with the
 * gateway's FHIR builders (fhir.h). Only the fields a claim needs are copied: no local patient
 * id, address, phone, order numbers, sender or other visits. Money and numeric results are
 * JSON numbers written from their exact text (integer fen, the value sent), never through a
 * double. */
#include "claim_bundle.h"
#include "fhir.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOINC "http://loinc.org"

static json_t *sub(const char *url, const char *type, json_t *value)
{
    return json_pack("{s:s, s:o}", "url", url, type, value);
}

static json_t *institution(const char *code)
{
    return json_pack("{s:s, s:s}", "system", FHIR_SID_INSTITUTION, "value", code);
}

/* The claim summary, an extension of the Invoice (docs/api/claims.md). */
static json_t *claim_extension(const claim_bundle_input *in, int64_t total)
{
    char fen[32], consent[32];
    snprintf(fen, sizeof fen, "%lld", (long long)total);
    snprintf(consent, sizeof consent, "%lld", (long long)in->consent_id);
    json_t *e = json_array();
    json_array_append_new(e, sub("request-id", "valueString", json_string(in->request_id)));
    json_array_append_new(e, sub("insurer", "valueIdentifier", institution(in->insurer)));
    if (in->hospital && *in->hospital)
        json_array_append_new(e, sub("hospital", "valueIdentifier", institution(in->hospital)));
    json_array_append_new(e, sub("consent", "valueString", json_string(consent)));
    json_array_append_new(e,
                          sub("visit", "valueString", json_string(in->visit->visit.visit_number)));
    json_array_append_new(
        e, sub("charges", "valueUnsignedInt", json_integer((json_int_t)in->visit->ncharges)));
    json_array_append_new(e, sub("total-fen", "valueDecimal", fhir_decimal(fen)));
    if (in->version > 0)
        json_array_append_new(
            e, sub("version", "valuePositiveInt", json_integer((json_int_t)in->version)));
    if (in->replaces)
        json_array_append_new(e, sub("replaces", "valueString", json_string(in->replaces)));
    for (size_t i = 0; i < in->nchanges; i++)
        json_array_append_new(e, sub("change", "valueString", json_string(in->changes[i])));
    return json_pack("[{s:s, s:o}]", "url", FHIR_EXT_CLAIM, "extension", e);
}

int claim_bundle_is_discharge_summary(const huren_index_report *r)
{
    const char *c = r->item_code ? r->item_code : "";
    return !strcmp(c, "18842-5") || !strcmp(c, "11490-0") ||
           (r->performing_department && !strcmp(r->performing_department, "DS"));
}

/* Text as an XHTML div (Narrative.div): escaped, one <br/> per line break. */
static json_t *narrative(const char *text)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("<div xmlns=\"http://www.w3.org/1999/xhtml\">", f);
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '\r':
            break;
        case '\n':
            fputs("<br/>", f);
            break;
        default:
            fputc(*p, f);
        }
    }
    fputs("</div>", f);
    fclose(f);
    json_t *n = json_pack("{s:s, s:s}", "status", "generated", "div", out);
    free(out);
    return n;
}

static const char *composition_status(const char *hl7)
{
    const char *s = fhir_report_status(hl7);
    return !strcmp(s, "final")       ? "final"
           : !strcmp(s, "corrected") ? "amended"
           : !strcmp(s, "cancelled") ? "entered-in-error"
                                     : "preliminary";
}

static json_t *discharge_json(fhir_builder *b, const huren_index_report *r, const char *text,
                              const char *now)
{
    json_t *date = fhir_datetime(r->reported_time, b->offset_min);
    if (!date)
        date = fhir_datetime(r->observed_time, b->offset_min);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:[o], s:s, s:o, s:[{s:s, s:o}]}", "resourceType",
        "Composition", "id", "discharge-summary", "status", composition_status(r->result_status),
        "type", fhir_codeable(LOINC, "18842-5", "Discharge summary"), "subject",
        fhir_ref(b, "Patient", "patient"), "encounter", fhir_ref(b, "Encounter", "encounter"),
        "date", date ? date : json_string(now), "author", fhir_ref(b, "Organization", "hospital"),
        "title", "Discharge summary", "custodian", fhir_ref(b, "Organization", "hospital"),
        "section", "title", r->item_name && *r->item_name ? r->item_name : "Discharge summary",
        "text", narrative(text));
    return j;
}

/* The ImagingStudy of an exam report: what this hospital holds of it, with the pixel
 * provenance (docs/api/claims.md): numberOfInstances counts every instance held, the
 * extension's instances those in the root. A study not held here has 0 and no root. */
static int imaging_study_add(fhir_builder *b, const claim_bundle_input *in,
                             const huren_index_report *r, const char *local)
{
    huren_index_provenance pv;
    if (!in->provenance || !r->study_uid || !*r->study_uid)
        return 0;
    if (in->provenance(r->study_uid, &pv, in->provenance_payload) < 0)
        return -1;
    char id[40], oid[96];
    snprintf(id, sizeof id, "study-%s", local);
    snprintf(oid, sizeof oid, "urn:oid:%s", r->study_uid);
    json_t *ext = json_array();
    json_array_append_new(
        ext, sub("instances", "valueUnsignedInt", json_integer((json_int_t)pv.fingerprinted)));
    if (pv.root[0])
        json_array_append_new(ext, sub("root", "valueString", json_string(pv.root)));
    json_t *j =
        json_pack("{s:s, s:s, s:[{s:s, s:o}], s:[{s:s, s:s}], s:s, s:o, s:I}", "resourceType",
                  "ImagingStudy", "id", id, "extension", "url", FHIR_EXT_PIXEL_PROVENANCE,
                  "extension", ext, "identifier", "system", "urn:dicom:uid", "value", oid, "status",
                  pv.instances > 0 ? "available" : "unknown", "subject",
                  fhir_ref(b, "Patient", "patient"), "numberOfInstances", (json_int_t)pv.instances);
    if (!j)
        return -1;
    fhir_add(b, j);
    return 0;
}

static int reports_add(fhir_builder *b, const claim_bundle_input *in, const char *now)
{
    int rc = 0;
    const huren_index_report_list *l = in->reports;
    int discharge_done = 0;
    for (size_t i = 0; l && i < l->n; i++) {
        const huren_index_report *r = &l->items[i];
        char local[24];
        if (claim_bundle_is_discharge_summary(r)) {
            char *text = fhir_report_text(r);
            if (text && *text && !discharge_done) { /* the newest one */
                fhir_add(b, discharge_json(b, r, text, now));
                discharge_done = 1;
            }
            free(text);
            continue;
        }
        snprintf(local, sizeof local, "%zu", i + 1);
        fhir_add_report(b, r, local, 1);
        if (r->kind == HUREN_INDEX_REPORT_EXAM && imaging_study_add(b, in, r, local) < 0)
            rc = -1;
    }
    return rc;
}

char *claim_bundle_build(const claim_bundle_input *in, size_t *len)
{
    const huren_index_visit_record *v = in->visit;
    char ts[FHIR_TIME_LEN];
    int64_t total = 0;
    fhir_builder b = {.seed = in->claim_id,
                      .offset_min = in->offset_min,
                      .hospital = in->hospital,
                      .entries = json_array()};
    fhir_time_format(in->now, in->offset_min, ts);
    fhir_add_hospital(&b);
    fhir_add_patient(&b, &v->patient);
    json_t *invoice = fhir_add_visit(&b, v, &total);
    if (invoice) {
        json_object_set_new(invoice, "extension", claim_extension(in, total));
        json_object_set_new(invoice, "recipient",
                            json_pack("{s:o}", "identifier", institution(in->insurer)));
        json_object_set_new(invoice, "date", json_string(ts));
    }
    int failed = reports_add(&b, in, ts) < 0;
    json_t *bundle =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:o}", "resourceType", "Bundle", "id",
                  in->claim_id, "identifier", "system", "urn:huren:claim", "value", in->claim_id,
                  "type", "collection", "timestamp", ts, "entry", b.entries);
    char *text = invoice && bundle && !failed ? fhir_dump(bundle, len) : NULL;
    json_decref(bundle);
    return text;
}
