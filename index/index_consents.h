/* index_consents.h: consents and claims (schema 6): the
 * patient authorisations staff record from signed forms, and the signed claim bundles given
 * to insurers, kept byte for byte. */
#ifndef HUREN_INDEX_CONSENTS_H
#define HUREN_INDEX_CONSENTS_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A consent is the patient's authorisation, recorded by hospital staff from a signed form:
 * for one purpose, to one grantee, for some visits, between two instants. A claim is the
 * signed bundle given to an insurer for one request; the index keeps its bytes as they were
 * sent. Times are Unix seconds (UTC). The rules that decide whether a consent allows an
 * access live in the gateway (gateway/consent.c); the index only stores and finds. */

typedef enum huren_index_consent_purpose {
    HUREN_INDEX_CONSENT_CLAIM = 0,  /* an insurer reads the claim data of the visits */
    HUREN_INDEX_CONSENT_RECOGNITION /* hospitals of the scope read results for recognition */
} huren_index_consent_purpose;

#define HUREN_INDEX_CONSENT_MAX_VISITS 64

typedef struct huren_index_consent {
    int64_t id;              /* filled on put and read */
    const char *patient_id;  /* required: the patient's local id (the surviving one) */
    const char *national_id; /* resident id, if known */
    const char *policy_ref;  /* the insurer's policy reference, if given */
    huren_index_consent_purpose purpose;
    const char *grantee;       /* required: institution code; "*" = any (recognition only) */
    const char *const *visits; /* visit numbers covered; nvisits 0 = any visit */
    size_t nvisits;
    int64_t valid_from, expires_at; /* in force for valid_from <= t < expires_at */
    const char *form_ref;           /* required: reference of the signed consent form */
    const char *created_by;         /* required: who recorded it (audit actor) */
    int64_t created_at;             /* set by put from the caller's value (0 = now) */
    int64_t revoked_at;             /* 0 = not revoked */
    const char *revoked_by;
} huren_index_consent;

/* Store a consent durably (its own transaction); *id gets its number. Returns 0 or
 * HUREN_INDEX_EINVAL (a required value missing or too long, more than
 * HUREN_INDEX_CONSENT_MAX_VISITS visits, expires_at <= valid_from), or a database error. */
int huren_index_consent_put(huren_index *idx, const huren_index_consent *c, int64_t *id);

/* Revoke consent id at time `at` by `by`. A consent already revoked keeps its first
 * revocation (returns 0). HUREN_INDEX_ENOTFOUND for an unknown id. */
int huren_index_consent_revoke(huren_index *idx, int64_t id, const char *by, int64_t at);

/* Filter of huren_index_consents_find: NULL / -1 = any. At least patient or policy_ref. */
typedef struct huren_index_consent_filter {
    const char *patient;    /* local or national id (merges followed: a consent recorded for
                               a merged-away id is found by the survivor's ids) */
    int purpose;            /* -1 or a huren_index_consent_purpose */
    const char *grantee;    /* exact */
    const char *policy_ref; /* exact */
} huren_index_consent_filter;

typedef struct huren_index_consent_list {
    huren_index_consent *items;
    size_t n;
    void *arena_; /* private */
} huren_index_consent_list;

/* Consents matching the filter, newest first (revoked and expired ones included: the caller
 * decides). Returns the number found or a negative code. */
int huren_index_consents_find(huren_index *idx, const huren_index_consent_filter *f,
                              huren_index_consent_list *out);
/* One consent by id (out->n = 1), HUREN_INDEX_ENOTFOUND when unknown. */
int huren_index_consent_get(huren_index *idx, int64_t id, huren_index_consent_list *out);
void huren_index_consent_list_free(huren_index_consent_list *l); /* NULL-safe */

typedef struct huren_index_claim {
    const char *claim_id;     /* required: opaque public id */
    const char *insurer;      /* required: institution code of the insurer */
    const char *request_id;   /* required: the insurer's request id */
    const char *request_hash; /* required: digest of what was asked (visit and identifier) */
    int64_t consent_id;
    const char *patient_id, *visit_number; /* required */
    const char *jws;                       /* required: the signed bundle as sent */
    size_t jws_len;
    int64_t created_at;
    /* versions (schema 11): one claim per (insurer, patient, visit), numbered from 1 */
    int64_t version;       /* 0 on put = 1 */
    const char *replaces;  /* the claim_id of the version before, or NULL */
    const char *data_hash; /* digest of the claim data (NULL in claims from before) */
    const char *parts;     /* JSON object: resource -> digest, or NULL */
    void *arena_;          /* private (reads) */
} huren_index_claim;

/* Store a claim durably. When (insurer, request_id), or that version of the visit's claim, was
 * stored before nothing is written, *existing is set to 1 and HUREN_INDEX_OK returned: read it
 * with huren_index_claim_find or huren_index_claim_latest. */
int huren_index_claim_put(huren_index *idx, const huren_index_claim *c, int *existing);
/* The claim with that public id (claim_id non-NULL) or that (insurer, request_id). Returns 0
 * with *out filled (free with huren_index_claim_free), HUREN_INDEX_ENOTFOUND, or an error. */
int huren_index_claim_find(huren_index *idx, const char *claim_id, const char *insurer,
                           const char *request_id, huren_index_claim *out);
/* The newest version of the claim of (insurer, patient_id, visit_number): 0 with *out filled,
 * HUREN_INDEX_ENOTFOUND, or an error. */
int huren_index_claim_latest(huren_index *idx, const char *insurer, const char *patient_id,
                             const char *visit_number, huren_index_claim *out);
void huren_index_claim_free(huren_index_claim *c); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
