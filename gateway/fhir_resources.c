/* fhir_resources.c: FHIR R4 resources of a visit (Organization, Patient, Encounter, Condition,
 * ChargeItem, Invoice) and of a report (DiagnosticReport, Observation) built from archive
 * records (fhir.h), placed as Bundle entries with urn:uuid full URLs or contained in one
 * resource. Unit prices are written the R4 way: Invoice.lineItem.priceComponent. */
#include "fhir.h"
#include "index/index_records.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V3_ACT "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define V2_0052 "http://terminology.hl7.org/CodeSystem/v2-0052"
#define COND_CAT "http://terminology.hl7.org/CodeSystem/condition-category"
#define COND_VER "http://terminology.hl7.org/CodeSystem/condition-ver-status"

/* UUID version 5 (RFC 4122, SHA-1) of "seed|type/id" in our own namespace: the same claim
 * always names its resources the same way, and two claims never share a name. */
static void uuid5(const char *seed, const char *type, const char *id, char out[37])
{
    static const unsigned char ns[16] = {0x6b, 0x1d, 0x3a, 0x52, 0x0e, 0x4f, 0x4c, 0x8a,
                                         0x9d, 0x2e, 0x71, 0x5f, 0x48, 0x9c, 0x30, 0xa7};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(c, ns, sizeof ns) != 1 ||
        EVP_DigestUpdate(c, seed ? seed : "", seed ? strlen(seed) : 0) != 1 ||
        EVP_DigestUpdate(c, "|", 1) != 1 || EVP_DigestUpdate(c, type, strlen(type)) != 1 ||
        EVP_DigestUpdate(c, "/", 1) != 1 || EVP_DigestUpdate(c, id, strlen(id)) != 1 ||
        EVP_DigestFinal_ex(c, md, &n) != 1)
        memset(md, 0, sizeof md);
    EVP_MD_CTX_free(c);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    int k = 0;
    for (int i = 0; i < 16; i++) {
        k += snprintf(out + k, 3, "%02x", md[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9)
            out[k++] = '-';
    }
    out[36] = 0;
}

void fhir_url(const fhir_builder *b, const char *type, const char *id, char url[FHIR_URL_LEN])
{
    char u[37];
    if (b->contained) {
        snprintf(url, FHIR_URL_LEN, "#%s", id);
        return;
    }
    uuid5(b->seed, type, id, u);
    snprintf(url, FHIR_URL_LEN, "urn:uuid:%s", u);
}

json_t *fhir_ref(const fhir_builder *b, const char *type, const char *id)
{
    char url[FHIR_URL_LEN];
    fhir_url(b, type, id, url);
    return json_pack("{s:s}", "reference", url);
}

json_t *fhir_add(fhir_builder *b, json_t *res)
{
    char url[FHIR_URL_LEN];
    if (!res)
        return NULL;
    if (b->contained) {
        json_array_append_new(b->contained, res);
        return res;
    }
    fhir_url(b, json_string_value(json_object_get(res, "resourceType")),
             json_string_value(json_object_get(res, "id")), url);
    json_array_append_new(b->entries, json_pack("{s:s, s:o}", "fullUrl", url, "resource", res));
    return res;
}

static json_t *identifier(const char *system, const char *value)
{
    return json_pack("{s:s, s:s}", "system", system, "value", value);
}

json_t *fhir_add_hospital(fhir_builder *b)
{
    json_t *j =
        json_pack("{s:s, s:s, s:b}", "resourceType", "Organization", "id", "hospital", "active", 1);
    if (b->hospital && *b->hospital)
        json_object_set_new(j, "identifier",
                            json_pack("[o]", identifier(FHIR_SID_INSTITUTION, b->hospital)));
    else /* an Organization needs an identifier or a name */
        json_object_set_new(j, "name", json_string("institution code not configured"));
    return fhir_add(b, j);
}

static json_t *hospital_ref(const fhir_builder *b)
{
    return fhir_ref(b, "Organization", "hospital");
}

