/* underwriting_summary.c: one hospital's part of an underwriting summary (核保), and the peer
 * endpoint that gives it. The part is minimal: a FHIR R4 Bundle (collection) of this
 * hospital's Organization and one Condition per ICD-10 code and year (the code, the year, the
 * institution; no text, no visit, no local id: the subject is the applicant's pseudonym), lab
 * values only when the consent's scope holds labs (underwriting_labs.c),
 * tagged with the insurer, the consent and the period, and signed by this node. */
#define LOG_COMPONENT "claims"
#include "underwriting.h"
#include "claims.h"
#include "consent.h"
#include "fhir.h"
#include "huren_err.h"
#include "jws.h"
#include "log.h"
#include "random_id.h"
#include "index/index_records.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFUSED "no underwriting data can be given for this request"
#define ICD10 "http://hl7.org/fhir/sid/icd-10"

static json_t *tag(const char *system, const char *code)
{
    return json_pack("{s:s, s:s}", "system", system, "code", code);
}

static json_t *meta_tags(const uw_facts *f, const uw_ask *a)
{
    char consent[160], period[20], from[9], to[9];
    uw_day(a->from, from);
    uw_day(a->to, to);
    snprintf(consent, sizeof consent, "%s@%s", f->consent, f->institution);
    snprintf(period, sizeof period, "%s-%s", from, to);
    return json_pack("{s:[o, o, o]}", "tag", tag("urn:huren:underwriting:insurer", f->insurer),
                     tag("urn:huren:underwriting:consent", consent),
                     tag("urn:huren:underwriting:period", period));
}

/* One Condition per (code, year), oldest first. */
static int conditions_add(fhir_builder *b, const huren_index_diagnosis_list *l, const char *psn)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const huren_index_dated_diagnosis *d = &l->items[i];
        const char *sys = fhir_code_system(d->code_system);
        int seen = 0;
        if (!d->code || !d->day || strlen(d->day) < 4)
            continue;
        for (size_t k = 0; k < i && !seen; k++)
            seen = l->items[k].code && !strcmp(l->items[k].code, d->code) && l->items[k].day &&
                   !strncmp(l->items[k].day, d->day, 4);
        if (seen)
            continue;
        char id[16], year[5];
        snprintf(id, sizeof id, "c%d", ++n);
        snprintf(year, sizeof year, "%.4s", d->day);
        json_t *coding = json_pack("{s:s, s:s}", "system", sys ? sys : ICD10, "code", d->code);
        json_t *c = json_pack(
            "{s:s, s:s, s:[{s:s, s:o}], s:{s:[o]}, s:{s:{s:s, s:s}}, s:s}", "resourceType",
            "Condition", "id", id, "extension", "url", FHIR_EXT "institution", "valueReference",
            fhir_ref(b, "Organization", "hospital"), "code", "coding", coding, "subject",
            "identifier", "system", "urn:huren:pseudonym", "value", psn, "recordedDate", year);
        fhir_add(b, c);
    }
    return n;
}

int uw_summary_sign(node *n, const uw_ask *a, const uw_facts *f, char **jws, int *nconditions,
                    char *err, size_t errlen)
{
    char from[9], to[9], id[RANDOM_ID_LEN], ts[FHIR_TIME_LEN];
    huren_index_diagnosis_list l;
    uw_day(a->from, from);
    uw_day(a->to, to);
    if (random_id(id) < 0) {
        snprintf(err, errlen, "no random bytes for a bundle id");
        return -1;
    }
    if (huren_index_patient_diagnoses(n->index, a->patient, from, to, &l) < 0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return -1;
    }
    fhir_builder b = {.seed = id,
                      .offset_min = claims_offset_min(n),
                      .hospital = claims_hospital(n),
                      .entries = json_array()};
    fhir_add_hospital(&b);
    *nconditions = conditions_add(&b, &l, a->pseudonym);
    huren_index_diagnosis_list_free(&l);
    if (f->labs && uw_labs_add(n, &b, a, err, errlen) < 0) {
        json_decref(b.entries);
        return -1;
    }
    fhir_time_format(time(NULL), b.offset_min, ts);
    json_t *bundle = json_pack("{s:s, s:s, s:o, s:{s:s, s:s}, s:s, s:s, s:o}", "resourceType",
                               "Bundle", "id", id, "meta", meta_tags(f, a), "identifier", "system",
                               "urn:huren:underwriting:part", "value", id, "type", "collection",
                               "timestamp", ts, "entry", b.entries);
    size_t len = 0, jlen = 0;
    char *text = bundle ? fhir_dump(bundle, &len) : NULL;
    json_decref(bundle);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc =
        jws_sign(claims_signer(n), "application/fhir+json", text, len, jws, &jlen, err, errlen);
    free(text);
    return rc;
}

