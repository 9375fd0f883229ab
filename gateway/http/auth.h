/* auth.h: who is asking, decided once per HTTP request before any handler runs. A client
 * certificate (verified against the configured CAs: trusted issuer, in its validity period,
 * good for client authentication) or a bearer token maps through the [client "NAME"] sections
 * to an institution and a role; plain-HTTP loopback clients may get every role. */
#ifndef HUREN_GATEWAY_AUTH_H
#define HUREN_GATEWAY_AUTH_H

#include "config.h"
#include "http.h"
#include "session.h"

/* The clients of a configuration, prepared for lookups (subjects parsed, token hashes
 * decoded). Immutable once built: safe to share between threads. */
typedef struct auth_table auth_table;

/* Build from cfg->clients (borrowed: cfg must outlive the table). Returns 0, or -1 with err
 * naming the client whose subject cannot be parsed. */
int auth_table_build(const config *cfg, auth_table **out, char *err, size_t errlen);
void auth_table_free(auth_table *t); /* NULL-safe */

/* The client a certificate subject, a bearer token or a calling AE title belongs to; NULL if
 * none. Subjects compare by their RDNs (either order, attribute types and ASCII case folded,
 * spaces around separators ignored): "CN=a,O=B" equals "/O=B/CN=a" and "O = B, CN = a". Tokens
 * compare by SHA-256, in constant time. Borrowed from the configuration. */
const config_client *auth_by_subject(const auth_table *t, const char *subject);
const config_client *auth_by_token(const auth_table *t, const char *token, size_t len);
const config_client *auth_by_ae(const auth_table *t, const char *ae_title);
/* Is ae_title one of the AE titles of c's ae_title (a list separated by spaces or commas)? */
int auth_client_has_ae(const config_client *c, const char *ae_title);
/* Do two distinguished names name the same subject (as above)? */
int auth_dn_equal(const char *a, const char *b);

/* HTTP_ROLE_* of a role name (0 if unknown), and the name of one role bit ("clinician", ...;
 * "all" for HTTP_ROLES_ALL, "" for none). */
unsigned auth_role_bit(const char *name);
const char *auth_role_name(unsigned roles);

typedef struct auth_identity {
    unsigned roles;        /* HTTP_ROLE_* */
    char dn[512];          /* verified certificate subject, or "" */
    char actor[512];       /* who, for the audit trail: client name, subject, or "loopback" */
    char institution[64];  /* institution code, or "" */
    int status;            /* when refused: 401 (no or unknown credentials) or 403 */
    const char *challenge; /* when 401: the WWW-Authenticate value */
    char refusal[160];     /* why the client was refused */
    http_session session;  /* with has_session: the HIS-launched session of its cookie */
    int has_session;
} auth_identity;

/* A request without a certificate or token that shows the cookie of a live session
 * (opts->sessions) is the session's doctor (role HTTP_ROLE_HIS_DOCTOR, actor naming the doctor
 * and the HIS); an unknown or idle session's cookie is refused 401. */
/* Identify the client of conn (a struct MHD_Connection *) from opts->access (an auth_table,
 * may be NULL: no clients). Returns 0 with *out filled, or -1 when the client must be refused
 * (out->status and out->refusal say how and why; out->actor names what was shown). */
int auth_identify(const http_options *opts, void *conn, const char *remote, auth_identity *out);

#endif
