/* claim_version.h: one claim per visit and insurer. The claim data of a visit has a
 * fingerprint: the visit's bundle built with everything that belongs to one request (claim id,
 * request id, consent, time) held fixed, digested per resource. Equal fingerprints mean the
 * insurer already has this data; different ones make a new version, which says what changed. */
#ifndef HUREN_GATEWAY_CLAIM_VERSION_H
#define HUREN_GATEWAY_CLAIM_VERSION_H

#include "claims/claim_bundle.h"

#include <stddef.h>

typedef struct claim_fingerprint {
    char hash[65]; /* SHA-256 over every resource's digest */
    char *parts;   /* JSON object "Type/id" -> SHA-256 of the resource (malloc'ed) */
} claim_fingerprint;

/* The fingerprint of the claim data in (only visit, reports, insurer, hospital and offset_min
 * are read). 0, or -1 when out of memory. Free with claim_fingerprint_free. */
int claim_fingerprint_make(const claim_bundle_input *in, claim_fingerprint *out);
void claim_fingerprint_free(claim_fingerprint *f); /* NULL-safe */

/* What changed from old_parts (NULL: not recorded) to new_parts, as lines such as
 * "changed DiagnosticReport/R1", sorted; *out malloc'ed (free with claim_changes_free).
 * Returns the number of lines, or -1 when out of memory or a parts text is not JSON. */
int claim_changes(const char *old_parts, const char *new_parts, char ***out);
void claim_changes_free(char **lines, int n);

#endif
