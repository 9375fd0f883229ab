/* underwriting_labs.c: lab results in an underwriting part, only when the consent's scope
 * holds "labs": one Observation per numeric result of the period (the test's code, the value
 * and unit as sent, the year, the institution), nothing else: no text results, no reference
 * ranges or flags, no order numbers. */
#include "underwriting.h"
#include "fhir.h"
#include "index/index_records.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* The day an observation counts for, YYYYMMDD (its own time, else its report's). */
static const char *obs_day(const huren_index_observation *o, const huren_index_report *r)
{
    const char *t = o->observed_time && strlen(o->observed_time) >= 8   ? o->observed_time
                    : r->observed_time && strlen(r->observed_time) >= 8 ? r->observed_time
                                                                        : r->stored_at;
    return t && strlen(t) >= 8 ? t : NULL;
}

static json_t *observation(fhir_builder *b, const huren_index_observation *o, const char *year,
                           const char *psn, int k)
{
    json_t *value = fhir_decimal(o->value);
    if (!value || !o->code || !*o->code)
        return NULL;
    const char *sys = fhir_code_system(o->code_system);
    json_t *coding = json_pack("{s:s}", "code", o->code);
    if (sys)
        json_object_set_new(coding, "system", json_string(sys));
    json_t *q = json_pack("{s:o}", "value", value);
    if (o->units && *o->units)
        json_object_set_new(q, "unit", json_string(o->units));
    char id[16];
    snprintf(id, sizeof id, "o%d", k);
    return json_pack("{s:s, s:s, s:[{s:s, s:o}], s:s, s:{s:[o]}, s:{s:{s:s, s:s}}, s:s, s:o}",
                     "resourceType", "Observation", "id", id, "extension", "url",
                     FHIR_EXT "institution", "valueReference",
                     fhir_ref(b, "Organization", "hospital"), "status", "final", "code", "coding",
                     coding, "subject", "identifier", "system", "urn:huren:pseudonym", "value", psn,
                     "effectiveDateTime", year, "valueQuantity", q);
}

int uw_labs_add(node *n, fhir_builder *b, const uw_ask *a, char *err, size_t errlen)
{
    char from[9], to[9];
    huren_index_report_list l;
    uw_day(a->from, from);
    uw_day(a->to, to);
    huren_index_report_filter f = {.kind = HUREN_INDEX_REPORT_LAB, .since = from};
    if (huren_index_reports_find(n->index, a->patient, &f, &l) < 0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return -1;
    }
    int k = 0;
    for (size_t i = 0; i < l.n; i++) {
        const huren_index_report *r = &l.items[i];
        for (size_t j = 0; j < r->nobs; j++) {
            const huren_index_observation *o = &r->obs[j];
            const char *d = obs_day(o, r);
            char year[5];
            if (!d || strncmp(d, from, 8) < 0 || strncmp(d, to, 8) >= 0 || !o->value_type ||
                strcmp(o->value_type, "NM"))
                continue;
            snprintf(year, sizeof year, "%.4s", d);
            json_t *obs = observation(b, o, year, a->pseudonym, k + 1);
            if (obs) {
                fhir_add(b, obs);
                k++;
            }
        }
    }
    huren_index_report_list_free(&l);
    return k;
}
