/* tls_reload.cpp: the TLS port's certificate, key and client CAs loaded again (SIGHUP): a new
 * dcmtls layer for the connections accepted from now on. A session holds its own reference to
 * the OpenSSL context it was made from, so open connections keep their old certificate. */
#include "dicom_int.h"
#include "huren_err.h"

#include "dcmtk/dcmtls/tlslayer.h"

#include <string>

int huren_dicom_scp_tls_reload(huren_dicom_scp *scp, const char *cert, const char *key,
                               const char *client_ca, char *err, size_t errlen)
{
    if (!scp || !scp->tls) {
        huren_dicom__seterr(err, errlen, "not a DICOM TLS port");
        return HUREN_DICOM_ERROR;
    }
    try {
        /* the new paths live in the SCP, as those it started with */
        std::string c = cert ? cert : scp->tls_cert, k = key ? key : scp->tls_key,
                    ca = client_ca ? client_ca : scp->tls_client_ca;
        huren_dicom_scp_options o = scp->opts;
        o.tls_cert = c.c_str();
        o.tls_key = k.c_str();
        o.tls_client_ca = ca.c_str();
        DcmTLSTransportLayer *l = huren_dicom__tls_layer(&o, err, errlen);
        if (!l)
            return HUREN_DICOM_EINVAL;
        std::lock_guard<std::mutex> g(scp->tls_mu);
        scp->tls_retired.push_back(scp->tls);
        scp->tls = l;
        scp->tls_cert = c;
        scp->tls_key = k;
        scp->tls_client_ca = ca;
        scp->opts.tls_cert = scp->tls_cert.c_str();
        scp->opts.tls_key = scp->tls_key.c_str();
        scp->opts.tls_client_ca = scp->tls_client_ca.c_str();
        return HUREN_DICOM_OK;
    } catch (...) {
        huren_dicom__seterr(err, errlen, "huren_dicom_scp_tls_reload: unexpected exception");
    }
    return HUREN_DICOM_ERROR;
}
