/* config_dicom_tls.c: the [dicom] tls_* keys checked together. A TLS port needs a certificate
 * and its key, and client CAs when client certificates are required. The files are checked
 * with every other certificate of the node by config_check_files() (config_files.c), which
 * check-config, serve and a SIGHUP reload run. */
#include "config.h"
#include "huren_dicom.h"
#include "huren_err.h"

#include <stdio.h>
#include <string.h>

int config__dicom_tls_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    if (!cfg->dicom_tls_port) {
        const char *set = cfg->dicom_tls_cert[0]        ? "tls_cert"
                          : cfg->dicom_tls_key[0]       ? "tls_key"
                          : cfg->dicom_tls_client_ca[0] ? "tls_client_ca"
                                                        : NULL;
        if (set) {
            snprintf(err, errlen, "%s: [dicom] %s: set, but tls_port is not", where, set);
            return -1;
        }
        return 0;
    }
    const long others[] = {cfg->dicom_port, cfg->http_port, cfg->hl7_port};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (others[i] == cfg->dicom_tls_port) {
            snprintf(err, errlen, "%s: [dicom] tls_port: port %ld is used by another service",
                     where, cfg->dicom_tls_port);
            return -1;
        }
    if (!cfg->dicom_tls_cert[0] || !cfg->dicom_tls_key[0]) {
        snprintf(err, errlen, "%s: [dicom] %s: tls_port %ld needs tls_cert and tls_key", where,
                 cfg->dicom_tls_cert[0] ? "tls_key" : "tls_cert", cfg->dicom_tls_port);
        return -1;
    }
    if (cfg->dicom_tls_require_client_cert && !cfg->dicom_tls_client_ca[0]) {
        snprintf(err, errlen,
                 "%s: [dicom] tls_client_ca: client certificates are required"
                 " (tls_require_client_cert) but no CA to verify them is given",
                 where);
        return -1;
    }
    return 0; /* the files themselves: config_check_files(), as for every other section */
}

/* The options the TLS port is started with (serve.c). */
void config_dicom_tls_options(const config *cfg, huren_dicom_scp_options *o)
{
    o->tls_cert = cfg->dicom_tls_cert;
    o->tls_key = cfg->dicom_tls_key;
    o->tls_client_ca = cfg->dicom_tls_client_ca;
    o->tls_require_client_cert = cfg->dicom_tls_require_client_cert;
}
