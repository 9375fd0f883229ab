/* auth.h: who is asking, decided once per HTTP request before any handler runs: the client
 * certificate (verified against the configured CA) or the loopback address gives the roles
 * and the institution the route table checks. */
#ifndef HUREN_GATEWAY_AUTH_H
#define HUREN_GATEWAY_AUTH_H

#include "http.h"

typedef struct auth_identity {
    unsigned roles;          /* HTTP_ROLE_* */
    char dn[512];            /* verified certificate subject, or "" */
    char institution[64];    /* institution code, or "" */
    char refusal[128];       /* why the client was refused (when auth_identify fails) */
} auth_identity;

/* Identify the client of conn (a struct MHD_Connection *). Returns 0 with *out filled, or -1
 * when the client must be refused (out->refusal says why). */
int auth_identify(const http_options *opts, void *conn, const char *remote, auth_identity *out);

#endif
