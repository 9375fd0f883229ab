/* underwriting.h: the underwriting summary (核保, docs/api/underwriting.md). An insurer asks the
 * hospital that recorded the applicant's underwriting consent (POST /api/v1/underwriting); that
 * node signs the consent's facts (the consent token), asks the regional directory where the
 * applicant has records, asks each of those hospitals for its part (POST
 * /api/v1/underwriting/summary, peers only), makes its own, and answers one Bundle holding
 * every hospital's signed part, signed as a whole. Private to claims/. */
#ifndef HUREN_GATEWAY_UNDERWRITING_H
#define HUREN_GATEWAY_UNDERWRITING_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "identity.h"
#include "node.h"
#include "index/index_consents.h"

#define UW_CONSENT_TYP "huren-underwriting-consent"
/* A token is made for one request: peers take it for 5 minutes, with 1 minute of clock skew. */
#define UW_TOKEN_MAX_AGE 300
#define UW_TOKEN_SKEW 60

/* What the recording hospital signed about the consent, and what a peer checks. */
typedef struct uw_facts {
    char consent[24];     /* the consent's id at the recording hospital */
    char institution[65]; /* the recording hospital */
    char insurer[65];     /* the grantee */
    char pseudonym[IDENTITY_PSEUDONYM_HEX + 1];
    int labs;                       /* the scope holds lab results too */
    int64_t record_from, record_to; /* the records the consent covers */
    int64_t expires;                /* the consent's end */
    int64_t issued;                 /* when the token was made */
} uw_facts;

/* What one summary covers: the applicant and the period asked (within the consent's). */
typedef struct uw_ask {
    const char *patient; /* national id (normalised) */
    const char *pseudonym;
    int64_t from, to;
    const char *insurer;
} uw_ask;

/* underwriting_token.c: the consent token, a compact JWS by this node's claims signer over the
 * facts (JSON). make: *jws malloc'ed; 0 or -1 with err. check: the signature chains to the
 * region's CA, the signer certificate names the institution (OU) the token does and the caller
 * is, the typ is ours and the consent has not ended; 0 with *f filled or -1 with why. */
int uw_token_make(node *n, const uw_facts *f, char **jws, char *err, size_t errlen);
int uw_token_check(node *n, const char *jws, const char *caller, uw_facts *f, char *why,
                   size_t whylen);
/* The CA file that signs the region's hospitals: [directory] tls_ca, else [http]
 * tls_client_ca. */
const char *uw_region_ca(const node *n);

/* underwriting_summary.c: this hospital's part, a signed Bundle of Conditions (ICD-10 code,
 * year, institution; no free text), and of lab Observations when f->labs, for a, under f. *jws
 * malloc'ed, *nconditions counted; 0, or -1 with err (archive or signer failure). */
int uw_summary_sign(node *n, const uw_ask *a, const uw_facts *f, char **jws, int *nconditions,
                    char *err, size_t errlen);
/* underwriting_labs.c: when the scope holds labs, one Observation per numeric lab result of
 * the period (code, value, unit, year) added to b. The number added, or -1 with err. */
struct fhir_builder;
int uw_labs_add(node *n, struct fhir_builder *b, const uw_ask *a, char *err, size_t errlen);

/* underwriting_peer.c: the hospitals the directory lists for pseudonym (other than this one),
 * all asked at once for their parts. parts[i].jws (malloc'ed compact JWS, its signature
 * checked: uw_part_check) or NULL with the reason in parts[i].error. Returns the number of
 * institutions (parts and missing alike), or -1 with err when the directory could not be
 * asked. */
typedef struct uw_part {
    char institution[65];
    char *jws; /* NULL: did not answer (why in error) */
    char error[160];
} uw_part;
int uw_peers_ask(node *n, const uw_ask *a, const char *token, uw_part **parts, char *err,
                 size_t errlen);
void uw_parts_free(uw_part *p, int n);
/* underwriting_token.c: does p's JWS verify against the region's CA, signed by a certificate
 * naming p's institution? 0, or -1 (p->jws freed and NULL, why in p->error). */
int uw_part_check(node *n, uw_part *p);

/* Unix seconds as YYYYMMDD (UTC) in out (9 bytes). */
void uw_day(int64_t t, char out[9]);

#endif
