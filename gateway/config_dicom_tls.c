/* config_dicom_tls.c: the [dicom] tls_* keys checked together. A TLS port needs a certificate
 * and its key, and client CAs when client certificates are required; the files are checked by
 * dicom/ exactly as the TLS port will load them, so check-config and serve say the same. */
#include "config.h"
#include "huren_dicom.h"
#include "huren_err.h"

#include <stdio.h>
#include <string.h>

/* The options the TLS port is started with (serve.c uses the same). */
static void tls_options(const config *cfg, huren_dicom_scp_options *o)
{
    o->tls_cert = cfg->dicom_tls_cert;
    o->tls_key = cfg->dicom_tls_key;
    o->tls_client_ca = cfg->dicom_tls_client_ca;
    o->tls_require_client_cert = cfg->dicom_tls_require_client_cert;
}

static int tls_files_validate(const config *cfg, const char *where, char *err, size_t errlen)
{
    static const char *const keys[] = {"tls_cert", "tls_key", "tls_client_ca"};
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    tls_options(cfg, &o);
    huren_dicom_tls_file bad = HUREN_DICOM_TLS_CERT;
    char why[HUREN_ERRLEN];
    if (huren_dicom_tls_check(&o, &bad, why, sizeof why) == HUREN_DICOM_OK)
        return 0;
    snprintf(err, errlen, "%s: [dicom] %s: %s", where, keys[bad], why);
    return -1;
}

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
    return tls_files_validate(cfg, where, err, errlen);
}

void config_dicom_tls_options(const config *cfg, huren_dicom_scp_options *o)
{
    tls_options(cfg, o);
}
