/* consent.h: the patient's consent, as every feature that reads patient data for a third party
 * checks it ("one case, one authorisation"): insurer claims (purpose claim) and cross-hospital
 * recognition (purpose recognition). Records are kept by index/ (huren_index_consent_*); the
 * rules that decide whether one allows an access are here, in one place. */
#ifndef HUREN_GATEWAY_CONSENT_H
#define HUREN_GATEWAY_CONSENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "huren_index.h"
#include "index/index_consents.h"
#include "node.h"

/* Outcome of a check. Callers answering a third party must not tell the reasons apart (an
 * insurer would learn that a visit exists): they answer 403 for every value but CONSENT_OK and
 * keep the reason for the audit trail and the log. */
typedef enum consent_result {
    CONSENT_ERROR = -1,    /* the archive could not be read: answer 503 */
    CONSENT_OK = 0,        /* a consent in force allows it (its id in *consent_id) */
    CONSENT_NONE,          /* no consent of this purpose for this patient at all */
    CONSENT_OTHER_GRANTEE, /* consents exist, none for this grantee */
    CONSENT_OTHER_VISIT,   /* consents for this grantee exist, none covers this visit */
    CONSENT_NOT_YET,       /* the matching consent starts later */
    CONSENT_EXPIRED,       /* the matching consent has expired */
    CONSENT_REVOKED,       /* the matching consent was revoked */
} consent_result;

/* Does patient `patient` (local or national id) allow `grantee` (an institution code) to read
 * data for `purpose` about visit `visit` at time `now`?
 *   - purpose must be the consent's; grantee equal to the consent's, or the consent's grantee
 *     is "*" (any hospital of the province; recognition consents only);
 *   - visit: a consent listing visits covers exactly those; one listing none covers any visit
 *     and also visit == NULL (a recognition query not made for one visit); a consent listing
 *     visits does not cover visit == NULL;
 *   - in force: valid_from <= now < expires_at, and not revoked at or before now.
 * Returns CONSENT_OK (the id of the newest consent that allows it in *consent_id, if not NULL)
 * or the reason of the closest miss. Thread-safe; reads the archive of n. */
consent_result consent_check(node *n, const char *patient, huren_index_consent_purpose purpose,
                             const char *grantee, const char *visit, time_t now,
                             int64_t *consent_id);

/* The same for a claim asked by the insurer's policy reference instead of the patient's id:
 * the consent must carry that policy_ref. On CONSENT_OK the consent's local patient id is
 * copied to patient_id (len bytes). */
consent_result consent_check_policy(node *n, const char *policy_ref, const char *grantee,
                                    const char *visit, time_t now, int64_t *consent_id,
                                    char *patient_id, size_t len);

/* The rules above on consents already read (any order; all of one patient). Pure: the unit
 * tests call it. *which is the index of the consent that allows or that was closest (-1 if
 * none); among equally close misses the newest (highest id) gives the reason. */
consent_result consent_evaluate(const huren_index_consent *items, size_t n,
                                huren_index_consent_purpose purpose, const char *grantee,
                                const char *visit, time_t now, long *which);

/* "ok", "no consent", "consent for another grantee", ... for logs and audit entries. */
const char *consent_result_text(consent_result r);
/* "claim", "recognition" or "underwriting". */
const char *consent_purpose_name(huren_index_consent_purpose p);
/* "active", "revoked", "expired" or "not-yet" of one consent at time now. */
const char *consent_status(const huren_index_consent *c, time_t now);

/* Ids, visit numbers, institution codes, request ids: 1..64 of [A-Za-z0-9._-]. */
int consent_token_valid(const char *s);
/* "2026-11-26", "2026-11-26T08:00:00Z", "2026-11-26T16:00:00+08:00" to Unix seconds; a date
 * alone is its 00:00:00 UTC. Returns 0, or -1 when malformed. */
int consent_time_parse(const char *s, int64_t *out);
/* Unix seconds as "2026-11-26T08:00:00Z" (buf of 32 bytes). */
const char *consent_time_format(int64_t t, char buf[32]);

#endif
