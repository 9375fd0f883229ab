/* launch.c: GET /ui/launch, the HIS's signed launch URL. ctx is base64url of a JSON object
 * (his, patient {id, resident_id}, visit, doctor {id, name}, department, orders [{id, code}],
 * iat, exp, nonce); sig is base64url of HMAC-SHA256(key of [his "NAME"], the ctx text as
 * sent). Checked in this order: the HIS, the signature (constant time), the times, the
 * nonce; then a session bound to the doctor and the patient opens (http/session.h). */
#define LOG_COMPONENT "his"
#include "log.h"
#include "his.h"
#include "his_int.h"
#include "huren_err.h"
#include "identity.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTX_MAX 8192

static const his_key *key_of(const his_ctx *h, const char *name)
{
    for (size_t i = 0; name && i < h->nkeys; i++)
        if (strcmp(h->keys[i].his->name, name) == 0)
            return &h->keys[i];
    return NULL;
}

/* A string member of at most max bytes into out ("" when absent); -1 when of another type. */
static int str_of(json_t *o, const char *k, char *out, size_t max)
{
    json_t *v = json_object_get(o, k);
    out[0] = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= max)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* The session's patient, doctor, visit and orders out of the verified context. */
static int session_fill(json_t *c, http_session *s, char *why, size_t len)
{
    json_t *pt = json_object_get(c, "patient"), *dr = json_object_get(c, "doctor");
    json_t *orders = json_object_get(c, "orders");
    char resident[65];
    if (!json_is_object(pt) || !json_is_object(dr) || (orders && !json_is_array(orders)) ||
        str_of(pt, "id", s->patient, sizeof s->patient) < 0 ||
        str_of(pt, "resident_id", resident, sizeof resident) < 0 ||
        str_of(dr, "id", s->doctor_id, sizeof s->doctor_id) < 0 ||
        str_of(dr, "name", s->doctor_name, sizeof s->doctor_name) < 0 ||
        str_of(c, "department", s->department, sizeof s->department) < 0 ||
        str_of(c, "visit", s->visit, sizeof s->visit) < 0)
        return snprintf(why, len, "ctx: patient and doctor objects with string members"), -1;
    if (!s->patient[0] && !resident[0])
        return snprintf(why, len, "ctx: patient id or resident_id required"), -1;
    if (!s->doctor_id[0])
        return snprintf(why, len, "ctx: doctor id required"), -1;
    identity_type type;
    char e[HUREN_ERRLEN];
    if (resident[0] && identity_normalise(resident, s->resident, &type, e, sizeof e) < 0)
        return snprintf(why, len, "ctx: patient resident_id: %.120s", e), -1;
    size_t i;
    json_t *o;
    json_array_foreach(orders, i, o)
    {
        if (s->norders == HTTP_SESSION_ORDERS_MAX || !json_is_object(o))
            return snprintf(why, len, "ctx: orders: at most %d objects", HTTP_SESSION_ORDERS_MAX),
                   -1;
        http_session_order *d = &s->orders[s->norders++];
        if (str_of(o, "id", d->id, sizeof d->id) < 0 ||
            str_of(o, "code", d->code, sizeof d->code) < 0 || !d->code[0])
            return snprintf(why, len, "ctx: orders: each with a code"), -1;
    }
    return 0;
}

/* The signature of ctx by k's key, compared in constant time: 0 when it matches. */
static int sig_check(const his_key *k, const char *ctx, const char *sig)
{
    unsigned char want[EVP_MAX_MD_SIZE], got[64];
    unsigned int wl = 0;
    long gl = his__b64url_decode(sig, strlen(sig), got, sizeof got);
    if (!HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)ctx, strlen(ctx), want,
              &wl))
        return -1;
    if (gl != (long)wl)
        return -1;
    return CRYPTO_memcmp(want, got, wl) == 0 ? 0 : -1;
}

/* iat, exp and nonce: -1 with why when the launch is expired, too long-lived or malformed. */
static int times_check(json_t *c, time_t now, char *why, size_t len)
{
    json_t *iat = json_object_get(c, "iat"), *exp = json_object_get(c, "exp");
    const char *nonce = json_string_value(json_object_get(c, "nonce"));
    if (!json_is_integer(iat) || !json_is_integer(exp) || !nonce || strlen(nonce) < 16 ||
        strlen(nonce) > 64 || strchr(nonce, ' ') || strchr(nonce, '\n'))
        return snprintf(why, len, "ctx: iat, exp (integers) and nonce (16-64 characters)"), -1;
    json_int_t i = json_integer_value(iat), e = json_integer_value(exp);
    if (e <= i || e - i > HIS_LAUNCH_MAX_AGE)
        return snprintf(why, len, "ctx: exp must be after iat, at most %d s", HIS_LAUNCH_MAX_AGE),
               -1;
    if (i > (json_int_t)now + HIS_CLOCK_SKEW)
        return snprintf(why, len, "launch issued in the future (check the HIS clock)"), -1;
    if (e < (json_int_t)now)
        return snprintf(why, len, "launch expired"), -1;
    return 0;
}

