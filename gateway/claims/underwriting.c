/* underwriting.c: POST /api/v1/underwriting (insurers, mTLS), at the hospital that recorded the
 * applicant's underwriting consent. Checks the consent, signs its facts for the peers
 * (underwriting_token.c), makes this hospital's part and asks the others the directory lists
 * (underwriting_peer.c), then answers one FHIR R4 Bundle (collection) holding each part as a
 * Binary (the part's compact JWS, as its hospital signed it), signed as a whole. Every refusal
 * of a well-formed request looks the same (403), like claims; the reason is audited. */
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
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFUSED "no underwriting data can be given for this request"
#define JOSE "application/jose"

typedef struct uw_req {
    char nid[IDENTITY_ID_LEN + 1];
    identity_type type;
    int64_t consent_id;
    int64_t from, to; /* 0, 0: the consent's period */
} uw_req;

static const char *request_parse(json_t *body, uw_req *r)
{
    char why[HUREN_ERRLEN], *end = NULL;
    const char *id = json_string_value(json_object_get(body, "national_id"));
    const char *consent = json_string_value(json_object_get(body, "consent"));
    json_t *p = json_object_get(body, "record_period");
    if (!json_is_object(body))
        return "body must be a JSON object";
    if (!id || strlen(id) > 64 || identity_normalise(id, r->nid, &r->type, why, sizeof why) < 0)
        return "national_id is not a valid resident id number";
    if (!consent || !*consent || strlen(consent) > 18 ||
        (r->consent_id = strtoll(consent, &end, 10)) <= 0 || *end)
        return "consent (the consent's id at this hospital) is required";
    if (p && (consent_time_parse(json_string_value(json_object_get(p, "start")), &r->from) < 0 ||
              consent_time_parse(json_string_value(json_object_get(p, "end")), &r->to) < 0 ||
              r->to <= r->from))
        return "record_period must be {\"start\", \"end\"} (YYYY-MM-DD), end after start";
    return NULL;
}

static int refuse(http_response *res, const char *why)
{
    snprintf(res->audit_object, sizeof res->audit_object, "underwriting refused: %.200s", why);
    log_info("underwriting refused: %s", why);
    return http_reply_error(res, 403, REFUSED);
}

/* Is consent c this applicant's, for this insurer, in force, covering the period? NULL or why
 * not. Fills the period asked when the request left it out. */
static const char *consent_allows(node *n, const huren_index_consent *c, uw_req *r,
                                  const char *insurer)
{
    char local[128];
    long which = -1;
    if (c->purpose != HUREN_INDEX_CONSENT_UNDERWRITING)
        return "consent of another purpose";
    int same = c->national_id && !strcmp(c->national_id, r->nid);
    if (!same && huren_index_rec_patient_exists(n->index, r->nid, local, sizeof local) > 0)
        same = !strcmp(local, c->patient_id);
    if (!same)
        return "consent of another patient";
    consent_result cr =
        consent_evaluate(c, 1, HUREN_INDEX_CONSENT_UNDERWRITING, insurer, NULL, time(NULL), &which);
    if (cr != CONSENT_OK)
        return consent_result_text(cr);
    if (!r->from && !r->to) {
        r->from = c->record_from;
        r->to = c->record_to;
    }
    if (r->from < c->record_from || r->to > c->record_to || r->to <= r->from)
        return "period outside the consent's";
    return NULL;
}

static json_t *binary_entry(const char *inst, const char *jws, int k)
{
    size_t len = strlen(jws);
    char *b64 = malloc((len + 2) / 3 * 4 + 1), id[24], url[64];
    if (!b64)
        return NULL;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)jws, (int)len);
    snprintf(id, sizeof id, "part-%d", k);
    snprintf(url, sizeof url, "urn:huren:underwriting:part:%d", k);
    /* which hospital's part: Binary has no other element for it than meta */
    json_t *e = json_pack("{s:s, s:{s:s, s:s, s:{s:[{s:s, s:s}]}, s:s, s:s}}", "fullUrl", url,
                          "resource", "resourceType", "Binary", "id", id, "meta", "tag", "system",
                          FHIR_SID_INSTITUTION, "code", inst, "contentType", JOSE, "data", b64);
    free(b64);
    return e;
}

static json_t *missing_entry(const uw_part *p, int k)
{
    char url[64], text[300];
    snprintf(url, sizeof url, "urn:huren:underwriting:missing:%d", k);
    snprintf(text, sizeof text, "institution %s did not give its part", p->institution);
    return json_pack("{s:s, s:{s:s, s:[{s:s, s:s, s:s}]}}", "fullUrl", url, "resource",
                     "resourceType", "OperationOutcome", "issue", "severity", "warning", "code",
                     "incomplete", "diagnostics", text);
}

