/* underwriting_consent.h: what an underwriting (核保) consent records beyond the others: its
 * scope (diagnoses; labs too when asked) and the period of the records it covers, at most five
 * years. Private to consent/ (api_consents.c). */
#ifndef HUREN_GATEWAY_UNDERWRITING_CONSENT_H
#define HUREN_GATEWAY_UNDERWRITING_CONSENT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "index/index_consents.h"

/* The longest period of records one underwriting consent covers: five years (of 366 days). */
#define UNDERWRITING_PERIOD_MAX ((int64_t)5 * 366 * 86400)

/* Read "scope" (array of "diagnoses", "labs"; default ["diagnoses"]) and "record_period"
 * ({"start", "end"}: required, end after start, at most five years, not after now + a day)
 * of body into c (scope text written to scope_buf, len bytes). NULL, or why the request is
 * malformed (400). */
const char *underwriting_consent_parse(json_t *body, huren_index_consent *c, char *scope_buf,
                                       size_t len, time_t now);

/* Add "scope" and "record_period" of an underwriting consent to its JSON o. */
void underwriting_consent_json(json_t *o, const huren_index_consent *c);

#endif