json_t *fhir_add_patient(fhir_builder *b, const huren_index_rec_patient *p)
{
    json_t *j = json_pack("{s:s, s:s, s:[]}", "resourceType", "Patient", "id", "patient",
                          "identifier"),
           *ids = json_object_get(j, "identifier");
    if (p->national_id)
        json_array_append_new(ids, identifier(FHIR_SID_CN_ID, p->national_id));
    if (b->clinical && p->patient_id)
        json_array_append_new(ids, identifier(FHIR_SID_PATIENT, p->patient_id));
    if (!json_array_size(ids))
        json_object_del(j, "identifier");
    if (p->name && *p->name) { /* HL7 XPN: family^given^middle^... */
        char family[256], given[256], text[512];
        const char *caret = strchr(p->name, '^');
        size_t nf = caret ? (size_t)(caret - p->name) : strlen(p->name);
        snprintf(family, sizeof family, "%.*s", (int)nf, p->name);
        snprintf(given, sizeof given, "%.*s", caret ? (int)strcspn(caret + 1, "^") : 0,
                 caret ? caret + 1 : "");
        snprintf(text, sizeof text, "%s%s", family, given);
        json_t *name = json_object();
        if (caret) {
            fhir_set_str(name, "family", family);
            if (*given)
                json_object_set_new(name, "given", json_pack("[s]", given));
        }
        fhir_set_str(name, "text", text);
        json_object_set_new(j, "name", json_pack("[o]", name));
    }
    const char *g = !p->sex || !*p->sex ? NULL
                    : p->sex[0] == 'M'  ? "male"
                    : p->sex[0] == 'F'  ? "female"
                    : p->sex[0] == 'O'  ? "other"
                                        : "unknown";
    fhir_set_str(j, "gender", g);
    fhir_set(j, "birthDate", fhir_date(p->birth_date));
    return fhir_add(b, j);
}

static json_t *encounter_json(const fhir_builder *b, const huren_index_visit *v)
{
    const char *c = v->visit_class ? v->visit_class : "";
    const char *cls = c[0] == 'I' ? "IMP" : c[0] == 'E' ? "EMER" : c[0] == 'O' ? "AMB" : NULL;
    /* R4 requires a class: an unknown one is the v3 null flavour "unknown" */
    json_t *klass =
        cls ? json_pack("{s:s, s:s}", "system", V3_ACT, "code", cls)
            : json_pack("{s:s, s:s}", "system",
                        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code", "UNK");
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "resourceType", "Encounter", "id", "encounter",
                  "status", v->discharge_time ? "finished" : "in-progress", "class", klass,
                  "subject", fhir_ref(b, "Patient", "patient"), "serviceProvider", hospital_ref(b));
    if (v->visit_number)
        json_object_set_new(j, "identifier", json_pack("[{s:s}]", "value", v->visit_number));
    if (v->department)
        json_object_set_new(j, "serviceType", json_pack("{s:s}", "text", v->department));
    json_t *period = json_object();
    fhir_set(period, "start", fhir_datetime(v->admit_time, b->offset_min));
    fhir_set(period, "end", fhir_datetime(v->discharge_time, b->offset_min));
    if (json_object_size(period))
        json_object_set_new(j, "period", period);
    else
        json_decref(period);
    return j;
}

static json_t *condition_json(const fhir_builder *b, const huren_index_diagnosis *d, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "condition-%zu", i + 1);
    const char *t = d->type && *d->type ? d->type : "";
    const char *ver = t[0] == 'F' ? "confirmed" : t[0] == 'A' || t[0] == 'W' ? "provisional" : NULL;
    json_t *cat =
        json_pack("{s:[{s:s, s:s}]}", "coding", "system", COND_CAT, "code", "encounter-diagnosis");
    if (t[0] == 'A' || t[0] == 'W' || t[0] == 'F') /* HL7 v2 diagnosis type, table 0052 */
        json_array_append_new(json_object_get(cat, "coding"),
                              json_pack("{s:s, s:s#}", "system", V2_0052, "code", t, 1));
    json_t *j = json_pack(
        "{s:s, s:s, s:[o], s:o, s:o, s:o}", "resourceType", "Condition", "id", id, "category", cat,
        "code", fhir_codeable(d->code_system ? d->code_system : "I10", d->code, d->description),
        "subject", fhir_ref(b, "Patient", "patient"), "encounter",
        fhir_ref(b, "Encounter", "encounter"));
    if (ver)
        json_object_set_new(
            j, "verificationStatus",
            json_pack("{s:[{s:s, s:s}]}", "coding", "system", COND_VER, "code", ver));
    fhir_set(j, "recordedDate", fhir_datetime(d->diagnosed_time, b->offset_min));
    return j;
}

