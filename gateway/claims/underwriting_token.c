/* underwriting_token.c: the consent token of an underwriting request. The hospital that
 * recorded the consent signs its facts (consent id, institution, insurer, the applicant's
 * pseudonym, scope, the records' period, its end) with its claims signer; every peer asked for
 * a summary verifies that signature against the region's CA before it discloses anything. */
#include "underwriting.h"
#include "claims.h"
#include "consent.h"
#include "jws.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *uw_region_ca(const node *n)
{
    const config *c = n->cfg;
    return c->dir_tls_ca && *c->dir_tls_ca ? c->dir_tls_ca : c->tls_client_ca;
}

void uw_day(int64_t t, char out[9])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 9, "%Y%m%d", &tm))
        snprintf(out, 9, "19700101");
}

int uw_token_make(node *n, const uw_facts *f, char **jws, char *err, size_t errlen)
{
    char from[32], to[32], end[32], now[32];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:s}, s:s}", "typ",
                          UW_CONSENT_TYP, "consent", f->consent, "institution", f->institution,
                          "insurer", f->insurer, "pseudonym", f->pseudonym, "scope", "diagnoses",
                          "record_period", "start", consent_time_format(f->record_from, from),
                          "end", consent_time_format(f->record_to, to), "expires",
                          consent_time_format(f->expires, end));
    if (o && f->labs)
        json_array_append_new(json_object_get(o, "scope"), json_string("labs"));
    if (o) /* made for one request: a peer refuses it minutes later */
        json_object_set_new(o, "issued", json_string(consent_time_format(time(NULL), now)));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t len = 0;
    int rc =
        jws_sign(claims_signer(n), "application/json", text, strlen(text), jws, &len, err, errlen);
    free(text);
    return rc;
}

/* Does the RFC 2253 subject hold the component OU=inst? */
static int subject_names(const char *subject, const char *inst)
{
    size_t k = strlen(inst);
    for (const char *p = subject; (p = strstr(p, "OU=")); p += 3)
        if ((p == subject || p[-1] == ',') && !strncmp(p + 3, inst, k) &&
            (p[3 + k] == ',' || p[3 + k] == 0))
            return 1;
    return 0;
}

static int copy_str(json_t *o, const char *key, char *out, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v || !*v || strlen(v) >= len)
        return -1;
    snprintf(out, len, "%s", v);
    return 0;
}

/* The facts of a verified payload; 0 or -1 with why. */
static int facts_read(const unsigned char *payload, size_t len, uw_facts *f, char *why,
                      size_t whylen)
{
    json_t *o = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *p = json_object_get(o, "record_period"), *scope = json_object_get(o, "scope"), *v;
    const char *typ = json_string_value(json_object_get(o, "typ"));
    size_t i;
    int rc = -1;
    memset(f, 0, sizeof *f);
    if (!typ || strcmp(typ, UW_CONSENT_TYP) ||
        copy_str(o, "consent", f->consent, sizeof f->consent) ||
        copy_str(o, "institution", f->institution, sizeof f->institution) ||
        copy_str(o, "insurer", f->insurer, sizeof f->insurer) ||
        copy_str(o, "pseudonym", f->pseudonym, sizeof f->pseudonym) || !json_is_array(scope) ||
        consent_time_parse(json_string_value(json_object_get(p, "start")), &f->record_from) ||
        consent_time_parse(json_string_value(json_object_get(p, "end")), &f->record_to) ||
        consent_time_parse(json_string_value(json_object_get(o, "expires")), &f->expires) ||
        consent_time_parse(json_string_value(json_object_get(o, "issued")), &f->issued)) {
        snprintf(why, whylen, "consent token: not an underwriting consent");
        goto done;
    }
    json_array_foreach(scope, i, v)
    {
        if (json_string_value(v) && !strcmp(json_string_value(v), "labs"))
            f->labs = 1;
    }
    rc = 0;
done:
    json_decref(o);
    return rc;
}

int uw_token_check(node *n, const char *jws, const char *caller, uw_facts *f, char *why,
                   size_t whylen)
{
    jws_verified v;
    char err[256];
    if (jws_verify(jws, strlen(jws), uw_region_ca(n), &v, err, sizeof err) < 0) {
        snprintf(why, whylen, "consent token: %s", err);
        return -1;
    }
    int rc = facts_read(v.payload, v.payload_len, f, why, whylen);
    if (rc == 0 && (!caller || strcmp(caller, f->institution))) {
        snprintf(why, whylen, "consent token of %s sent by %s", f->institution,
                 caller ? caller : "?");
        rc = -1;
    } else if (rc == 0 && !subject_names(v.subject, f->institution)) {
        snprintf(why, whylen, "consent token signed by %.200s, not by %s", v.subject,
                 f->institution);
        rc = -1;
    } else if (rc == 0 && f->expires <= (int64_t)time(NULL)) {
        snprintf(why, whylen, "consent %s@%s expired", f->consent, f->institution);
        rc = -1;
    } else if (rc == 0 && (f->issued > (int64_t)time(NULL) + UW_TOKEN_SKEW ||
                           f->issued < (int64_t)time(NULL) - UW_TOKEN_MAX_AGE)) {
        snprintf(why, whylen, "consent token of %s is stale", f->institution);
        rc = -1;
    }
    jws_verified_free(&v);
    return rc;
}

int uw_part_check(node *n, uw_part *p)
{
    jws_verified v;
    char err[256];
    int rc = jws_verify(p->jws, strlen(p->jws), uw_region_ca(n), &v, err, sizeof err);
    if (rc < 0)
        snprintf(p->error, sizeof p->error, "its part does not verify: %.120s", err);
    else if (!subject_names(v.subject, p->institution))
        snprintf(p->error, sizeof p->error, "its part is signed by another institution");
    if (rc == 0 && subject_names(v.subject, p->institution)) {
        jws_verified_free(&v);
        return 0;
    }
    if (rc == 0)
        jws_verified_free(&v);
    free(p->jws);
    p->jws = NULL;
    return -1;
}
