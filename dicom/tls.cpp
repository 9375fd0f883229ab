/* tls.cpp: DICOM TLS for the SCP. DCMTK's dcmtls layer set up from the TLS files
 * (non-downgrading BCP 195 profile, TLS 1.2 or newer, client certificates verified against the
 * client CAs; the files themselves are checked beforehand by gateway/config_files.c), and the
 * server side of a handshake driven without blocking, so that the listener thread (listener.cpp)
 * never waits on a client. */
#include "dicom_int.h"
#include "huren_err.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dcmtk/dcmtls/tlslayer.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace
{
/* DCMTK's BCP 195 non-downgrading suites are RSA only for TLS 1.2; these let a TLS 1.2
 * client reach an EC certificate (TLS 1.3 suites do not depend on the key). */
const char *const ecdsa_suites[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};

OFCondition configure(DcmTLSTransportLayer &l, const huren_dicom_scp_options *o)
{
    OFCondition c = l.setTLSProfile(TSP_Profile_BCP195_ND);
    for (const char *s : ecdsa_suites)
        if (c.good())
            c = l.addCipherSuite(s);
    if (c.good())
        c = l.activateCipherSuites();
    SSL_CTX *ctx = l.getNativeHandle();
    /* the whole chain, where the file holds one, set on the context directly: dcmtls'
     * setCertificateFile() loads the leaf alone (and leaks a key in 3.6.7) */
    if (c.good() && SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
        c = EC_IllegalCall;
    if (c.good())
        c = l.setPrivateKeyFile(o->tls_key, DCF_Filetype_PEM);
    bool has_ca = o->tls_client_ca && *o->tls_client_ca;
    if (c.good() && has_ca)
        c = l.addTrustedCertificateFile(o->tls_client_ca, DCF_Filetype_PEM);
    if (c.bad())
        return c;
    if (!l.checkPrivateKeyMatchesCertificate())
        return EC_IllegalCall;
    l.setCertificateVerification(o->tls_require_client_cert ? DCV_requireCertificate
                                 : has_ca                   ? DCV_checkCertificate
                                                            : DCV_ignoreCertificate);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) /* never below TLS 1.2 */
        return EC_IllegalCall;
    if (has_ca) {
        /* the CAs a client may choose its certificate by */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_client_ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
    }
    return EC_Normal;
}
} // namespace

DcmTLSTransportLayer *huren_dicom__tls_layer(const huren_dicom_scp_options *o, char *err,
                                             size_t errlen)
{
    if (!o->tls_cert || !*o->tls_cert || !o->tls_key || !*o->tls_key) {
        huren_dicom__seterr(err, errlen, "TLS needs a certificate and its key");
        return nullptr;
    }
    if (o->tls_require_client_cert && (!o->tls_client_ca || !*o->tls_client_ca)) {
        huren_dicom__seterr(err, errlen,
                            "client certificates are required but no CA to verify them is given");
        return nullptr;
    }
    std::unique_ptr<DcmTLSTransportLayer> l(new DcmTLSTransportLayer(NET_ACCEPTOR, NULL, OFTrue));
    ERR_clear_error();
    OFCondition c = configure(*l, o);
    if (c.bad()) {
        /* the files were checked by the caller (huren check-config); OpenSSL says what it
         * found wrong with them now */
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        huren_dicom__seterr(err, errlen, "TLS set-up of %s, %s: %s%s%s", o->tls_cert, o->tls_key,
                            c.text(), why ? ": " : "", why ? why : "");
        ERR_clear_error();
        return nullptr;
    }
    return l.release();
}

SSL *huren_dicom__tls_session(DcmTLSTransportLayer *l, int fd)
{
    SSL *ssl = SSL_new(l->getNativeHandle());
    if (ssl && SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ssl = nullptr;
    }
    if (ssl)
        SSL_set_accept_state(ssl);
    return ssl;
}

/* Why the last TLS call failed, from OpenSSL's error queue (which it empties). */
static void tls_why(SSL *ssl, std::string &why)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        why = buf;
    } else {
        why = "connection closed";
    }
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        why += ": ";
        why += X509_verify_cert_error_string(v);
    }
    ERR_clear_error();
}

int huren_dicom__tls_io(SSL *ssl, void *buf, size_t n, bool &want_write, std::string &why)
{
    ERR_clear_error();
    want_write = false;
    int r = buf ? SSL_read(ssl, buf, (int)std::min(n, (size_t)1 << 20)) : SSL_do_handshake(ssl);
    if (r > 0)
        return buf ? r : 1;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        want_write = e == SSL_ERROR_WANT_WRITE;
        return HUREN_DICOM__TLS_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    tls_why(ssl, why);
    return HUREN_DICOM__TLS_FAILED;
}

std::string huren_dicom__tls_subject(SSL *ssl)
{
    std::string out;
    X509 *x = SSL_get1_peer_certificate(ssl);
    if (!x)
        return out;
    if (SSL_get_verify_result(ssl) == X509_V_OK) {
        BIO *b = BIO_new(BIO_s_mem());
        if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
            char *p = nullptr;
            long len = BIO_get_mem_data(b, &p);
            if (p && len > 0)
                out.assign(p, (size_t)len);
        }
        BIO_free(b);
    }
    X509_free(x);
    return out;
}

void huren_dicom__tls_free(SSL *ssl)
{
    SSL_free(ssl); /* NULL-safe */
}
