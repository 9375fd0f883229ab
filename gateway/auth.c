/* auth.c: client identification for the HTTP server. Debian's libmicrohttpd does TLS with
 * GnuTLS and does not refuse a bad client certificate by itself, so the check is done here, on
 * the session, before routing. */
#include "auth.h"
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

/* 0 when the connection may go on (dn set if a valid certificate was shown). */
static int check_client_cert(const http_options *opts, struct MHD_Connection *conn,
                             auth_identity *out)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned int ncerts = 0;
    const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &ncerts) : NULL;
    if (!certs || ncerts == 0) {
        if (opts->client_verify == 2) {
            snprintf(out->refusal, sizeof out->refusal, "a valid client certificate is required");
            return -1;
        }
        return 0;
    }
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
        /* a certificate that is shown must be valid, even when optional */
        snprintf(out->refusal, sizeof out->refusal, "client certificate not valid");
        return -1;
    }
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    int rc = -1;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
        size_t n = sizeof out->dn;
        if (gnutls_x509_crt_get_dn(crt, out->dn, &n) == 0)
            rc = 0;
    }
    gnutls_x509_crt_deinit(crt);
    if (rc < 0)
        snprintf(out->refusal, sizeof out->refusal, "client certificate unreadable");
    return rc;
}

int auth_identify(const http_options *opts, void *conn, const char *remote, auth_identity *out)
{
    memset(out, 0, sizeof *out);
    int loopback = config_is_loopback(remote);
    if (!opts->tls_cert || !opts->tls_cert[0]) {
        out->roles = opts->loopback_roles; /* plain HTTP binds loopback only */
        return 0;
    }
    if (check_client_cert(opts, conn, out) < 0)
        return -1;
    /* Roles from certificate subjects come with the access-control configuration; until then
     * a verified certificate or a loopback client gets the loopback roles. */
    out->roles = (out->dn[0] || loopback) ? opts->loopback_roles : 0;
    return 0;
}