/* The small page that sends the browser on: a same-origin navigation, so that the
 * SameSite=Strict cookie set here goes with it (a redirect of the HIS's cross-site
 * navigation would not carry it). */
static int reply_page(http_response *res)
{
    static const char page[] =
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"0;url=/ui/recognition?launch=1\">"
        "<title>互认</title></head><body><p><a href=\"/ui/recognition?launch=1\">"
        "打开互认提示 / open the recognition prompt</a></p></body></html>";
    if (http_reply_text(res, 200, "text/html; charset=utf-8", page) < 0)
        return -1;
    http_response_header(res, "Cache-Control", "no-store");
    http_response_header(res, "Referrer-Policy", "no-referrer");
    http_response_header(res, "Content-Security-Policy", "default-src 'none'");
    return 0;
}

static int session_start(node *n, const his_key *k, json_t *c, http_response *res)
{
    his_ctx *h = n->his;
    char why[200], cookie[200];
    http_session s = {0};
    if (session_fill(c, &s, why, sizeof why) < 0)
        return http_reply_error(res, 400, why);
    snprintf(s.his, sizeof s.his, "%s", k->his->name);
    snprintf(s.origin, sizeof s.origin, "%s", k->his->origin ? k->his->origin : "");
    s.idle = k->his->session_idle;
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s",
             s.patient[0] ? s.patient : s.resident);
    snprintf(res->audit_object, sizeof res->audit_object,
             "launch by his \"%s\" for doctor %.64s %.64s, %zu draft orders", s.his, s.doctor_id,
             s.doctor_name, s.norders);
    json_int_t exp = json_integer_value(json_object_get(c, "exp"));
    int fresh = his__nonce_use(&h->nonces, s.his, json_string_value(json_object_get(c, "nonce")),
                               (time_t)exp);
    if (fresh == 0)
        return http_reply_error(res, 403, "launch already used (nonce replayed)");
    if (fresh < 0 || http_sessions_open(h->sessions, &s) < 0) {
        log_warnx("launch by his \"%s\": no nonce or session could be kept", s.his);
        return http_reply_error(res, 503, "cannot open a session now; try again later");
    }
    snprintf(cookie, sizeof cookie, "%s=%s; HttpOnly; Secure; SameSite=Strict; Path=/",
             HTTP_SESSION_COOKIE, s.id);
    memset(&s, 0, sizeof s);
    if (reply_page(res) < 0)
        return -1;
    http_response_header(res, "Set-Cookie", cookie);
    return 0;
}

int his_launch(http_request *req, http_response *res)
{
    node *n = req->app;
    his_ctx *h = n->his;
    const char *ctx = http_request_arg(req, "ctx"), *sig = http_request_arg(req, "sig");
    char why[200];
    unsigned char raw[CTX_MAX];
    if (!h)
        return http_reply_error(res, 404, "no HIS is configured ([his \"NAME\"])");
    if (!ctx || !sig || strlen(ctx) > CTX_MAX)
        return http_reply_error(res, 400, "ctx and sig are required");
    long len = his__b64url_decode(ctx, strlen(ctx), raw, sizeof raw - 1);
    json_t *c =
        len > 0 ? json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    int rc;
    const his_key *k = c ? key_of(h, json_string_value(json_object_get(c, "his"))) : NULL;
    if (!c || !json_is_object(c)) {
        rc = http_reply_error(res, 400, "ctx: not base64url of a JSON object");
    } else if (!k) {
        rc = http_reply_error(res, 403, "ctx: his names no [his] section");
    } else if (!n->cfg->tls_cert[0] && !k->his->allow_plain_http) {
        rc = http_reply_error(res, 403, "a launch needs HTTPS");
    } else if (sig_check(k, ctx, sig) < 0) {
        snprintf(res->audit_object, sizeof res->audit_object, "launch by his \"%s\": bad signature",
                 k->his->name);
        rc = http_reply_error(res, 403, "launch signature does not verify");
    } else if (times_check(c, time(NULL), why, sizeof why) < 0) {
        snprintf(res->audit_object, sizeof res->audit_object, "launch by his \"%s\": %s",
                 k->his->name, why);
        rc = http_reply_error(res, 403, why);
    } else {
        rc = session_start(n, k, c, res);
    }
    json_decref(c);
    return rc;
}

int his_session_get(http_request *req, http_response *res)
{
    const http_session *s = req->session;
    if (!s)
        return http_reply_error(res, 404, "not a HIS session (opened by /ui/launch)");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s",
             s->patient[0] ? s->patient : s->resident);
    snprintf(res->audit_object, sizeof res->audit_object, "his session");
    json_t *orders = json_array();
    for (size_t i = 0; i < s->norders; i++)
        json_array_append_new(
            orders, json_pack("{s:s, s:s}", "id", s->orders[i].id, "code", s->orders[i].code));
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:o, s:i}", "his", s->his, "origin",
                  s->origin, "patient", s->patient[0] ? s->patient : s->resident, "doctor", "id",
                  s->doctor_id, "name", s->doctor_name, "department", s->department, "visit",
                  s->visit, "orders", orders, "idle_timeout", (int)s->idle);
    int rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}
