/* config_files.c: what the configuration names on disk, checked the way `serve` will use it:
 * folders exist and are writable, files are readable PEM, each private key matches its
 * certificate, certificates are in date and fit their use (the node's HTTPS certificate a
 * server's, the one it presents to the directory and peers a client's, the claims signer one
 * that may sign), CA bundles hold certificates. `huren check-config` prints every problem;
 * `serve` refuses to start on any. */
#include "config.h"
#include "huren_err.h"
#include "privileges.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPIRY_WARN_DAYS 30

typedef struct checker {
    const config *cfg;
    time_t now;
    config_problem_fn report;
    void *ctx;
    int problems;
} checker;

__attribute__((format(printf, 5, 6))) static void
problem(checker *c, int warning, const char *section, const char *key, const char *fmt, ...)
{
    char what[HUREN_ERRLEN], line[HUREN_ERRLEN + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s%s: [%s] %s: %s", warning ? "warning: " : "",
             c->cfg->path ? c->cfg->path : "configuration", section, key, what);
    if (!warning)
        c->problems++;
    c->report(c->ctx, warning, line);
}

/* A folder the node writes into: it exists and is writable, or it can be made (serve makes
 * the missing folders: the nearest one that exists must be writable). */
static void check_writable_dir(checker *c, const char *section, const char *key, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            problem(c, 0, section, key, "%s is not a folder", dir);
        else if (access(dir, W_OK | X_OK) != 0)
            problem(c, 0, section, key, "%s: not writable by this user", dir);
        return;
    }
    char up[PATH_MAX];
    snprintf(up, sizeof up, "%s", dir);
    for (;;) {
        char *slash = strrchr(up, '/');
        if (!slash) {
            snprintf(up, sizeof up, ".");
        } else if (slash == up) {
            up[1] = 0;
        } else {
            *slash = 0;
        }
        if (stat(up, &st) == 0)
            break;
        if (!strcmp(up, ".") || !strcmp(up, "/"))
            return; /* nothing to check against */
    }
    if (!S_ISDIR(st.st_mode))
        problem(c, 0, section, key, "%s cannot be made: %s is not a folder", dir, up);
    else if (access(up, W_OK | X_OK) != 0)
        problem(c, 0, section, key, "%s cannot be made: %s is not writable by this user", dir, up);
}

static FILE *open_readable(checker *c, const char *section, const char *key, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        problem(c, 0, section, key, "%s: %s", path, strerror(errno));
    return f;
}

static X509 *load_cert(checker *c, const char *section, const char *key, const char *path)
{
    FILE *f = open_readable(c, section, key, path);
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!x)
        problem(c, 0, section, key, "%s: no PEM certificate in it", path);
    return x;
}

static EVP_PKEY *load_key(checker *c, const char *section, const char *key, const char *path)
{
    FILE *f = open_readable(c, section, key, path);
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!k)
        problem(c, 0, section, key, "%s: no PEM private key in it (or it is encrypted)", path);
    return k;
}

static void subject_of(X509 *x, char *buf, size_t len)
{
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
}

/* In date now; a warning when it ends within EXPIRY_WARN_DAYS. */
static void check_dates(checker *c, const char *section, const char *key, const char *path, X509 *x)
{
    char who[256];
    subject_of(x, who, sizeof who);
    time_t now = c->now;
    if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0) {
        problem(c, 0, section, key, "%s (%s) is not valid yet", path, who);
        return;
    }
    if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
        problem(c, 0, section, key, "%s (%s) has expired", path, who);
        return;
    }
    time_t soon = now + (time_t)EXPIRY_WARN_DAYS * 86400;
    if (X509_cmp_time(X509_get0_notAfter(x), &soon) < 0)
        problem(c, 1, section, key, "%s (%s) expires within %d days", path, who, EXPIRY_WARN_DAYS);
}

