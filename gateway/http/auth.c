/* auth.c: client identification for the HTTP server, and the [client] mapping behind it.
 * Debian's libmicrohttpd does TLS with GnuTLS and does not refuse a bad client certificate by
 * itself (it only asks for one), so the certificate is verified here, on the session, before
 * routing: a certificate that is shown must verify, whatever else the client shows. */
#include "auth.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RDNS 16
#define RDN_MAX 256

typedef struct dn {
    char rdn[MAX_RDNS][RDN_MAX]; /* "TYPE=value", normalised */
    int n;
} dn;

typedef struct entry {
    const config_client *c;
    dn subject;
    int has_subject;
    unsigned char token[32];
    int has_token;
} entry;

struct auth_table {
    entry *e;
    size_t n;
};

/* One RDN, trimmed, type upper-cased, spaces around '=' removed. */
static int rdn_norm(const char *s, size_t len, char *out)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]) && !(len > 1 && s[len - 2] == '\\'))
        len--;
    const char *eq = memchr(s, '=', len);
    if (!eq || eq == s || len >= RDN_MAX)
        return -1;
    size_t k = 0, tl = (size_t)(eq - s);
    while (tl && isspace((unsigned char)s[tl - 1]))
        tl--;
    for (size_t i = 0; i < tl; i++)
        out[k++] = (char)toupper((unsigned char)s[i]);
    out[k++] = '=';
    const char *v = eq + 1, *end = s + len;
    while (v < end && isspace((unsigned char)*v))
        v++;
    memcpy(out + k, v, (size_t)(end - v));
    out[k + (size_t)(end - v)] = 0;
    return 0;
}

/* "CN=a,O=B" (RFC 4514, '\' escapes), "C = CN, O = B" (OpenSSL) or "/O=B/CN=a". */
static int dn_parse(const char *s, dn *out)
{
    out->n = 0;
    char sep = ',';
    if (*s == '/') {
        sep = '/';
        s++;
    }
    while (*s) {
        const char *p = s;
        while (*p && *p != sep) {
            if (*p == '\\' && p[1])
                p++;
            p++;
        }
        if (out->n == MAX_RDNS || rdn_norm(s, (size_t)(p - s), out->rdn[out->n]) < 0)
            return -1;
        out->n++;
        s = *p ? p + 1 : p;
    }
    return out->n ? 0 : -1;
}

static int dn_match(const dn *a, const dn *b)
{
    if (a->n != b->n)
        return 0;
    int fwd = 1, rev = 1;
    for (int i = 0; i < a->n; i++) {
        fwd = fwd && strcasecmp(a->rdn[i], b->rdn[i]) == 0;
        rev = rev && strcasecmp(a->rdn[i], b->rdn[a->n - 1 - i]) == 0;
    }
    return fwd || rev;
}

int auth_dn_equal(const char *a, const char *b)
{
    dn x, y;
    return dn_parse(a, &x) == 0 && dn_parse(b, &y) == 0 && dn_match(&x, &y);
}

static int unhex(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

int auth_table_build(const config *cfg, auth_table **out, char *err, size_t errlen)
{
    *out = NULL;
    auth_table *t = calloc(1, sizeof *t);
    if (!t || (cfg->nclients && !(t->e = calloc(cfg->nclients, sizeof *t->e)))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->nclients; i++) {
        const config_client *c = &cfg->clients[i];
        entry *e = &t->e[t->n++];
        e->c = c;
        if (c->subject && (e->has_subject = 1) && dn_parse(c->subject, &e->subject) < 0) {
            snprintf(err, errlen,
                     "[client \"%s\"] subject: not a distinguished name "
                     "(\"CN=..., O=..., C=...\", at most %d parts)",
                     c->name, MAX_RDNS);
            auth_table_free(t);
            return -1;
        }
        if (c->token_sha256 && unhex(c->token_sha256, e->token, sizeof e->token) == 0)
            e->has_token = 1;
    }
    *out = t;
    return 0;
}

void auth_table_free(auth_table *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

const config_client *auth_by_subject(const auth_table *t, const char *subject)
{
    dn d;
    if (!t || dn_parse(subject, &d) < 0)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].has_subject && dn_match(&t->e[i].subject, &d))
            return t->e[i].c;
    return NULL;
}

const config_client *auth_by_token(const auth_table *t, const char *token, size_t len)
{
    unsigned char h[32];
    if (!t || len == 0 || gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, h) < 0)
        return NULL;
    const config_client *found = NULL;
    for (size_t i = 0; i < t->n; i++) { /* no early exit: the time does not depend on a match */
        unsigned diff = !t->e[i].has_token;
        for (size_t k = 0; k < sizeof h; k++)
            diff |= (unsigned)(h[k] ^ t->e[i].token[k]);
        if (diff == 0 && !found)
            found = t->e[i].c;
    }
    return found;
}

int auth_client_has_ae(const config_client *c, const char *ae_title)
{
    size_t n = ae_title ? strlen(ae_title) : 0;
    for (const char *p = c && c->ae_title ? c->ae_title : ""; n && *p;) {
        size_t k = strcspn(p, " ,\t");
        if (k == n && memcmp(p, ae_title, n) == 0)
            return 1;
        p += k;
        p += strspn(p, " ,\t");
    }
    return 0;
}

