/* fhir.h: writing FHIR R4 JSON (http://hl7.org/fhir/R4), shared by the claim bundle (claims/)
 * and the records API (records/). fhir.c holds the data types (exact decimals and Money,
 * dateTime with the hospital's UTC offset, urn:uuid full URLs, codes); fhir_resources.c builds
 * the resources of a visit (Organization, Patient, Encounter, Condition, ChargeItem, Invoice)
 * and of a report (DiagnosticReport, Observation) from archive records. Every builder writes
 * only R4 elements; what R4 has no element for goes into a huren extension (FHIR_EXT). */
#ifndef HUREN_GATEWAY_FHIR_H
#define HUREN_GATEWAY_FHIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "huren_index.h"
#include "index/index_records.h"
#include "index/index_consents.h"
#include "index/index_directory.h"

/* Our extensions and identifier systems (documented in docs/api/claims.md and docs/api/records.md).
 */
#define FHIR_EXT "https://huren.example/fhir/StructureDefinition/"
#define FHIR_EXT_AMOUNT_FEN FHIR_EXT "amount-fen" /* on Money: valueDecimal, integer fen */
#define FHIR_EXT_CLAIM FHIR_EXT "claim"           /* on the claim's Invoice: the claim summary */
/* on ImagingStudy: instances (valueUnsignedInt, those in the root) and root (valueString, the
 * study's pixel root, docs/insurers.md) */
#define FHIR_EXT_PIXEL_PROVENANCE FHIR_EXT "pixel-provenance"
#define FHIR_EXT_CONSENT_PURPOSE                                                                   \
    FHIR_EXT "consent-purpose"                      /* Consent: valueCode claim|recognition */
#define FHIR_EXT_POLICY_REF FHIR_EXT "policy-ref"   /* Consent: valueString, insurer's policy */
#define FHIR_EXT_RECORDED_BY FHIR_EXT "recorded-by" /* Consent: valueString, staff identity */
#define FHIR_EXT_REVOKED FHIR_EXT "revoked" /* Consent: at (valueDateTime), by (valueString) */
#define FHIR_SID_CN_ID "urn:huren:id:CN-ID" /* resident id number (GB 11643) */
#define FHIR_SID_INSTITUTION "urn:huren:id:institution" /* institution code */
#define FHIR_SID_PATIENT "urn:huren:id:patient"         /* the hospital's local patient id */
#define FHIR_CS_PRICE "https://huren.example/fhir/CodeSystem/price-component"

#define FHIR_URL_LEN 48  /* "urn:uuid:" + 36 + NUL, or "#" + a local id */
#define FHIR_TIME_LEN 40 /* a dateTime or instant with its offset */

/* ---- data types (fhir.c) ---- */

/* A JSON number written exactly as the decimal `text`, never through a binary double: the
 * value is a marked string that fhir_dump() writes as a number. HL7 NM forms are normalised
 * to FHIR's (-?(0|[1-9][0-9]*)(\.[0-9]+)?): "+5" -> 5, "007.50" -> 7.50, ".5" -> 0.5, the
 * digits kept. NULL when text is no plain decimal number (or out of memory). */
json_t *fhir_decimal(const char *text);

/* Money from integer fen: {"value": 123.45, "currency": "CNY", "extension": [amount-fen]}. */
json_t *fhir_money(int64_t fen);

/* The decimal text of fen as yuan ("-0.05", "123.45") in buf (>= 32 bytes); returns buf. */
char *fhir_yuan(int64_t fen, char *buf, size_t len);

/* Compact JSON text of root with the marked decimals as numbers (malloc'ed, NUL-terminated,
 * *len its length when len is given), or NULL when out of memory. */
char *fhir_dump(const json_t *root, size_t *len);

/* An HL7 v2 time "YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]" as a FHIR dateTime: a date (or part
 * of one) stays a date; with a time, seconds are filled in and the offset is the message's own
 * or else offset_min (the hospital's). NULL when the text is no valid time (an impossible date
 * included): the element is then left out rather than written wrong. */