typedef enum cert_use { USE_SERVER, USE_CLIENT, USE_SIGNING } cert_use;

static void check_use(checker *c, const char *section, const char *key, const char *path, X509 *x,
                      cert_use use)
{
    if (use == USE_SIGNING) {
        uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no keyUsage extension */
        if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
            problem(c, 0, section, key, "%s: its key usage does not allow signing", path);
        return;
    }
    int purpose = use == USE_SERVER ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT;
    if (X509_check_purpose(x, purpose, 0) != 1)
        problem(c, 0, section, key, "%s: not a TLS %s certificate (extended key usage)", path,
                use == USE_SERVER ? "server" : "client");
}

/* A certificate and its key: both readable, matching, in date, fit for `use`. */
static void check_pair(checker *c, const char *section, const char *cert_key, const char *cert_path,
                       const char *key_key, const char *key_path, cert_use use)
{
    if (!*cert_path && !*key_path)
        return;
    X509 *x = *cert_path ? load_cert(c, section, cert_key, cert_path) : NULL;
    EVP_PKEY *k = *key_path ? load_key(c, section, key_key, key_path) : NULL;
    if (x) {
        check_dates(c, section, cert_key, cert_path, x);
        check_use(c, section, cert_key, cert_path, x, use);
    }
    if (x && k && X509_check_private_key(x, k) != 1)
        problem(c, 0, section, key_key, "%s is not the key of %s", key_path, cert_path);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
}

/* A PEM bundle of CA certificates: readable, at least one certificate, none expired. */
static void check_bundle(checker *c, const char *section, const char *key, const char *path)
{
    if (!*path)
        return;
    FILE *f = open_readable(c, section, key, path);
    if (!f)
        return;
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    int certs = 0;
    for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (!info->x509)
            continue;
        certs++;
        check_dates(c, section, key, path, info->x509);
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (!certs)
        problem(c, 0, section, key, "%s: no PEM certificate in it", path);
}

static void check_readable(checker *c, const char *section, const char *key, const char *path)
{
    if (!*path)
        return;
    FILE *f = open_readable(c, section, key, path);
    if (f)
        fclose(f);
}

int config_check_files(const config *cfg, time_t now, config_problem_fn report, void *ctx)
{
    checker c = {cfg, now, report, ctx, 0};
    check_writable_dir(&c, "node", "data_dir", cfg->data_dir);
    if (*cfg->audit_file) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", cfg->audit_file);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
        check_writable_dir(&c, "audit", "file", dir);
    }
    /* the node's HTTPS server; the directory role serves peers with it too */
    check_pair(&c, "http", "tls_cert", cfg->tls_cert, "tls_key", cfg->tls_key, USE_SERVER);
    check_bundle(&c, "http", "tls_client_ca", cfg->tls_client_ca);
    /* the DICOM TLS port, for modalities and PACS */
    check_pair(&c, "dicom", "tls_cert", cfg->dicom_tls_cert, "tls_key", cfg->dicom_tls_key,
               USE_SERVER);
    check_bundle(&c, "dicom", "tls_client_ca", cfg->dicom_tls_client_ca);
    /* what the node presents to the directory and to other hospitals */
    check_pair(&c, "directory", "tls_cert", cfg->dir_tls_cert, "tls_key", cfg->dir_tls_key,
               USE_CLIENT);
    check_bundle(&c, "directory", "tls_ca", cfg->dir_tls_ca);
    check_pair(&c, "claims", "cert", cfg->claims_cert, "key", cfg->claims_key, USE_SIGNING);
    check_bundle(&c, "claims", "chain", cfg->claims_chain);
    check_readable(&c, "directory", "catalogue", cfg->dir_catalogue);
    check_readable(&c, "recognition", "reasons", cfg->rec_reasons);
    check_readable(&c, "recognition", "prices", cfg->rec_prices);
    c.problems += privileges_check(cfg, report, ctx);
    return c.problems;
}
