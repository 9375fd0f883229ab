/* api_shares.c: staff make, list and revoke cloud film shares: POST /api/v1/shares
 * {study_uid, expires_in_days (1..365, default 30), pin}, GET /api/v1/shares?study_uid=,
 * DELETE /api/v1/shares/{id}. A new share's PIN is in the creation's answer only; the index
 * keeps its salted hash. Audited by routes.c (share.create, share.read, share.revoke). */
#define LOG_COMPONENT "share"
#include "share_int.h"
#include "log.h"
#include "node.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int index_failed(http_request *req, http_response *res, const char *what)
{
    node *n = req->app;
    log_error("%s: %s", what, huren_index_errmsg(n->index));
    return http_reply_error(res, 503, "archive unavailable");
}

static int reply(http_response *res, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return http_reply_json(res, status, text);
}

static void iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A share as JSON (never its PIN nor its hash); the URL only for staff, who print it. */
static json_t *share_json(http_request *req, const huren_index_share *s, time_t now)
{
    char url[512], t[32], tag[13];
    share_url(req, s->token, url, sizeof url);
    share_token_tag(s->token, tag);
    json_t *j =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:I}", "id", (json_int_t)s->id, "study_uid",
                  s->study_uid, "status", share_status(s, now), "url", url, "token_tag", tag, "pin",
                  s->pin_hash[0] != 0, "opened", (json_int_t)s->opened);
    iso(s->created_at, t);
    json_object_set_new(j, "created", json_string(t));
    json_object_set_new(j, "created_by", json_string(s->created_by));
    iso(s->expires_at, t);
    json_object_set_new(j, "expires", json_string(t));
    if (s->revoked_at) {
        iso(s->revoked_at, t);
        json_object_set_new(j, "revoked", json_string(t));
        json_object_set_new(j, "revoked_by", json_string(s->revoked_by));
    }
    return j;
}

static int uid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 64 && strspn(s, "0123456789.") == n;
}

/* The request's fields into sh; an error message, or NULL. */
static const char *create_parse(http_request *req, huren_index_share *sh, int *want_pin)
{
    json_error_t je;
    json_t *body = json_loadb(req->body, req->body_len, 0, &je);
    const char *err = NULL;
    json_t *days = body ? json_object_get(body, "expires_in_days") : NULL;
    json_t *pin = body ? json_object_get(body, "pin") : NULL;
    const char *uid = body ? json_string_value(json_object_get(body, "study_uid")) : NULL;
    if (!json_is_object(body))
        err = "body: a JSON object {study_uid, expires_in_days, pin}";
    else if (!uid_ok(uid))
        err = "study_uid: a DICOM UID";
    else if (days && (!json_is_integer(days) || json_integer_value(days) < 1 ||
                      json_integer_value(days) > SHARE_DAYS_MAX))
        err = "expires_in_days: a whole number of days, 1 to 365";
    else if (pin && !json_is_boolean(pin))
        err = "pin: true or false";
    if (!err) {
        snprintf(sh->study_uid, sizeof sh->study_uid, "%s", uid);
        long long d = days ? json_integer_value(days) : SHARE_DAYS_DEFAULT;
        sh->created_at = (int64_t)time(NULL);
        sh->expires_at = sh->created_at + d * 86400;
        *want_pin = pin && json_is_true(pin);
    }
    json_decref(body);
    return err;
}

int api_share_create(http_request *req, http_response *res)
{
    node *n = req->app;
    huren_index_share sh = {0};
    int want_pin = 0;
    char pin[7] = "";
    const char *err = create_parse(req, &sh, &want_pin);
    if (err)
        return http_reply_error(res, 400, err);
    share_study st;
    int found = share_study_get(req, sh.study_uid, &st);
    if (found < 0)
        return index_failed(req, res, "share: finding the study");
    if (!found)
        return http_reply_error(res, 404, "no such study in this archive");
    snprintf(sh.patient_id, sizeof sh.patient_id, "%s", st.patient_id);
    snprintf(sh.created_by, sizeof sh.created_by, "%s",
             req->actor && *req->actor ? req->actor : "unknown");
    if (share_token_new(sh.token) < 0 ||
        (want_pin &&
         (share_pin_new(pin) < 0 || share_pin_hash(pin, sh.pin_hash, sizeof sh.pin_hash) < 0)))
        return http_reply_error(res, 503, "no random bytes: share not made");
    if (huren_index_share_put(n->index, &sh, &sh.id) < 0)
        return index_failed(req, res, "share: storing");
    char tag[13];
    share_token_tag(sh.token, tag);
    snprintf(res->audit_patient, sizeof res->audit_patient, "%.127s", sh.patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "share/%lld study %s token %s",
             (long long)sh.id, sh.study_uid, tag);
    log_info("share %lld of study %s made by %s (token %s)", (long long)sh.id, sh.study_uid,
             sh.created_by, tag);
    json_t *j = share_json(req, &sh, time(NULL));
    json_object_set_new(j, "token", json_string(sh.token));
    if (want_pin)
        json_object_set_new(j, "pin_code", json_string(pin)); /* once: never stored */
    return reply(res, 201, j);
}

int api_shares_list(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *uid = http_request_arg(req, "study_uid");
    if (!uid_ok(uid))
        return http_reply_error(res, 400, "study_uid: a DICOM UID is required");
    huren_index_share *v = NULL;
    size_t count = 0;
    if (huren_index_shares_find(n->index, uid, &v, &count) < 0)
        return index_failed(req, res, "share: listing");
    time_t now = time(NULL);
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, share_json(req, &v[i], now));
    if (count)
        snprintf(res->audit_patient, sizeof res->audit_patient, "%.127s", v[0].patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "shares of study %s", uid);
    free(v);
    return reply(res, 200, json_pack("{s:o}", "shares", arr));
}

/* captures[0] as a share id; 0 when malformed. */
int64_t share_id_arg(const http_request *req)
{
    const char *id = req->ncaptures ? req->captures[0] : "";
    char *end;
    if (strlen(id) > 18 || !isdigit((unsigned char)id[0]))
        return 0;
    long long v = strtoll(id, &end, 10);
    return *end || v <= 0 ? 0 : (int64_t)v;
}

int api_share_revoke(http_request *req, http_response *res)
{
    node *n = req->app;
    int64_t id = share_id_arg(req);
    huren_index_share sh;
    if (!id)
        return http_reply_error(res, 400, "malformed share id");
    snprintf(res->audit_object, sizeof res->audit_object, "share/%lld revoke", (long long)id);
    int rc = huren_index_share_revoke(n->index, id,
                                      req->actor && *req->actor ? req->actor : "unknown", 0);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such share");
    if (rc < 0 || huren_index_share_get(n->index, id, &sh) < 0)
        return index_failed(req, res, "share: revoking");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%.127s", sh.patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "share/%lld study %s revoked",
             (long long)id, sh.study_uid);
    log_info("share %lld revoked by %s", (long long)id, sh.revoked_by);
    return reply(res, 200, share_json(req, &sh, time(NULL)));
}
