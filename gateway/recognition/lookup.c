/* lookup.c: the steps every consent-checked query across hospitals takes (the recognition
 * prompt and the patient's region timeline): the patient's national id from what the doctor
 * gave, the patient's recognition consent, the pseudonym, and the regional directory's entries
 * for it. Each step answers the request itself when it cannot go on. */
#define LOG_COMPONENT "recognition"
#include "consent.h"
#include "huren_err.h"
#include "identity.h"
#include "log.h"
#include "recognition_int.h"
#include "http/session.h"

#include <ctype.h>
#include "random_id.h"
#include "index/index_records.h"
#include "index/index_consents.h"
#include "index/index_recognition.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Does s look like an identity number (15 or 18 characters, digits but the last) rather
 * than a local id? Full-width digits count as digits. */
static int looks_like_id(const char *s)
{
    size_t n = 0, digits = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        if (isdigit(*p)) {
            digits++;
            p++;
        } else if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99) {
            digits++; /* U+FF10..FF19 */
            p += 3;
        } else {
            p++;
        }
    }
    return (n == 15 || n == 18) && digits >= n - 1;
}

int rec_patient_resolve(node *n, const char *patient, rec_patient *p, http_response *res)
{
    char err[HUREN_ERRLEN];
    memset(p, 0, sizeof *p);
    if (identity_normalise(patient, p->nid, &p->type, err, sizeof err) == 0)
        return 0;
    int found = huren_index_rec_patient_exists(n->index, patient, p->local, sizeof p->local);
    if (found < 0)
        return http_reply_error(res, 503, "archive unavailable"), -1;
    if (!found) {
        char msg[300];
        if (looks_like_id(patient)) {
            snprintf(msg, sizeof msg, "patient: not a valid resident ID number: %.200s", err);
            http_reply_error(res, 400, msg);
        } else {
            http_reply_error(res, 404, "unknown patient");
        }
        return -1;
    }
    char nid[128];
    int has = huren_index_rec_patient_national(n->index, p->local, nid, sizeof nid);
    if (has < 0)
        return http_reply_error(res, 503, "archive unavailable"), -1;
    if (!has || identity_normalise(nid, p->nid, &p->type, err, sizeof err) < 0) {
        http_reply_error(res, 422,
                         "no valid resident ID number on file for this patient: the "
                         "directory cannot be asked");
        return -1;
    }
    return 0;
}

int rec_consent_require(node *n, const rec_patient *p, http_response *res)
{
    int64_t id = 0;
    consent_result r =
        consent_check(n, p->local[0] ? p->local : p->nid, HUREN_INDEX_CONSENT_RECOGNITION,
                      n->cfg->dir_institution, NULL, time(NULL), &id);
    if (r == CONSENT_OK)
        return 0;
    if (r == CONSENT_ERROR)
        return http_reply_error(res, 503, "archive unavailable"), -1;
    char msg[200];
    snprintf(msg, sizeof msg, "no recognition consent in force for this patient: %s",
             consent_result_text(r));
    snprintf(res->audit_object, sizeof res->audit_object, "recognition refused: %s",
             consent_result_text(r));
    http_reply_error(res, 403, msg);
    return -1;
}

int rec_patient_pseudonym(const recognition *rec, rec_patient *p, http_response *res)
{
    int rc = identity_pseudonym(rec->key, rec->keylen, p->type, p->nid, p->pseudonym);
    if (rc < 0)
        http_reply_error(res, 500, "pseudonym");
    return rc < 0 ? -1 : 0;
}

json_t *rec_directory_lookup(const recognition *rec, const char *pseudonym, const char *kind,
                             const char *item_code, const char *since, http_response *res)
{
    char url[1400], *item = item_code ? rec_url_escape(item_code) : NULL;
    int n = snprintf(url, sizeof url, "%s/api/v1/directory/records?pseudonym=%s&limit=1000",
                     rec->cfg->dir_url, pseudonym);
    if (kind && *kind)
        n += snprintf(url + n, sizeof url - (size_t)n, "&kind=%s", kind);
    if (item)
        n += snprintf(url + n, sizeof url - (size_t)n, "&item=%s", item);
    if (since && *since)
        snprintf(url + n, sizeof url - (size_t)n, "&since=%s", since);
    free(item);
    rec_fetch f = {.url = url};
    long timeout = rec->cfg->dir_timeout * 1000 < 10000 ? rec->cfg->dir_timeout * 1000 : 10000;
    json_t *o = NULL;
    if (rec_fetch_all(rec, &f, 1, timeout) == 0 && f.status == 200 && f.body.data)
        o = json_loadb(f.body.data, f.body.len, 0, NULL);
    if (!o || !json_is_array(json_object_get(o, "records"))) {
        char msg[300];
        log_warnx("directory lookup: HTTP %ld %s", f.status, f.error);
        snprintf(msg, sizeof msg, "the regional directory did not answer (%.200s)",
                 f.error[0] ? f.error
                 : f.status ? "unexpected answer"
                            : "no answer");
        http_reply_error(res, 502, msg);
        json_decref(o);
        o = NULL;
    }
    rec_fetch_clear(&f);
    return o;
}

/* Is entry e (of the directory's answer) a report that another entry of the same institution
 * describes with its study (one exam, one result)? Entries from before a gateway folded them
 * can still be there side by side until the report's withdrawal arrives. */
int rec_entry_folded(json_t *records, json_t *e)
{
    const char *inst = json_string_value(json_object_get(e, "institution"));
    const char *key = json_string_value(json_object_get(e, "record_key"));
    size_t i;
    json_t *o;
    if (!inst || !key || strncmp(key, "report:", 7) != 0)
        return 0;
    json_array_foreach(records, i, o)
    {
        const char *rk = json_string_value(json_object_get(o, "report_key"));
        const char *oi = json_string_value(json_object_get(o, "institution"));
        if (o != e && rk && oi && !strcmp(rk, key) && !strcmp(oi, inst))
            return 1;
    }
    return 0;
}

void rec_today(char out[9])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
}

int rec_random_id(char out[33])
{
    /* fail closed: never a guessable prompt or listing id */
    if (random_id(out) < 0) {
        log_error("no random bytes for a prompt id: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void rec_exam_parts(json_t *o, json_t *e)
{
    const char *key = json_string_value(json_object_get(e, "record_key"));
    json_t *images = json_object_get(e, "images"), *report = json_object_get(e, "report");
    int study = key && !strncmp(key, "study:", 6);
    /* a directory from before schema 10 does not say: the record key does */
    json_object_set_new(o, "images",
                        json_boolean(json_is_boolean(images) ? json_is_true(images) : study));
    json_object_set_new(o, "report",
                        json_boolean(json_is_boolean(report) ? json_is_true(report) : !study));
    const char *rk = json_string_value(json_object_get(e, "report_key"));
    if (rk)
        json_object_set_new(o, "report_key", json_string(rk));
}

int rec_session_bind(http_request *req, const char *prompt_id, const char *key, http_response *res)
{
    const http_session *s = req->session;
    node *n = req->app;
    huren_index_rec_origin o;
    if (!s)
        return 0;
    int found = huren_index_rec_origin_get(n->index, prompt_id, key, &o);
    if (found < 0)
        return http_reply_error(res, 503, "archive unavailable"), -1;
    const char *who = found && http_session_patient_is(s, o.patient_id)    ? o.patient_id
                      : found && http_session_patient_is(s, o.national_id) ? o.national_id
                                                                           : NULL;
    if (!who)
        return http_reply_error(res, 403, "this session is for another patient"), -1;
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", who);
    return 0;
}