/* ---- POST /api/v1/underwriting/summary (peers) ---- */

static int refuse(http_response *res, const char *why)
{
    snprintf(res->audit_object, sizeof res->audit_object, "underwriting summary refused: %.200s",
             why);
    log_info("underwriting summary refused: %s", why);
    return http_reply_error(res, 403, REFUSED);
}

/* The applicant, period and token of the request; NULL or why it is malformed (400). */
static const char *summary_parse(json_t *body, char nid[IDENTITY_ID_LEN + 1], identity_type *t,
                                 int64_t *from, int64_t *to, const char **insurer,
                                 const char **token)
{
    char why[HUREN_ERRLEN];
    json_t *p = json_object_get(body, "record_period");
    const char *id = json_string_value(json_object_get(body, "national_id"));
    *insurer = json_string_value(json_object_get(body, "insurer"));
    *token = json_string_value(json_object_get(body, "consent"));
    if (!json_is_object(body))
        return "body must be a JSON object";
    if (!id || strlen(id) > 64 || identity_normalise(id, nid, t, why, sizeof why) < 0)
        return "national_id is not a valid resident id number";
    if (!consent_token_valid(*insurer))
        return "insurer (an institution code) is required";
    if (!*token || strlen(*token) > 64 * 1024)
        return "consent (the consent token) is required";
    if (consent_time_parse(json_string_value(json_object_get(p, "start")), from) < 0 ||
        consent_time_parse(json_string_value(json_object_get(p, "end")), to) < 0 || *to <= *from)
        return "record_period {\"start\", \"end\"} is required";
    return NULL;
}

/* Why the token does not allow this summary, or NULL. */
static const char *mismatch(const uw_facts *f, const char *psn, const char *insurer, int64_t from,
                            int64_t to)
{
    if (strcmp(f->pseudonym, psn))
        return "consent token for another applicant";
    if (strcmp(f->insurer, insurer))
        return "consent token for another insurer";
    if (from < f->record_from || to > f->record_to)
        return "period outside the consent's";
    return NULL;
}

static int summary_answer(http_request *req, http_response *res, const uw_ask *a, const uw_facts *f)
{
    node *n = req->app;
    char err[256], local[128];
    char *jws = NULL;
    int count = 0;
    if (huren_index_rec_patient_exists(n->index, a->patient, local, sizeof local) > 0)
        snprintf(res->audit_patient, sizeof res->audit_patient, "%s", local);
    if (uw_summary_sign(n, a, f, &jws, &count, err, sizeof err) < 0) {
        log_error("underwriting summary: %s", err);
        return http_reply_error(res, 503, "cannot make the summary now");
    }
    snprintf(res->audit_object, sizeof res->audit_object,
             "underwriting summary for insurer %s, consent %s@%s: %d conditions", f->insurer,
             f->consent, f->institution, count);
    return http_reply_buffer(res, 200, "application/jose", jws, strlen(jws));
}

int api_underwriting_summary(http_request *req, http_response *res)
{
    node *n = req->app;
    char nid[IDENTITY_ID_LEN + 1], psn[IDENTITY_PSEUDONYM_HEX + 1], why[512], err[HUREN_ERRLEN];
    unsigned char key[CONFIG_REGION_KEY_MAX];
    identity_type type;
    int64_t from = 0, to = 0;
    const char *insurer = NULL, *token = NULL;
    uw_facts f;
    if (!claims_signer(n))
        return http_reply_error(res, 503, "claims are not configured on this node");
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    const char *bad =
        body ? summary_parse(body, nid, &type, &from, &to, &insurer, &token) : "malformed JSON";
    int rc, keylen = bad ? 0 : config_region_key(n->cfg, key, err, sizeof err);
    if (bad)
        rc = http_reply_error(res, 400, bad);
    else if (keylen < 0 || identity_pseudonym(key, (size_t)keylen, type, nid, psn) < 0)
        rc = http_reply_error(res, 503, "no region key on this node");
    else if (uw_token_check(n, token, req->institution, &f, why, sizeof why) < 0)
        rc = refuse(res, why);
    else if ((bad = mismatch(&f, psn, insurer, from, to)))
        rc = refuse(res, bad);
    else
        rc = summary_answer(req, res, &(uw_ask){nid, psn, from, to, insurer}, &f);
    json_decref(body);
    return rc;
}