static json_t *charge_json(const fhir_builder *b, const huren_index_charge *c, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "charge-%zu", i + 1);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o}", "resourceType", "ChargeItem", "id", id, "status",
        "billable", "code", fhir_codeable(NULL, c->item_code, c->item_name), "subject",
        fhir_ref(b, "Patient", "patient"), "context", fhir_ref(b, "Encounter", "encounter"));
    if (c->transaction_id)
        json_object_set_new(j, "identifier", json_pack("[{s:s}]", "value", c->transaction_id));
    fhir_set(j, "occurrenceDateTime", fhir_datetime(c->charged_time, b->offset_min));
    if (c->department)
        json_object_set_new(j, "performingOrganization",
                            json_pack("{s:s}", "display", c->department));
    json_t *q = fhir_decimal(c->quantity);
    if (q)
        json_object_set_new(j, "quantity", json_pack("{s:o}", "value", q));
    /* the line's amount as charged, overriding any list price */
    json_object_set_new(j, "priceOverride", fhir_money(c->amount_fen));
    return j;
}

/* One Invoice line: the ChargeItem and its price, "base" = the line's amount (factor: the
 * quantity), and the unit price as an "informational" component coded unit-price. */
static json_t *invoice_line(const fhir_builder *b, const huren_index_charge *c, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "charge-%zu", i + 1);
    json_t *base = json_pack("{s:s, s:o}", "type", "base", "amount", fhir_money(c->amount_fen));
    fhir_set(base, "factor", fhir_decimal(c->quantity));
    json_t *parts = json_pack("[o]", base);
    if (c->has_unit_price)
        json_array_append_new(
            parts, json_pack("{s:s, s:{s:[{s:s, s:s, s:s}]}, s:o}", "type", "informational", "code",
                             "coding", "system", FHIR_CS_PRICE, "code", "unit-price", "display",
                             "Unit price", "amount", fhir_money(c->unit_price_fen)));
    return json_pack("{s:I, s:o, s:o}", "sequence", (json_int_t)(i + 1), "chargeItemReference",
                     fhir_ref(b, "ChargeItem", id), "priceComponent", parts);
}

json_t *fhir_add_visit(fhir_builder *b, const huren_index_visit_record *v, int64_t *total)
{
    fhir_add(b, encounter_json(b, &v->visit));
    for (size_t i = 0; i < v->ndiagnoses; i++)
        fhir_add(b, condition_json(b, &v->diagnoses[i], i));
    json_t *lines = json_array();
    *total = 0;
    for (size_t i = 0; i < v->ncharges; i++) {
        fhir_add(b, charge_json(b, &v->charges[i], i));
        json_array_append_new(lines, invoice_line(b, &v->charges[i], i));
        *total += v->charges[i].amount_fen;
    }
    json_t *inv =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "resourceType", "Invoice", "id", "invoice",
                  "status", "issued", "subject", fhir_ref(b, "Patient", "patient"), "issuer",
                  hospital_ref(b), "totalGross", fhir_money(*total));
    if (!inv) {
        json_decref(lines);
        return NULL;
    }
    if (json_array_size(lines))
        json_object_set_new(inv, "lineItem", lines);
    else
        json_decref(lines);
    json_object_set_new(inv, "totalNet", fhir_money(*total));
    return fhir_add(b, inv);
}