const config_client *auth_by_ae(const auth_table *t, const char *ae_title)
{
    for (size_t i = 0; t && ae_title && i < t->n; i++)
        if (auth_client_has_ae(t->e[i].c, ae_title))
            return t->e[i].c;
    return NULL;
}

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {{"clinician", HTTP_ROLE_CLINICIAN},  {"peer", HTTP_ROLE_PEER},
                  {"insurer", HTTP_ROLE_INSURER},      {"admin", HTTP_ROLE_ADMIN},
                  {"operator", HTTP_ROLE_OPERATOR},    {"his", HTTP_ROLE_HIS},
                  {"his-doctor", HTTP_ROLE_HIS_DOCTOR}};

unsigned auth_role_bit(const char *name)
{
    for (size_t i = 0; name && i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(name, role_names[i].name) == 0)
            return role_names[i].bit;
    return 0;
}

const char *auth_role_name(unsigned roles)
{
    if (roles == HTTP_ROLES_ALL)
        return "all";
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (roles == role_names[i].bit)
            return role_names[i].name;
    return "";
}

/* Why GnuTLS refused a certificate, in words a client's administrator can act on. */
static const char *cert_problem(unsigned status)
{
    if (status & GNUTLS_CERT_EXPIRED)
        return "client certificate expired";
    if (status & GNUTLS_CERT_NOT_ACTIVATED)
        return "client certificate not yet valid";
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
        return "client certificate issued by an unknown CA";
    if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
        return "client certificate not issued for client authentication";
    if (status & GNUTLS_CERT_REVOKED)
        return "client certificate revoked";
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        return "client certificate signed with an insecure algorithm";
    return "client certificate not valid";
}

/* 0 when the connection may go on (dn set if a valid certificate was shown). */
static int check_client_cert(struct MHD_Connection *conn, auth_identity *out)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned int ncerts = 0;
    const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &ncerts) : NULL;
    if (!certs || ncerts == 0)
        return 0;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
        size_t n = sizeof out->dn;
        if (gnutls_x509_crt_get_dn(crt, out->dn, &n) != 0)
            out->dn[0] = 0;
    }
    gnutls_x509_crt_deinit(crt);
    snprintf(out->actor, sizeof out->actor, "%s", out->dn);
    /* trusted issuer and validity period (verify_peers2 checks both), and the key purpose */
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS ||
        status != 0 || !out->dn[0]) {
        snprintf(out->refusal, sizeof out->refusal, "%s",
                 out->dn[0] ? cert_problem(status) : "client certificate unreadable");
        out->dn[0] = 0;
        return -1;
    }
    return 0;
}

static void grant(auth_identity *out, const config_client *c)
{
    out->roles = auth_role_bit(c->role);
    snprintf(out->institution, sizeof out->institution, "%s", c->institution);
}

static int refuse(auth_identity *out, int status, const char *challenge, const char *why)
{
    out->roles = 0;
    out->status = status;
    out->challenge = challenge;
    if (why != out->refusal)
        snprintf(out->refusal, sizeof out->refusal, "%s", why);
    return -1;
}

/* The session of the request's cookie: 1 (out filled), 0 no cookie, -1 refused. */
static int session_identify(const http_options *opts, void *conn, auth_identity *out)
{
    char id[HTTP_SESSION_ID_LEN];
    const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    if (!opts->sessions || !cookie || http_session_cookie(cookie, id) < 0)
        return 0;
    if (!http_sessions_get(opts->sessions, id, &out->session)) {
        snprintf(out->actor, sizeof out->actor, "expired or unknown session");
        return refuse(out, 401, NULL, "session expired or unknown: open it again from the HIS");
    }
    const http_session *s = &out->session;
    out->has_session = 1;
    out->roles = HTTP_ROLE_HIS_DOCTOR;
    snprintf(out->actor, sizeof out->actor, "doctor %s %s (his \"%s\")", s->doctor_id,
             s->doctor_name, s->his);
    return 1;
}

int auth_identify(const http_options *opts, void *conn, const char *remote, auth_identity *out)
{
    (void)remote; /* an address proves nothing over TLS; plain HTTP binds loopback only */
    memset(out, 0, sizeof *out);
    const auth_table *t = opts->access;
    int tls = opts->tls_cert && opts->tls_cert[0];
    if (tls && check_client_cert(conn, out) < 0)
        return refuse(out, 403, NULL, out->refusal);
    const char *authz =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return refuse(out, 401, "Bearer realm=\"huren\"", "only Bearer tokens are accepted");
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ')
            len--;
        const config_client *c = auth_by_token(t, tok, len);
        if (!c) {
            snprintf(out->actor, sizeof out->actor, "unknown token");
            return refuse(out, 401, "Bearer realm=\"huren\", error=\"invalid_token\"",
                          "unknown bearer token");
        }
        if (tls && opts->client_verify == 2 && !out->dn[0])
            return refuse(out, 401, NULL, "a valid client certificate is required");
        snprintf(out->actor, sizeof out->actor, "%s", c->name);
        grant(out, c);
        return 0;
    }
    if (out->dn[0]) {
        const config_client *c = auth_by_subject(t, out->dn);
        if (!c)
            return refuse(out, 403, NULL, "client certificate subject not authorised");
        grant(out, c);
        return 0;
    }
    int sess = session_identify(opts, conn, out);
    if (sess != 0)
        return sess < 0 ? -1 : 0;
    if (!tls && opts->loopback_roles) {
        snprintf(out->actor, sizeof out->actor, "loopback");
        out->roles = opts->loopback_roles;
        return 0;
    }
    return refuse(out, 401, "Bearer realm=\"huren\"",
                  tls ? "a client certificate or a bearer token is required"
                      : "a bearer token is required");
}
