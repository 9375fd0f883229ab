/* claims.c: insurer claims. POST /api/v1/claims checks the rate limit, the request, a replay of
 * the same request_id and the patient's consent, then builds the visit's claim bundle
 * (claim_bundle.c), signs it (jws.c) and stores the signed bytes, which GET /api/v1/claims/{id}
 * returns again. Every refusal of a well-formed request looks the same to the insurer (403);
 * the reason goes to the audit trail and the log. */
#define LOG_COMPONENT "claims"
#include "claims.h"
#include "huren_err.h"
#include "claims.h"
#include "claim_bundle.h"
#include "claim_version.h"
#include "consent.h"
#include "fhir.h"
#include "identity.h"
#include "jws.h"
#include "log.h"
#include "random_id.h"
#include "ratelimit.h"
#include "index/index_records.h"
#include "index/index_consents.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_SLOTS 256
#define REFUSED "no claim data can be given for this request"
#define JOSE "application/jose"

struct claims_ctx {
    jws_signer *signer;
    ratelimit *rl;
    size_t max_body;
    const char *hospital;
    int offset_min; /* [node] utc_offset */
};

int claims_open(node *n, char *err, size_t errlen)
{
    const config *c = n->cfg;
    struct claims_ctx *cc = calloc(1, sizeof *cc);
    if (!cc ||
        !(cc->rl = ratelimit_new((double)c->claims_rate, (double)c->claims_burst, RATE_SLOTS))) {
        free(cc);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cc->max_body = (size_t)c->claims_max_body;
    cc->hospital = c->claims_institution;
    if (fhir_offset_parse(c->utc_offset, &cc->offset_min) < 0)
        cc->offset_min = 8 * 60; /* config_validate() refused it already */
    n->claims = cc;
    if (!c->claims_key[0])
        return 0;
    char why[HUREN_ERRLEN];
    if (jws_signer_load(&cc->signer, c->claims_key, c->claims_cert, c->claims_chain, why,
                        sizeof why) < 0) {
        snprintf(err, errlen, "[claims] %s", why);
        return -1;
    }
    log_info("claims: bundles signed by %s", jws_signer_subject(cc->signer));
    return 0;
}

int claims_check_config(const config *cfg, char *err, size_t errlen)
{
    jws_signer *s = NULL;
    char why[HUREN_ERRLEN];
    if (!cfg->claims_key[0])
        return 0;
    if (jws_signer_load(&s, cfg->claims_key, cfg->claims_cert, cfg->claims_chain, why, sizeof why) <
        0) {
        snprintf(err, errlen, "%s: [claims] %s", cfg->path ? cfg->path : "configuration", why);
        return -1;
    }
    jws_signer_free(s);
    return 0;
}

const jws_signer *claims_signer(const node *n)
{
    return n->claims ? n->claims->signer : NULL;
}

const char *claims_hospital(const node *n)
{
    return n->claims && n->claims->hospital ? n->claims->hospital : "";
}

int claims_offset_min(const node *n)
{
    return n->claims ? n->claims->offset_min : 8 * 60;
}

void claims_close(node *n)
{
    if (!n->claims)
        return;
    jws_signer_free(n->claims->signer);
    ratelimit_free(n->claims->rl);
    free(n->claims);
    n->claims = NULL;
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the insurer asked. */
typedef struct claim_req {
    const char *visit, *request_id, *policy_ref;
    char nid[IDENTITY_ID_LEN + 1]; /* normalised, or "" */
    char hash[65];                 /* SHA-256 of what identifies the request */
} claim_req;

static void hex_sha256(const char *text, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* NULL, or why the request is malformed (400). A resident id that fails validation (bad
 * check character, impossible date) is malformed: that is decidable from the request alone
 * and tells nothing about the archive. */
static const char *request_parse(json_t *body, claim_req *cr)
{
    char why[HUREN_ERRLEN], key[256];
    identity_type type;
    if (!json_is_object(body))
        return "body must be a JSON object";
    cr->visit = json_string_value(json_object_get(body, "visit"));
    cr->request_id = json_string_value(json_object_get(body, "request_id"));
    cr->policy_ref = json_string_value(json_object_get(body, "policy_ref"));
    const char *nid = json_string_value(json_object_get(body, "national_id"));
    if (!consent_token_valid(cr->request_id))
        return "request_id is required (1-64 of A-Z a-z 0-9 . _ -)";
    if (!consent_token_valid(cr->visit))
        return "visit (the visit number) is required";
    if (!nid == !cr->policy_ref)
        return "give either national_id or policy_ref";
    if (cr->policy_ref && !consent_token_valid(cr->policy_ref))
        return "malformed policy_ref";
    if (nid && (strlen(nid) > 64 || identity_normalise(nid, cr->nid, &type, why, sizeof why) < 0))
        return "national_id is not a valid resident id number";
    snprintf(key, sizeof key, "%s|%s|%s", cr->visit, cr->nid, cr->policy_ref ? cr->policy_ref : "");
    hex_sha256(key, cr->hash);
    return NULL;
}

static int refuse(http_response *res, const char *visit, const char *why)
{
    snprintf(res->audit_object, sizeof res->audit_object, "claim for visit %.64s refused: %s",
             visit ? visit : "?", why);
    log_info("claim for visit %.64s refused: %s", visit ? visit : "?", why);
    return http_reply_error(res, 403, REFUSED);
}

static int reply_jws(http_response *res, int status, const char *jws, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, jws, len);
    copy[len] = 0;
    free(res->body);
    res->status = status;
    res->body = copy;
    res->body_len = len;
    res->content_type = JOSE;
    return 0;
}

/* Is the consent a stored claim was made under (or a newer one) still in force? */
static consent_result still_allowed(node *n, const huren_index_claim *c, const char *insurer)
{
    return consent_check(n, c->patient_id, HUREN_INDEX_CONSENT_CLAIM, insurer, c->visit_number,
                         time(NULL), NULL);
}

static int answer_stored(http_request *req, http_response *res, const huren_index_claim *c,
                         int status)
{
    node *n = req->app;
    consent_result r = still_allowed(n, c, req->institution);
    if (r == CONSENT_ERROR)
        return http_reply_error(res, 503, "archive unavailable");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", c->patient_id);
    if (r != CONSENT_OK)
        return refuse(res, c->visit_number, consent_result_text(r));
    snprintf(res->audit_object, sizeof res->audit_object, "claim/%s visit %s%s", c->claim_id,
             c->visit_number, status == 200 ? " (replayed request)" : "");
    return reply_jws(res, status, c->jws, c->jws_len);
}

/* A request_id seen before: the same claim again, or 409 if it asked something else.
 * Returns 1 when answered, 0 when the request is new, -1 on error. */
static int replay(http_request *req, http_response *res, const claim_req *cr)
{
    node *n = req->app;
    huren_index_claim c;
    int rc = huren_index_claim_find(n->index, NULL, req->institution, cr->request_id, &c);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return 0;
    if (rc < 0) {
        log_error("claims: %s", huren_index_errmsg(n->index));
        http_reply_error(res, 503, "archive unavailable");
        return 1;
    }
    if (strcmp(c.request_hash, cr->hash) != 0) {
        snprintf(res->audit_object, sizeof res->audit_object,
                 "claim request_id %.64s reused for another request", cr->request_id);
        http_reply_error(res, 409, "request_id was used before for another request");
    } else if (answer_stored(req, res, &c, 200) < 0) {
        rc = -1;
    }
    huren_index_claim_free(&c);
    return rc < 0 ? -1 : 1;
}

/* The visit's newest claim for this insurer when its data is what the visit holds now:
 * answered (1); 0 when there is none or it is out of date (*prior filled then, or zeroed);
 * -1 on error (answered). */
static int unchanged(http_request *req, http_response *res, const char *patient, const char *visit,
                     const claim_fingerprint *fp, huren_index_claim *prior)
{
    node *n = req->app;
    int rc = huren_index_claim_latest(n->index, req->institution, patient, visit, prior);
    if (rc == HUREN_INDEX_ENOTFOUND) {
        memset(prior, 0, sizeof *prior);
        return 0;
    }
    if (rc < 0) {
        log_error("claims: %s", huren_index_errmsg(n->index));
        http_reply_error(res, 503, "archive unavailable");
        return -1;
    }
    if (!prior->data_hash || strcmp(prior->data_hash, fp->hash) != 0)
        return 0;
    rc = answer_stored(req, res, prior, 200) < 0 ? -1 : 1;
    if (rc > 0)
        snprintf(res->audit_object, sizeof res->audit_object,
                 "claim/%s visit %s unchanged since version %lld", prior->claim_id, visit,
                 (long long)prior->version);
    return rc;
}

/* The pixel provenance of an exam's study, for the bundle (claim_bundle.h). */
static int study_provenance(const char *study_uid, huren_index_provenance *out, void *payload)
{
    node *n = payload;
    return huren_index_study_provenance(n->index, study_uid, out);
}

/* Sign the bundle of in; *jws malloc'ed. 0, or -1 (answered). */
static int bundle_sign(node *n, http_response *res, const claim_bundle_input *in, char **jws,
                       size_t *jlen)
{
    char err[256];
    size_t blen = 0;
    char *bundle = claim_bundle_build(in, &blen);
    int rc = bundle ? jws_sign(n->claims->signer, "application/fhir+json", bundle, blen, jws, jlen,
                               err, sizeof err)
                    : -1;
    free(bundle);
    if (rc < 0) {
        log_error("claims: cannot sign the bundle: %s", bundle ? err : "out of memory");
        http_reply_error(res, 500, "cannot sign the claim");
    }
    return rc < 0 ? -1 : 0;
}

/* Build, sign and store the claim of a visit whose consent was checked: a visit claimed before
 * by this insurer gets that claim again while its data is unchanged, else a new version. */
static int claim_make(http_request *req, http_response *res, const claim_req *cr,
                      const char *patient, int64_t consent_id)
{
    node *n = req->app;
    huren_index_visit_record v;
    huren_index_report_list reports = {0};
    huren_index_report_filter f = {.kind = -1};
    huren_index_claim prior = {0};
    claim_fingerprint fp = {0};
    char claim_id[RANDOM_ID_LEN];
    char *jws = NULL, **changes = NULL;
    int nchanges = 0;
    size_t jlen = 0;
    double t0 = monotonic_s();
    int rc = huren_index_visit_get(n->index, patient, cr->visit, &v), existing = 0;
    if (rc == HUREN_INDEX_ENOTFOUND)
        return refuse(res, cr->visit, "visit not found for the consented patient");
    if (rc < 0 || huren_index_visit_reports_find(n->index, v.patient.patient_id, cr->visit, &f,
                                                 &reports) < 0) {
        log_error("claims: %s", huren_index_errmsg(n->index));
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", v.patient.patient_id);
    claim_bundle_input in = {.claim_id = claim_id,
                             .request_id = cr->request_id,
                             .insurer = req->institution,
                             .hospital = n->claims->hospital,
                             .consent_id = consent_id,
                             .now = time(NULL),
                             .offset_min = n->claims->offset_min,
                             .visit = &v,
                             .reports = &reports,
                             .provenance = study_provenance,
                             .provenance_payload = n};
    if (claim_fingerprint_make(&in, &fp) < 0) {
        rc = http_reply_error(res, 500, "out of memory");
        goto done;
    }
    if ((rc = unchanged(req, res, v.patient.patient_id, cr->visit, &fp, &prior)) != 0) {
        rc = rc < 0 ? -1 : 0;
        goto done;
    }
    if (prior.claim_id && (nchanges = claim_changes(prior.parts, fp.parts, &changes)) < 0) {
        rc = http_reply_error(res, 500, "out of memory");
        goto done;
    }
    in.version = prior.claim_id ? prior.version + 1 : 1;
    in.replaces = prior.claim_id;
    in.changes = (const char *const *)changes;
    in.nchanges = (size_t)nchanges;
    if (random_id(claim_id) < 0) { /* fail closed: never a guessable claim id */
        log_error("claims: no random bytes for a claim id: %s", strerror(errno));
        rc = http_reply_error(res, 503, "cannot make a claim id now; try again later");
        goto done;
    }
    if ((rc = bundle_sign(n, res, &in, &jws, &jlen)) < 0) {
        rc = 0; /* answered */
        goto done;
    }
    double t1 = monotonic_s(); /* read, built and signed; the store (fsync) follows */
    huren_index_claim c = {.claim_id = claim_id,
                           .insurer = req->institution,
                           .request_id = cr->request_id,
                           .request_hash = cr->hash,
                           .consent_id = consent_id,
                           .patient_id = v.patient.patient_id,
                           .visit_number = cr->visit,
                           .jws = jws,
                           .jws_len = jlen,
                           .version = in.version,
                           .replaces = in.replaces,
                           .data_hash = fp.hash,
                           .parts = fp.parts};
    if (huren_index_claim_put(n->index, &c, &existing) < 0) {
        log_error("claims: storing: %s", huren_index_errmsg(n->index));
        rc = http_reply_error(res, 503, "archive unavailable");
    } else if (existing) { /* the same request_id, or another request for the visit, raced us */
        rc = replay(req, res, cr);
        huren_index_claim_free(&prior);
        if (rc == 0) /* not this request_id: the version another request just made */
            rc = unchanged(req, res, v.patient.patient_id, cr->visit, &fp, &prior) > 0
                     ? 0
                     : http_reply_error(res, 409, "the visit's claim changed meanwhile; retry");
        rc = rc < 0 ? -1 : 0;
    } else {
        snprintf(res->audit_object, sizeof res->audit_object,
                 "claim/%s visit %s version %lld%s%s consent %lld", claim_id, cr->visit,
                 (long long)in.version, in.replaces ? " replaces " : "",
                 in.replaces ? in.replaces : "", (long long)consent_id);
        log_info("claim %s: visit %s version %lld for %s (%zu charges, %zu reports, %d changes, "
                 "%zu bytes): built and signed in %.2f ms, stored in %.2f ms",
                 claim_id, cr->visit, (long long)in.version, req->institution, v.ncharges,
                 reports.n, nchanges, jlen, (t1 - t0) * 1e3, (monotonic_s() - t1) * 1e3);
        rc = reply_jws(res, 201, jws, jlen);
    }
done:
    free(jws);
    claim_changes_free(changes, nchanges);
    claim_fingerprint_free(&fp);
    huren_index_claim_free(&prior);
    huren_index_report_list_free(&reports);
    huren_index_visit_record_free(&v);
    return rc;
}

int claims_admit(http_request *req, http_response *res)
{
    node *n = req->app;
    double retry = 0;
    if (!n->claims || !n->claims->signer) {
        http_reply_error(res, 503, "claims are not configured on this node ([claims] key, cert)");
        return -1;
    }
    if (!req->institution) {
        http_reply_error(res, 403, "this client has no institution code");
        return -1;
    }
    if (req->body_len > n->claims->max_body) {
        http_reply_error(res, 413, "request body too large");
        return -1;
    }
    if (!ratelimit_take(n->claims->rl, req->institution, monotonic_s(), &retry)) {
        char msg[96];
        snprintf(msg, sizeof msg, "rate limit: retry in %.0f s", retry < 1 ? 1 : retry + 0.5);
        http_reply_error(res, 429, msg);
        return -1;
    }
    return 0;
}

int api_claim_create(http_request *req, http_response *res)
{
    node *n = req->app;
    claim_req cr;
    json_error_t jerr;
    char local[128] = "";
    int64_t consent_id = 0;
    consent_result r;
    memset(&cr, 0, sizeof cr);
    if (claims_admit(req, res) < 0)
        return 0;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *bad = body ? request_parse(body, &cr) : "malformed JSON";
    int rc = 0;
    if (bad) {
        rc = http_reply_error(res, 400, bad);
        goto done;
    }
    if ((rc = replay(req, res, &cr)) != 0) {
        rc = rc < 0 ? -1 : 0;
        goto done;
    }
    if (cr.nid[0])
        r = consent_check(n, cr.nid, HUREN_INDEX_CONSENT_CLAIM, req->institution, cr.visit,
                          time(NULL), &consent_id);
    else
        r = consent_check_policy(n, cr.policy_ref, req->institution, cr.visit, time(NULL),
                                 &consent_id, local, sizeof local);
    if (r == CONSENT_ERROR)
        rc = http_reply_error(res, 503, "archive unavailable");
    else if (r != CONSENT_OK)
        rc = refuse(res, cr.visit, consent_result_text(r));
    else
        rc = claim_make(req, res, &cr, cr.nid[0] ? cr.nid : local, consent_id);
done:
    json_decref(body);
    return rc;
}

int api_claim_get(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *id = req->captures[0];
    huren_index_claim c;
    if (!consent_token_valid(id))
        return http_reply_error(res, 400, "malformed claim id");
    int rc = huren_index_claim_find(n->index, id, NULL, NULL, &c);
    if (rc < 0 && rc != HUREN_INDEX_ENOTFOUND) {
        log_error("claims: %s", huren_index_errmsg(n->index));
        return http_reply_error(res, 503, "archive unavailable");
    }
    /* another insurer's claim looks like no claim at all */
    if (rc == HUREN_INDEX_ENOTFOUND || !req->institution || strcmp(c.insurer, req->institution)) {
        if (rc == 0)
            huren_index_claim_free(&c);
        snprintf(res->audit_object, sizeof res->audit_object, "claim/%.64s not found", id);
        return http_reply_error(res, 404, "no such claim");
    }
    rc = answer_stored(req, res, &c, 200);
    huren_index_claim_free(&c);
    return rc;
}