/* The outer Bundle (parts[0] is this hospital's), signed: *jws malloc'ed; 0 or -1. */
static int outer_sign(node *n, const uw_facts *f, const uw_part *parts, int np, char **jws,
                      char *err, size_t errlen)
{
    char id[RANDOM_ID_LEN], ts[FHIR_TIME_LEN], consent[160];
    if (random_id(id) < 0) {
        snprintf(err, errlen, "no random bytes for a bundle id");
        return -1;
    }
    json_t *entries = json_array();
    for (int i = 0; i < np; i++) {
        json_t *e = parts[i].jws ? binary_entry(parts[i].institution, parts[i].jws, i + 1)
                                 : missing_entry(&parts[i], i + 1);
        json_array_append_new(entries, e);
    }
    snprintf(consent, sizeof consent, "%s@%s", f->consent, f->institution);
    fhir_time_format(time(NULL), claims_offset_min(n), ts);
    json_t *b = json_pack("{s:s, s:s, s:{s:[{s:s, s:s}, {s:s, s:s}]}, s:{s:s, s:s}, s:s, s:s, s:o}",
                          "resourceType", "Bundle", "id", id, "meta", "tag", "system",
                          "urn:huren:underwriting:insurer", "code", f->insurer, "system",
                          "urn:huren:underwriting:consent", "code", consent, "identifier", "system",
                          "urn:huren:underwriting", "value", id, "type", "collection", "timestamp",
                          ts, "entry", entries);
    size_t len = 0, jlen = 0;
    char *text = b ? fhir_dump(b, &len) : NULL;
    json_decref(b);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc =
        jws_sign(claims_signer(n), "application/fhir+json", text, len, jws, &jlen, err, errlen);
    free(text);
    return rc;
}

/* Everything after the consent was found to allow it. */
static int summary_make(http_request *req, http_response *res, const uw_req *r,
                        const huren_index_consent *c)
{
    node *n = req->app;
    char err[512], psn[IDENTITY_PSEUDONYM_HEX + 1];
    unsigned char key[CONFIG_REGION_KEY_MAX];
    char *token = NULL, *outer = NULL;
    uw_part *peers = NULL, *all = NULL;
    int np = 0, rc = 0, count = 0, missing = 0;
    int keylen = config_region_key(n->cfg, key, err, sizeof err);
    if (keylen < 0 || identity_pseudonym(key, (size_t)keylen, r->type, r->nid, psn) < 0)
        return http_reply_error(res, 503, "no region key on this node");
    uw_facts f = {.labs = c->scope && strstr(c->scope, "labs") != NULL,
                  .record_from = c->record_from,
                  .record_to = c->record_to,
                  .expires = c->expires_at};
    snprintf(f.consent, sizeof f.consent, "%lld", (long long)c->id);
    snprintf(f.institution, sizeof f.institution, "%s",
             *claims_hospital(n) ? claims_hospital(n) : n->cfg->dir_institution);
    snprintf(f.insurer, sizeof f.insurer, "%s", c->grantee);
    snprintf(f.pseudonym, sizeof f.pseudonym, "%s", psn);
    uw_ask a = {r->nid, psn, r->from, r->to, c->grantee};
    if (uw_token_make(n, &f, &token, err, sizeof err) < 0) {
        log_error("underwriting: consent token: %s", err);
        return http_reply_error(res, 500, "cannot sign the consent token");
    }
    if ((np = uw_peers_ask(n, &a, token, &peers, err, sizeof err)) < 0) {
        log_warnx("underwriting: directory: %s", err);
        rc = http_reply_error(res, 502, "the regional directory did not answer");
        goto done;
    }
    if (!(all = calloc((size_t)np + 1, sizeof *all))) {
        rc = http_reply_error(res, 500, "out of memory");
        goto done;
    }
    snprintf(all[0].institution, sizeof all[0].institution, "%s", f.institution);
    if (uw_summary_sign(n, &a, &f, &all[0].jws, &count, err, sizeof err) < 0) {
        log_error("underwriting: own part: %s", err);
        rc = http_reply_error(res, 503, "cannot make the summary now");
        goto done;
    }
    for (int i = 0; i < np; i++) {
        all[i + 1] = peers[i];
        missing += !peers[i].jws;
    }
    free(peers);
    peers = NULL;
    if (outer_sign(n, &f, all, np + 1, &outer, err, sizeof err) < 0) {
        log_error("underwriting: %s", err);
        rc = http_reply_error(res, 500, "cannot sign the summary");
        goto done;
    }
    snprintf(res->audit_object, sizeof res->audit_object,
             "underwriting for insurer %s, consent %lld: %d parts, %d missing", c->grantee,
             (long long)c->id, np + 1 - missing, missing);
    rc = http_reply_buffer(res, 200, JOSE, outer, strlen(outer));
done:
    uw_parts_free(peers, np);
    uw_parts_free(all, all ? np + 1 : 0);
    free(token);
    return rc;
}

int api_underwriting_create(http_request *req, http_response *res)
{
    node *n = req->app;
    uw_req r;
    huren_index_consent_list l = {0};
    memset(&r, 0, sizeof r);
    if (claims_admit(req, res) < 0)
        return 0;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    const char *bad = body ? request_parse(body, &r) : "malformed JSON";
    int rc = 0, got = bad ? 0 : huren_index_consent_get(n->index, r.consent_id, &l);
    if (bad) {
        rc = http_reply_error(res, 400, bad);
    } else if (got == HUREN_INDEX_ENOTFOUND) {
        rc = refuse(res, "no such consent");
    } else if (got < 0) {
        log_error("underwriting: %s", huren_index_errmsg(n->index));
        rc = http_reply_error(res, 503, "archive unavailable");
    } else {
        snprintf(res->audit_patient, sizeof res->audit_patient, "%s", l.items[0].patient_id);
        if ((bad = consent_allows(n, &l.items[0], &r, req->institution)))
            rc = refuse(res, bad);
        else
            rc = summary_make(req, res, &r, &l.items[0]);
    }
    huren_index_consent_list_free(&l);
    json_decref(body);
    return rc;
}
