/* fhir_consent.c: a patient's consent (claims, recognition) as an R4 Consent (fhir.h): scope
 * patient-privacy, one permit provision naming the grantee, the purpose, the period and the
 * visits covered; the signed form as its source. */
#include "fhir.h"
#include "consent.h"
#include "index/index_consents.h"

#include <stdio.h>
#include <string.h>

#define CONSENT_SCOPE "http://terminology.hl7.org/CodeSystem/consentscope"
#define V3_PURPOSE "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define V3_PARTICIPATION "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

static json_t *when(int64_t t, int offset_min)
{
    char buf[FHIR_TIME_LEN];
    return json_string(fhir_time_format((time_t)t, offset_min, buf));
}

#define FHIR_RESOURCE_TYPES "http://hl7.org/fhir/resource-types"

static json_t *provision(const fhir_builder *b, const huren_index_consent *c)
{
    /* claim attachment (insurer), coverage (underwriting) or treatment (recognition) */
    const char *use = c->purpose == HUREN_INDEX_CONSENT_CLAIM          ? "CLMATTCH"
                      : c->purpose == HUREN_INDEX_CONSENT_UNDERWRITING ? "COVERAGE"
                                                                       : "TREAT";
    json_t *who = c->grantee && strcmp(c->grantee, "*")
                      ? json_pack("{s:{s:s, s:s}}", "identifier", "system", FHIR_SID_INSTITUTION,
                                  "value", c->grantee)
                      : json_pack("{s:s}", "display", "any hospital of the region");
    /* v3 PurposeOfUse */
    json_t *p = json_pack("{s:s, s:{s:o, s:o}, s:[{s:{s:[{s:s, s:s}]}, s:o}], s:[{s:s, s:s}]}",
                          "type", "permit", "period", "start", when(c->valid_from, b->offset_min),
                          "end", when(c->expires_at, b->offset_min), "actor", "role", "coding",
                          "system", V3_PARTICIPATION, "code", "IRCP", "reference", who, "purpose",
                          "system", V3_PURPOSE, "code", use);
    if (p && c->nvisits) {
        json_t *data = json_array();
        for (size_t i = 0; i < c->nvisits; i++)
            json_array_append_new(data, json_pack("{s:s, s:{s:s, s:{s:s}}}", "meaning", "related",
                                                  "reference", "type", "Encounter", "identifier",
                                                  "value", c->visits[i]));
        json_object_set_new(p, "data", data);
    }
    if (p && c->purpose == HUREN_INDEX_CONSENT_UNDERWRITING && c->record_to > c->record_from) {
        /* underwriting: the records' period, and the scope as the resource types it covers */
        json_object_set_new(p, "dataPeriod",
                            json_pack("{s:o, s:o}", "start", when(c->record_from, b->offset_min),
                                      "end", when(c->record_to, b->offset_min)));
        json_t *cls = json_pack("[{s:s, s:s}]", "system", FHIR_RESOURCE_TYPES, "code", "Condition");
        if (c->scope && strstr(c->scope, "labs"))
            json_array_append_new(
                cls, json_pack("{s:s, s:s}", "system", FHIR_RESOURCE_TYPES, "code", "Observation"));
        json_object_set_new(p, "class", cls);
    }
    return p;
}

/* What R4's Consent has no element for: policy reference, who recorded and who revoked. */
static json_t *extensions(const fhir_builder *b, const huren_index_consent *c)
{
    json_t *e = json_array();
    json_array_append_new(e, json_pack("{s:s, s:s}", "url", FHIR_EXT_CONSENT_PURPOSE, "valueCode",
                                       consent_purpose_name(c->purpose)));
    if (c->policy_ref && *c->policy_ref)
        json_array_append_new(
            e, json_pack("{s:s, s:s}", "url", FHIR_EXT_POLICY_REF, "valueString", c->policy_ref));
    if (c->created_by && *c->created_by)
        json_array_append_new(
            e, json_pack("{s:s, s:s}", "url", FHIR_EXT_RECORDED_BY, "valueString", c->created_by));
    if (c->revoked_at) {
        json_t *r = json_pack("[{s:s, s:o}]", "url", "at", "valueDateTime",
                              when(c->revoked_at, b->offset_min));
        if (c->revoked_by && *c->revoked_by)
            json_array_append_new(
                r, json_pack("{s:s, s:s}", "url", "by", "valueString", c->revoked_by));
        json_array_append_new(e, json_pack("{s:s, s:o}", "url", FHIR_EXT_REVOKED, "extension", r));
    }
    return e;
}

json_t *fhir_consent(const fhir_builder *b, const huren_index_consent *c, const char *status)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)c->id);
    const char *st =
        !strcmp(status, "active") || !strcmp(status, "not-yet") ? "active" : "inactive";
    /* the patient by national id when known, else by the local id */
    int nid = c->national_id && *c->national_id;
    json_t *pid = json_pack("{s:s, s:s}", "system", nid ? FHIR_SID_CN_ID : FHIR_SID_PATIENT,
                            "value", nid ? c->national_id : c->patient_id);
    json_t *j = json_pack(
        "{s:s, s:s, s:o, s:s, s:{s:[{s:s, s:s}]}, s:[{s:[{s:s, s:s, s:s}]}], s:{s:o}, s:o}",
        "resourceType", "Consent", "id", id, "extension", extensions(b, c), "status", st, "scope",
        "coding", "system", CONSENT_SCOPE, "code", "patient-privacy", "category", "coding",
        "system", "http://loinc.org", "code", "59284-0", "display", "Patient Consent", "patient",
        "identifier", pid, "dateTime", when(c->created_at, b->offset_min));
    if (!j)
        return NULL;
    if (b->hospital && *b->hospital)
        json_object_set_new(j, "organization",
                            json_pack("[{s:{s:s, s:s}}]", "identifier", "system",
                                      FHIR_SID_INSTITUTION, "value", b->hospital));
    if (c->form_ref && *c->form_ref)
        json_object_set_new(j, "sourceReference",
                            json_pack("{s:{s:s}, s:s}", "identifier", "value", c->form_ref,
                                      "display", "signed consent form"));
    fhir_set(j, "provision", provision(b, c));
    return j;
}
