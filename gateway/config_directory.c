/* config_directory.c: the [directory] section's checks that span keys, and the region key
 * (hex in the file, or a key file). A publishing node must name the directory, the region key
 * and its institution; the catalogue, when given, must load (so check-config checks it). */
#include "catalogue.h"
#include "directory/store.h"
#include "huren_err.h"
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 32..128 hex digits into key; returns the byte count or -1. */
static int hex_key(const char *s, size_t n, unsigned char *key)
{
    if (n < 32 || n > 2 * CONFIG_REGION_KEY_MAX || n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
            return -1;
        char pair[3] = {s[i], s[i + 1], 0};
        key[i / 2] = (unsigned char)strtoul(pair, NULL, 16);
    }
    return (int)(n / 2);
}

int config_region_key(const config *cfg, unsigned char key[CONFIG_REGION_KEY_MAX], char *err,
                      size_t errlen)
{
    const char *v = cfg->dir_region_key;
    int n = hex_key(v, strlen(v), key);
    if (n > 0)
        return n;
    if (!*v) {
        snprintf(err, errlen, "[directory] region_key is not set");
        return -1;
    }
    char buf[512];
    FILE *f = fopen(v, "r");
    if (!f) {
        snprintf(err, errlen,
                 "[directory] region_key: neither 32-128 hex digits nor a readable "
                 "key file (%s)",
                 strerror(errno));
        return -1;
    }
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = buf;
    while (isspace((unsigned char)*p))
        p++;
    size_t m = strlen(p);
    while (m && isspace((unsigned char)p[m - 1]))
        m--;
    n = hex_key(p, m, key);
    memset(buf, 0, sizeof buf);
    if (n < 0) {
        snprintf(err, errlen,
                 "[directory] region_key: the key file %s must hold 32 to 128 hex "
                 "digits",
                 v);
        return -1;
    }
    return n;
}

static int date_valid(const char *s)
{
    if (strlen(s) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    int m = (s[4] - '0') * 10 + s[5] - '0', d = (s[6] - '0') * 10 + s[7] - '0';
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/* https://, or plain http:// to this machine only (tests, benchmarks) */
static int url_valid(const char *u, int https_only)
{
    if (!strncmp(u, "https://", 8))
        return 1;
    if (https_only)
        return 0;
    return !strncmp(u, "http://127.", 11) || !strncmp(u, "http://localhost", 16) ||
           !strncmp(u, "http://[::1]", 12);
}

int config__directory_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    char why[HUREN_ERRLEN];
    unsigned char key[CONFIG_REGION_KEY_MAX];
    if ((*cfg->dir_qualified_from && !date_valid(cfg->dir_qualified_from)) ||
        (*cfg->dir_qualified_to && !date_valid(cfg->dir_qualified_to))) {
        snprintf(err, errlen, "%s: [directory] qualified_from/qualified_to: not YYYYMMDD", where);
        return -1;
    }
    if (*cfg->dir_qualified_from && *cfg->dir_qualified_to &&
        strcmp(cfg->dir_qualified_from, cfg->dir_qualified_to) > 0) {
        snprintf(err, errlen,
                 "%s: [directory] qualified_from %s is after qualified_to %s: no result would "
                 "ever carry the HR mark",
                 where, cfg->dir_qualified_from, cfg->dir_qualified_to);
        return -1;
    }
    if (cfg->dir_retry_min_ms > cfg->dir_retry_max_ms) {
        snprintf(err, errlen, "%s: [directory] retry_min_ms is above retry_max_ms", where);
        return -1;
    }
    if (cfg->dir_store == CONFIG_DIR_STORE_POSTGRESQL && !*cfg->dir_dsn) {
        snprintf(err, errlen, "%s: [directory] store = postgresql needs dsn", where);
        return -1;
    }
    if ((*cfg->dir_dsn && directory_store_dsn_check(cfg->dir_dsn, "dsn", why, sizeof why) < 0) ||
        (*cfg->dir_read_dsn &&
         directory_store_dsn_check(cfg->dir_read_dsn, "read_dsn", why, sizeof why) < 0)) {
        snprintf(err, errlen, "%s: %s", where, why);
        return -1;
    }
    if (*cfg->dir_catalogue) {
        catalogue *c = NULL;
        if (catalogue_load(cfg->dir_catalogue, &c, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: [directory] catalogue: %s", where, why);
            return -1;
        }
        catalogue_free(c);
    }
    if (!cfg->dir_publish || cfg->role != CONFIG_ROLE_HOSPITAL)
        return 0;
    if (!url_valid(cfg->dir_url, 0)) {
        snprintf(err, errlen, "%s: [directory] publish = yes needs url = https://HOST:PORT", where);
        return -1;
    }
    if (!*cfg->dir_institution) {
        snprintf(err, errlen, "%s: [directory] publish = yes needs institution", where);
        return -1;
    }
    if (*cfg->dir_source_url && strncmp(cfg->dir_source_url, "http", 4) != 0) {
        snprintf(err, errlen, "%s: [directory] source_url: not an http(s) URL", where);
        return -1;
    }
    if (config_region_key(cfg, key, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", where, why);
        return -1;
    }
    memset(key, 0, sizeof key);
    int has_cert = *cfg->dir_tls_cert != 0, has_key = *cfg->dir_tls_key != 0;
    if (has_cert != has_key) {
        snprintf(err, errlen, "%s: [directory] tls_cert and tls_key must be set together", where);
        return -1;
    }
    return 0;
}
