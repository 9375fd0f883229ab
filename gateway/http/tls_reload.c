/* tls_reload.c: a new certificate for the HTTPS server without dropping a connection. The
 * daemon serving now stops accepting (MHD_quiesce_daemon) and goes on with its connections; a
 * new daemon with the new files takes over the listening socket. Replaced daemons are stopped
 * once their last connection closed (looked at on each reload) or at stop. */
#define LOG_COMPONENT "http"
#include "http_int.h"
#include "huren_err.h"
#include "log.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void retired_free(http_retired *r)
{
    MHD_stop_daemon(r->daemon);
    free(r->cert_pem);
    free(r->key_pem);
    free(r->ca_pem);
}

void http__retired_stop(http_server *srv, int only_idle)
{
    size_t kept = 0;
    for (size_t i = 0; i < srv->nretired; i++) {
        http_retired *r = &srv->retired[i];
        const union MHD_DaemonInfo *di =
            only_idle ? MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
        if (only_idle && (!di || di->num_connections > 0))
            srv->retired[kept++] = *r;
        else
            retired_free(r);
    }
    srv->nretired = kept;
}

/* The PEMs load as GnuTLS will load them: the key is the certificate's, the CA file parses. */
static int pems_check(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        snprintf(err, errlen, "certificate and key: %s", gnutls_strerror(rc));
    } else if (ca) {
        gnutls_datum_t a = {(unsigned char *)ca, (unsigned)strlen(ca)};
        int n = gnutls_certificate_set_x509_trust_mem(cred, &a, GNUTLS_X509_FMT_PEM);
        if (n <= 0) {
            snprintf(err, errlen, "client CA: %s", n < 0 ? gnutls_strerror(n) : "no certificate");
            rc = -1;
        }
    }
    gnutls_certificate_free_credentials(cred);
    return rc < 0 ? -1 : 0;
}

/* Swap in a daemon with these PEMs (owned by srv on success). */
static int swap(http_server *srv, char *cert, char *key, char *ca, char *err, size_t errlen)
{
    if (srv->nretired == HTTP_MAX_RETIRED) {
        snprintf(err, errlen, "%d earlier certificates still have open connections",
                 HTTP_MAX_RETIRED);
        return -1;
    }
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd == MHD_INVALID_SOCKET) {
        snprintf(err, errlen, "the HTTPS listener cannot be handed over");
        return -1;
    }
    struct MHD_Daemon *d = http__daemon_start(srv, fd, cert, key, ca);
    if (!d) {
        /* the files checked out, so this is rare: go on with the old ones on the socket */
        snprintf(err, errlen, "the HTTPS server did not start with the new files");
        d = http__daemon_start(srv, fd, srv->cert_pem, srv->key_pem, srv->ca_pem);
        if (!d)
            fatal("HTTPS: the listener could not be restarted after a failed reload");
        srv->retired[srv->nretired++] = (http_retired){srv->daemon, NULL, NULL, NULL};
        srv->daemon = d;
        return -1;
    }
    srv->retired[srv->nretired++] =
        (http_retired){srv->daemon, srv->cert_pem, srv->key_pem, srv->ca_pem};
    srv->daemon = d;
    srv->cert_pem = cert;
    srv->key_pem = key;
    srv->ca_pem = ca;
    return 0;
}

int http_server_tls_reload(http_server *srv, char *err, size_t errlen)
{
    const http_options *o = &srv->opts;
    if (!srv->cert_pem)
        return 1;
    http__retired_stop(srv, 1);
    char *cert = http__read_file(o->tls_cert, err, errlen);
    char *key = cert ? http__read_file(o->tls_key, err, errlen) : NULL;
    char *ca = NULL;
    int rc = -1;
    if (!key)
        goto done;
    if (o->tls_client_ca && o->tls_client_ca[0] &&
        !(ca = http__read_file(o->tls_client_ca, err, errlen)))
        goto done;
    if (pems_check(cert, key, ca, err, errlen) < 0 || swap(srv, cert, key, ca, err, errlen) < 0)
        goto done;
    return 0;
done:
    free(cert);
    free(key);
    free(ca);
    return rc;
}
