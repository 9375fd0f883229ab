/* underwriting_consent.c: the scope and period of the records of an underwriting (核保)
 * consent, read from POST /api/v1/consents and written back in its answers. */
#include "underwriting_consent.h"
#include "consent.h"

#include <stdio.h>
#include <string.h>

static const char *scope_parse(json_t *arr, char *buf, size_t len)
{
    int labs = 0, diagnoses = 0;
    size_t i;
    json_t *v;
    if (!arr) {
        snprintf(buf, len, "diagnoses");
        return NULL;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 2)
        return "scope must be [\"diagnoses\"] or [\"diagnoses\", \"labs\"]";
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "diagnoses"))
            diagnoses = 1;
        else if (s && !strcmp(s, "labs"))
            labs = 1;
        else
            return "scope must be [\"diagnoses\"] or [\"diagnoses\", \"labs\"]";
    }
    if (!diagnoses)
        return "an underwriting scope always holds \"diagnoses\"";
    snprintf(buf, len, "%s", labs ? "diagnoses,labs" : "diagnoses");
    return NULL;
}

const char *underwriting_consent_parse(json_t *body, huren_index_consent *c, char *scope_buf,
                                       size_t len, time_t now)
{
    json_t *p = json_object_get(body, "record_period");
    const char *bad = scope_parse(json_object_get(body, "scope"), scope_buf, len);
    if (bad)
        return bad;
    c->scope = scope_buf;
    const char *from = json_string_value(json_object_get(p, "start"));
    const char *to = json_string_value(json_object_get(p, "end"));
    if (!json_is_object(p) || consent_time_parse(from, &c->record_from) < 0 ||
        consent_time_parse(to, &c->record_to) < 0)
        return "record_period {\"start\", \"end\"} (YYYY-MM-DD) is required for underwriting";
    if (c->record_to <= c->record_from)
        return "record_period: end must be after start";
    if (c->record_to - c->record_from > UNDERWRITING_PERIOD_MAX)
        return "record_period: at most five years";
    if (c->record_to > (int64_t)now + 86400)
        return "record_period: cannot end in the future";
    return NULL;
}

void underwriting_consent_json(json_t *o, const huren_index_consent *c)
{
    char t[32];
    json_t *scope = json_array();
    const char *s = c->scope && *c->scope ? c->scope : "diagnoses";
    json_array_append_new(scope, json_string("diagnoses"));
    if (strstr(s, "labs"))
        json_array_append_new(scope, json_string("labs"));
    json_object_set_new(o, "scope", scope);
    json_t *p = json_object();
    json_object_set_new(p, "start", json_string(consent_time_format(c->record_from, t)));
    json_object_set_new(p, "end", json_string(consent_time_format(c->record_to, t)));
    json_object_set_new(o, "record_period", p);
}
