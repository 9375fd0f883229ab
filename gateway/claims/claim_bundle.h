/* claim_bundle.h: the claim data of one visit as a FHIR R4 Bundle (type collection), holding
 * only what a claim needs: the hospital (Organization), Patient (name, sex, birth date,
 * national id), Encounter, Condition, ChargeItem with an Invoice that prices and totals them
 * and carries the claim summary, DiagnosticReport + Observation (lab), exam report conclusions,
 * and the discharge summary (Composition) when the feed carried one; for each exam report's
 * study an ImagingStudy with its instance count and pixel root (provenance). */
#ifndef HUREN_GATEWAY_CLAIM_BUNDLE_H
#define HUREN_GATEWAY_CLAIM_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "huren_index.h"
#include "index/index_records.h"
#include "index/index_directory.h"

typedef struct claim_bundle_input {
    const char *claim_id;   /* the bundle's identifier */
    const char *request_id; /* the insurer's */
    const char *insurer;    /* institution code of the insurer */
    const char *hospital;   /* institution code of this hospital ("" = not configured) */
    int64_t consent_id;
    time_t now;
    int offset_min; /* the hospital's UTC offset ([node] utc_offset), for local HL7 times */
    const huren_index_visit_record *visit;  /* with its diagnoses and charges */
    const huren_index_report_list *reports; /* the visit's reports */
    /* versions: 0 leaves them out (the data fingerprint); a version after the first names the
     * claim it replaces and what changed ("changed Observation/R1.1", "added …", "removed …") */
    int64_t version;
    const char *replaces;
    const char *const *changes;
    size_t nchanges;
    /* provenance: fills out for an exam report's study (all zero, root "", when it is not held
     * here); returns 0 or negative. NULL: no ImagingStudy resources. */
    int (*provenance)(const char *study_uid, huren_index_provenance *out, void *payload);
    void *provenance_payload;
} claim_bundle_input;

/* The bundle as compact JSON text (malloc'ed, NUL-terminated; *len its length), or NULL when
 * out of memory. Money is a JSON number of yuan written from integer fen (151.79) with the
 * fen in the amount-fen extension; the Invoice's total is the exact sum of the ChargeItems. */
char *claim_bundle_build(const claim_bundle_input *in, size_t *len);

/* Is this report of the visit its discharge summary? LOINC 18842-5 / 11490-0 as the item code
 * (OBR-4), or diagnostic service section "DS" (OBR-24). */
int claim_bundle_is_discharge_summary(const huren_index_report *r);

#endif