json_t *fhir_datetime(const char *hl7, int offset_min);
/* As fhir_datetime(), but an instant: NULL unless the time has at least minutes. */
json_t *fhir_instant(const char *hl7, int offset_min);
/* The date part only (YYYY, YYYY-MM or YYYY-MM-DD), NULL when invalid. */
json_t *fhir_date(const char *hl7);
/* t as an instant at offset_min ("2024-01-15T08:30:00+08:00") in buf; returns buf. */
char *fhir_time_format(time_t t, int offset_min, char buf[FHIR_TIME_LEN]);

/* Parse "+08:00", "-03:30", "Z" or "+0800" into minutes east of UTC (-12:00..+14:00).
 * Returns 0, or -1 when malformed. */
int fhir_offset_parse(const char *text, int *minutes);

/* A CodeableConcept of one coding; system may be an HL7 v2 coding system name ("LN", "I10")
 * that is mapped to its FHIR URI, a URI, or NULL/"" for none. */
json_t *fhir_codeable(const char *system, const char *code, const char *display);
/* The FHIR URI of an HL7 v2 coding system name, the text itself when it is a URI, or NULL. */
const char *fhir_code_system(const char *hl7);

/* o[key] = v when v is not NULL (v's reference is taken). */
void fhir_set(json_t *o, const char *key, json_t *v);
/* o[key] = v as a JSON string when v is non-empty. */
void fhir_set_str(json_t *o, const char *key, const char *v);

/* Does a request ask for FHIR? format_arg: its ?_format= (json, fhir, application/fhir+json),
 * which decides when given; else accept: its Accept header naming application/fhir+json. */
int fhir_wanted(const char *format_arg, const char *accept);
#define FHIR_CONTENT_TYPE "application/fhir+json; fhirVersion=4.0"

/* ---- resources (fhir_resources.c, fhir_report.c, fhir_consent.c) ---- */

/* Where built resources go: as entries of a Bundle (entries set: each gets a urn:uuid fullUrl
 * derived from seed, type and local id, and references use it), or contained in one resource
 * (contained set: references are "#id"). */
typedef struct fhir_builder {
    const char *seed;     /* makes the full URLs unique to this bundle (claim id, request) */
    int offset_min;       /* the hospital's UTC offset, for HL7 times without one */
    int clinical;         /* records view: also order numbers, sender, local patient id */
    const char *hospital; /* institution code of this hospital, "" or NULL when unknown */
    json_t *entries;      /* Bundle.entry */
    json_t *contained;    /* DomainResource.contained */
} fhir_builder;

/* The full URL (or "#id") of resource type/id in this builder, in url. */
void fhir_url(const fhir_builder *b, const char *type, const char *id, char url[FHIR_URL_LEN]);
/* {"reference": the URL of type/id}. */
json_t *fhir_ref(const fhir_builder *b, const char *type, const char *id);
/* Add a resource (its reference is taken); returns it (borrowed), or NULL if res is NULL. */
json_t *fhir_add(fhir_builder *b, json_t *res);

/* Organization "hospital": this hospital, identifier = its institution code. */
json_t *fhir_add_hospital(fhir_builder *b);
/* Patient "patient". */
json_t *fhir_add_patient(fhir_builder *b, const huren_index_rec_patient *p);
/* Encounter "encounter", its Conditions, ChargeItems and the Invoice "invoice" that totals
 * them (*total_fen: the exact sum). Returns the Invoice (borrowed), NULL when out of memory. */
json_t *fhir_add_visit(fhir_builder *b, const huren_index_visit_record *v, int64_t *total_fen);
/* DiagnosticReport "report-<local_id>" with its Observations "obs-<local_id>-<k>" (lab) or
 * its conclusion (exam: the text of its TX/FT/ST observations). in_visit: it belongs to the
 * Encounter "encounter" of this builder. Returns the DiagnosticReport (borrowed). */
json_t *fhir_add_report(fhir_builder *b, const huren_index_report *r, const char *local_id,
                        int in_visit);
/* The text of a report's TX/FT/ST observations, one per line (malloc'ed; "" when none). */
char *fhir_report_text(const huren_index_report *r);
/* A consent as an R4 Consent (not added anywhere: the caller owns it); status is
 * consent_status()'s word (active, not-yet, expired, revoked). NULL when out of memory. */
json_t *fhir_consent(const fhir_builder *b, const huren_index_consent *c, const char *status);
/* HL7 result status (table 0123) as a DiagnosticReport/Observation status. */
const char *fhir_report_status(const char *hl7);

#endif
