/* consent.c: whether a patient's consent allows an access (consent.h has the rules), and the
 * small parsers consents share with the APIs that record them (times, identifiers). The
 * records themselves are read from index/; nothing here writes. */
#include "consent.h"
#include "index/index_consents.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *consent_result_text(consent_result r)
{
    switch (r) {
    case CONSENT_OK:
        return "ok";
    case CONSENT_NONE:
        return "no consent";
    case CONSENT_OTHER_GRANTEE:
        return "consent for another grantee only";
    case CONSENT_OTHER_VISIT:
        return "consent for other visits only";
    case CONSENT_NOT_YET:
        return "consent not yet in force";
    case CONSENT_EXPIRED:
        return "consent expired";
    case CONSENT_REVOKED:
        return "consent revoked";
    default:
        return "archive unavailable";
    }
}

const char *consent_purpose_name(huren_index_consent_purpose p)
{
    return p == HUREN_INDEX_CONSENT_RECOGNITION    ? "recognition"
           : p == HUREN_INDEX_CONSENT_UNDERWRITING ? "underwriting"
                                                   : "claim";
}

const char *consent_status(const huren_index_consent *c, time_t now)
{
    if (c->revoked_at && c->revoked_at <= (int64_t)now)
        return "revoked";
    if ((int64_t)now >= c->expires_at)
        return "expired";
    if ((int64_t)now < c->valid_from)
        return "not-yet";
    return "active";
}

static int grantee_matches(const huren_index_consent *c, huren_index_consent_purpose purpose,
                           const char *grantee)
{
    if (!c->grantee || !grantee)
        return 0;
    if (strcmp(c->grantee, grantee) == 0)
        return 1;
    return purpose == HUREN_INDEX_CONSENT_RECOGNITION && strcmp(c->grantee, "*") == 0;
}

static int visit_covered(const huren_index_consent *c, const char *visit)
{
    if (c->nvisits == 0)
        return 1;
    if (!visit)
        return 0;
    for (size_t i = 0; i < c->nvisits; i++)
        if (c->visits[i] && strcmp(c->visits[i], visit) == 0)
            return 1;
    return 0;
}

/* How close a miss is: a consent for this grantee and visit that is not in force says more
 * (to the audit trail) than one for another visit, which says more than one for another
 * grantee. */
static int closeness(consent_result r)
{
    return r == CONSENT_OTHER_GRANTEE ? 1
           : r == CONSENT_OTHER_VISIT ? 2
           : r >= CONSENT_NOT_YET     ? 3
                                      : 0;
}

consent_result consent_evaluate(const huren_index_consent *items, size_t n,
                                huren_index_consent_purpose purpose, const char *grantee,
                                const char *visit, time_t now, long *which)
{
    consent_result best = CONSENT_NONE;
    long at = -1, ok = -1;
    for (size_t i = 0; i < n; i++) {
        const huren_index_consent *c = &items[i];
        consent_result r;
        if (c->purpose != purpose)
            continue;
        if (!grantee_matches(c, purpose, grantee))
            r = CONSENT_OTHER_GRANTEE;
        else if (!visit_covered(c, visit))
            r = CONSENT_OTHER_VISIT;
        else if (c->revoked_at && c->revoked_at <= (int64_t)now)
            r = CONSENT_REVOKED;
        else if ((int64_t)now < c->valid_from)
            r = CONSENT_NOT_YET;
        else if ((int64_t)now >= c->expires_at)
            r = CONSENT_EXPIRED;
        else
            r = CONSENT_OK;
        if (r == CONSENT_OK) {
            if (ok < 0 || c->id > items[ok].id)
                ok = (long)i;
        } else if (closeness(r) > closeness(best) || best == CONSENT_NONE ||
                   (closeness(r) == closeness(best) && c->id > items[at].id)) {
            best = r;
            at = (long)i;
        }
    }
    if (which)
        *which = ok >= 0 ? ok : at;
    return ok >= 0 ? CONSENT_OK : best;
}

static consent_result check_filter(node *n, const huren_index_consent_filter *f,
                                   huren_index_consent_purpose purpose, const char *grantee,
                                   const char *visit, time_t now, int64_t *consent_id,
                                   char *patient_id, size_t len)
{
    huren_index_consent_list l;
    long which = -1;
    if (huren_index_consents_find(n->index, f, &l) < 0)
        return CONSENT_ERROR;
    consent_result r = consent_evaluate(l.items, l.n, purpose, grantee, visit, now, &which);
    if (r == CONSENT_OK) {
        if (consent_id)
            *consent_id = l.items[which].id;
        if (patient_id && len)
            snprintf(patient_id, len, "%s", l.items[which].patient_id);
    }
    huren_index_consent_list_free(&l);
    return r;
}

consent_result consent_check(node *n, const char *patient, huren_index_consent_purpose purpose,
                             const char *grantee, const char *visit, time_t now,
                             int64_t *consent_id)
{
    if (!patient || !*patient)
        return CONSENT_NONE;
    huren_index_consent_filter f = {.patient = patient, .purpose = (int)purpose};
    return check_filter(n, &f, purpose, grantee, visit, now, consent_id, NULL, 0);
}

consent_result consent_check_policy(node *n, const char *policy_ref, const char *grantee,
                                    const char *visit, time_t now, int64_t *consent_id,
                                    char *patient_id, size_t len)
{
    if (!policy_ref || !*policy_ref || !grantee)
        return CONSENT_NONE;
    huren_index_consent_filter f = {
        .purpose = HUREN_INDEX_CONSENT_CLAIM, .grantee = grantee, .policy_ref = policy_ref};
    return check_filter(n, &f, HUREN_INDEX_CONSENT_CLAIM, grantee, visit, now, consent_id,
                        patient_id, len);
}

int consent_token_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* n digits at s into *out; 0 or -1. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int consent_time_parse(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
    size_t n = s ? strlen(s) : 0;
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (n > 10) {
        if (n < 20 || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
            digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
            return -1;
        if (n == 20 && s[19] == 'Z')
            sign = 0;
        else if (n == 25 && (s[19] == '+' || s[19] == '-') && !digits(s + 20, 2, &oh) &&
                 s[22] == ':' && !digits(s + 23, 2, &om) && oh < 24 && om < 60)
            sign = s[19] == '+' ? 1 : -1;
        else
            return -1;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d) /* 31 February */
        return -1;
    *out = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

const char *consent_time_format(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, 32, "%lld", (long long)t);
    return buf;
}
