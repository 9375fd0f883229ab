/* config.c: the configuration table and its INI reader. Every key the node understands is one
 * row {section, key, type, default, min, max, choices}; the reader, the flag overrides and
 * `huren check-config` all go through it, so a bad value is reported the same way everywhere. */
#include "config.h"
#include "huren_err.h"
#include "config_client.h"
#include "config_his.h"
#include "config_pacs.h"
#include "fhir.h"
#include "http/cors.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_ENUM, CFG_ADDR, CFG_AET } cfg_type;

typedef struct cfg_key {
    const char *section;
    const char *key;
    cfg_type type;
    const char *def;
    long min, max;              /* CFG_INT bounds; CFG_STR maximum length in max */
    const char *const *choices; /* CFG_ENUM: the names, NULL-terminated, in enum order */
    size_t offset;
} cfg_key;

#define OFF(f) offsetof(config, f)

/* The names of each CFG_ENUM key's values, in the order of its enum in config.h. */
static const char *const role_names[] = {"hospital", "directory", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const dup_names[] = {"keep", "replace", NULL};
static const char *const verify_names[] = {"none", "optional", "require", NULL};
static const char *const scope_names[] = {"none", "city", "province", "national", NULL};
static const char *const store_names[] = {"sqlite", "postgresql", NULL};

static const cfg_key cfg_table[] = {
    {"node", "role", CFG_ENUM, "hospital", 0, 0, role_names, OFF(role)},
    {"node", "data_dir", CFG_STR, "./var", 0, 4000, NULL, OFF(data_dir)},
    {"node", "log_level", CFG_ENUM, "info", 0, 0, level_names, OFF(log_level)},
    {"node", "bind_address", CFG_ADDR, "127.0.0.1", 0, 0, NULL, OFF(bind_address)},
    {"node", "utc_offset", CFG_STR, "+08:00", 1, 6, NULL, OFF(utc_offset)},
    {"node", "patient_id_issuer", CFG_STR, "", 0, 64, NULL, OFF(patient_id_issuer)},
    {"node", "user", CFG_STR, "", 0, 32, NULL, OFF(user)},
    {"node", "group", CFG_STR, "", 0, 32, NULL, OFF(group)},
    {"node", "ready_min_free_mb", CFG_INT, "1024", 0, 100000000, NULL, OFF(ready_min_free_mb)},
    {"dicom", "aet", CFG_AET, "HUREN", 0, 0, NULL, OFF(aet)},
    {"dicom", "port", CFG_INT, "11112", 0, 65535, NULL, OFF(dicom_port)},
    {"dicom", "max_associations", CFG_INT, "16", 1, 1000, NULL, OFF(max_associations)},
    {"dicom", "max_pdu", CFG_INT, "131072", 4096, 131072, NULL, OFF(max_pdu)},
    {"dicom", "acse_timeout", CFG_INT, "30", 1, 3600, NULL, OFF(acse_timeout)},
    {"dicom", "dimse_timeout", CFG_INT, "60", 1, 3600, NULL, OFF(dimse_timeout)},
    {"dicom", "tcp_nodelay", CFG_BOOL, "yes", 0, 0, NULL, OFF(tcp_nodelay)},
    {"dicom", "accept_unknown_sop_classes", CFG_BOOL, "yes", 0, 0, NULL,
     OFF(accept_unknown_sop_classes)},
    {"dicom", "allowed_calling_aes", CFG_STR, "", 0, 4000, NULL, OFF(allowed_calling_aes)},
    {"dicom", "duplicates", CFG_ENUM, "keep", 0, 0, dup_names, OFF(duplicates)},
    {"dicom", "find_max_results", CFG_INT, "10000", 1, 10000000, NULL, OFF(find_max_results)},
    {"dicom", "max_sequence_depth", CFG_INT, "64", 1, 1000, NULL, OFF(max_sequence_depth)},
    {"dicom", "max_negotiating", CFG_INT, "16", 1, 10000, NULL, OFF(max_negotiating)},
    {"dicom", "negotiation_timeout", CFG_INT, "10", 1, 3600, NULL, OFF(negotiation_timeout)},
    {"dicom", "max_identifier", CFG_INT, "1048576", 1024, 67108864, NULL, OFF(max_identifier)},
    {"dicom", "tls_port", CFG_INT, "0", 0, 65535, NULL, OFF(dicom_tls_port)},
    {"dicom", "tls_cert", CFG_STR, "", 0, 4000, NULL, OFF(dicom_tls_cert)},
    {"dicom", "tls_key", CFG_STR, "", 0, 4000, NULL, OFF(dicom_tls_key)},
    {"dicom", "tls_client_ca", CFG_STR, "", 0, 4000, NULL, OFF(dicom_tls_client_ca)},
    {"dicom", "tls_require_client_cert", CFG_BOOL, "yes", 0, 0, NULL,
     OFF(dicom_tls_require_client_cert)},
    {"http", "port", CFG_INT, "8080", 0, 65535, NULL, OFF(http_port)},
    {"http", "tls_cert", CFG_STR, "", 0, 4000, NULL, OFF(tls_cert)},
    {"http", "tls_key", CFG_STR, "", 0, 4000, NULL, OFF(tls_key)},
    {"http", "tls_client_ca", CFG_STR, "", 0, 4000, NULL, OFF(tls_client_ca)},
    {"http", "tls_client_verify", CFG_ENUM, "none", 0, 0, verify_names, OFF(tls_client_verify)},
    {"http", "threads", CFG_INT, "4", 1, 256, NULL, OFF(http_threads)},
    {"http", "max_body", CFG_INT, "1048576", 1024, 1073741824, NULL, OFF(http_max_body)},
    {"hl7", "port", CFG_INT, "2575", 0, 65535, NULL, OFF(hl7_port)},
    {"hl7", "max_message", CFG_INT, "1048576", 1024, 268435456, NULL, OFF(hl7_max_message)},
    {"hl7", "idle_timeout", CFG_INT, "300", 1, 86400, NULL, OFF(hl7_idle_timeout)},
    {"hl7", "max_connections", CFG_INT, "64", 1, 10000, NULL, OFF(hl7_max_connections)},
    {"archive", "fsync", CFG_BOOL, "yes", 0, 0, NULL, OFF(fsync)},
    {"archive", "group_commit_max", CFG_INT, "64", 1, 10000, NULL, OFF(group_commit_max)},
    {"archive", "busy_timeout_ms", CFG_INT, "10000", 0, 600000, NULL, OFF(busy_timeout_ms)},
    {"archive", "pack_max_instance", CFG_INT, "1048576", 0, 67108864, NULL, OFF(pack_max_instance)},
    {"dicomweb", "max_stow_bytes", CFG_INT, "4294967296", 1024, 1099511627776L, NULL,
     OFF(dicomweb_max_stow_bytes)},
    {"dicomweb", "max_stow_parts", CFG_INT, "10000", 1, 1000000, NULL,
     OFF(dicomweb_max_stow_parts)},
    {"dicomweb", "qido_max_results", CFG_INT, "1000", 1, 100000, NULL, OFF(qido_max_results)},
    {"dicomweb", "base_url", CFG_STR, "", 0, 400, NULL, OFF(dicomweb_base_url)},
    {"dicomweb", "cors_origins", CFG_STR, "", 0, 4000, NULL, OFF(dicomweb_cors_origins)},
    {"share", "base_url", CFG_STR, "", 0, 400, NULL, OFF(share_base_url)},
    {"share", "hospital_name", CFG_STR, "", 0, 200, NULL, OFF(share_hospital_name)},
    {"retention", "max_age_days", CFG_INT, "0", 0, 36500, NULL, OFF(retention_max_age_days)},
    {"retention", "min_free_mb", CFG_INT, "0", 0, 100000000, NULL, OFF(retention_min_free_mb)},
    {"retention", "protected", CFG_BOOL, "yes", 0, 0, NULL, OFF(retention_protected)},
    {"retention", "interval", CFG_INT, "86400", 1, 31536000, NULL, OFF(retention_interval)},
    {"access", "loopback_full_access", CFG_BOOL, "yes", 0, 0, NULL, OFF(loopback_full_access)},
    {"audit", "file", CFG_STR, "", 0, 4000, NULL, OFF(audit_file)},
    {"audit", "fsync", CFG_BOOL, "yes", 0, 0, NULL, OFF(audit_fsync)},
    {"recognition", "retrieve_on_move", CFG_BOOL, "no", 0, 0, NULL, OFF(rec_retrieve_on_move)},
    {"recognition", "reasons", CFG_STR, "", 0, 4000, NULL, OFF(rec_reasons)},
    {"recognition", "prices", CFG_STR, "", 0, 4000, NULL, OFF(rec_prices)},
    {"claims", "key", CFG_STR, "", 0, 4000, NULL, OFF(claims_key)},
    {"claims", "cert", CFG_STR, "", 0, 4000, NULL, OFF(claims_cert)},
    {"claims", "chain", CFG_STR, "", 0, 4000, NULL, OFF(claims_chain)},
    {"claims", "institution", CFG_STR, "", 0, 64, NULL, OFF(claims_institution)},
    {"claims", "rate_per_minute", CFG_INT, "60", 1, 1000000, NULL, OFF(claims_rate)},
    {"claims", "burst", CFG_INT, "20", 1, 100000, NULL, OFF(claims_burst)},
    {"claims", "max_body", CFG_INT, "4096", 256, 1048576, NULL, OFF(claims_max_body)},
    {"directory", "publish", CFG_BOOL, "no", 0, 0, NULL, OFF(dir_publish)},
    {"directory", "url", CFG_STR, "", 0, 1000, NULL, OFF(dir_url)},
    {"directory", "region_key", CFG_STR, "", 0, 4000, NULL, OFF(dir_region_key)},
    {"directory", "institution", CFG_STR, "", 0, 64, NULL, OFF(dir_institution)},
    {"directory", "source_url", CFG_STR, "", 0, 500, NULL, OFF(dir_source_url)},
    {"directory", "hr_scope", CFG_ENUM, "none", 0, 0, scope_names, OFF(dir_hr_scope)},
    {"directory", "qualified_from", CFG_STR, "", 0, 8, NULL, OFF(dir_qualified_from)},
    {"directory", "qualified_to", CFG_STR, "", 0, 8, NULL, OFF(dir_qualified_to)},
    {"directory", "catalogue", CFG_STR, "", 0, 4000, NULL, OFF(dir_catalogue)},
    {"directory", "reference_interval", CFG_INT, "3600", 1, 604800, NULL, OFF(dir_ref_interval)},
    {"directory", "tls_cert", CFG_STR, "", 0, 4000, NULL, OFF(dir_tls_cert)},
    {"directory", "tls_key", CFG_STR, "", 0, 4000, NULL, OFF(dir_tls_key)},
    {"directory", "tls_ca", CFG_STR, "", 0, 4000, NULL, OFF(dir_tls_ca)},
    {"directory", "batch_size", CFG_INT, "500", 1, 10000, NULL, OFF(dir_batch_size)},
    {"directory", "retry_min_ms", CFG_INT, "1000", 10, 3600000, NULL, OFF(dir_retry_min_ms)},
    {"directory", "retry_max_ms", CFG_INT, "300000", 10, 86400000, NULL, OFF(dir_retry_max_ms)},
    {"directory", "timeout", CFG_INT, "30", 1, 3600, NULL, OFF(dir_timeout)},
    {"directory", "poll_ms", CFG_INT, "1000", 10, 60000, NULL, OFF(dir_poll_ms)},
    {"directory", "max_batch", CFG_INT, "1000", 1, 10000, NULL, OFF(dir_max_batch)},
    {"directory", "ready_max_backlog", CFG_INT, "100000", 1, 1000000000, NULL,
     OFF(dir_ready_max_backlog)},
    {"directory", "store", CFG_ENUM, "sqlite", 0, 0, store_names, OFF(dir_store)},
    {"directory", "dsn", CFG_STR, "", 0, 4000, NULL, OFF(dir_dsn)},
    {"directory", "read_dsn", CFG_STR, "", 0, 4000, NULL, OFF(dir_read_dsn)},
    {"directory", "pool", CFG_INT, "8", 1, 256, NULL, OFF(dir_pool)},
    {"directory", "statement_timeout", CFG_INT, "5000", 0, 3600000, NULL,
     OFF(dir_statement_timeout)},
};

#define AES_SECTION "dicom_aes"

static const cfg_key *cfg_lookup(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof cfg_table / sizeof cfg_table[0]; i++)
        if (strcmp(cfg_table[i].section, section) == 0 && strcmp(cfg_table[i].key, key) == 0)
            return &cfg_table[i];
    return NULL;
}

/* The position of value among choices, or -1: a CFG_ENUM key stores the position. */
static int enum_index(const char *const *choices, const char *value)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], value) == 0)
            return i;
    return -1;
}

const char *config_choice_name(const char *section, const char *key, int value)
{
    const cfg_key *k = cfg_lookup(section, key);
    if (!k || k->type != CFG_ENUM || value < 0)
        return "?";
    for (int i = 0; k->choices[i]; i++)
        if (i == value)
            return k->choices[i];
    return "?";
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* An AE title: 1..16 characters of the default repertoire, no backslash or control codes. */
int config__aet_valid(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e || v[i] == '\\')
            return 0;
    return 1;
}

static int addr_valid(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

static int set_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static int apply_key(config *cfg, const cfg_key *k, const char *value, char *err, size_t errlen)
{
    char *base = (char *)cfg;
    switch (k->type) {
    case CFG_INT: {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || end == value || *end || n < k->min || n > k->max) {
            snprintf(err, errlen, "[%s] %s: \"%s\" is not a number from %ld to %ld", k->section,
                     k->key, value, k->min, k->max);
            return -1;
        }
        *(long *)(base + k->offset) = n;
        return 0;
    }
    case CFG_BOOL:
        if (parse_bool(value, (int *)(base + k->offset)) < 0) {
            snprintf(err, errlen, "[%s] %s: \"%s\" is not yes/no", k->section, k->key, value);
            return -1;
        }
        return 0;
    case CFG_ENUM: {
        int i = enum_index(k->choices, value);
        if (i < 0) {
            char list[128] = "";
            for (int j = 0; k->choices[j]; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? "|" : "",
                         k->choices[j]);
            snprintf(err, errlen, "[%s] %s: \"%s\" is not one of %s", k->section, k->key, value,
                     list);
            return -1;
        }
        *(int *)(base + k->offset) = i;
        return 0;
    }
    case CFG_ADDR:
        if (!addr_valid(value)) {
            snprintf(err, errlen, "[%s] %s: \"%s\" is not a numeric IPv4 or IPv6 address",
                     k->section, k->key, value);
            return -1;
        }
        break;
    case CFG_AET:
        if (!config__aet_valid(value)) {
            snprintf(err, errlen,
                     "[%s] %s: \"%s\" is not an AE title (1-16 printable ASCII, no backslash)",
                     k->section, k->key, value);
            return -1;
        }
        break;
    case CFG_STR:
        if ((long)strlen(value) > k->max) {
            snprintf(err, errlen, "[%s] %s: longer than %ld characters", k->section, k->key,
                     k->max);
            return -1;
        }
        break;
    }
    if (set_string((char **)(base + k->offset), value) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* "[dicom_aes] STORESCP = 127.0.0.1:11113" */
static int apply_ae(config *cfg, const char *title, const char *value, char *err, size_t errlen)
{
    if (!config__aet_valid(title)) {
        snprintf(err, errlen, "[%s] \"%s\" is not an AE title", AES_SECTION, title);
        return -1;
    }
    const char *colon = strrchr(value, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == value || !end || *end || port < 1 || port > 65535 ||
        colon - value > 255) {
        snprintf(err, errlen, "[%s] %s: \"%s\" is not host:port", AES_SECTION, title, value);
        return -1;
    }
    config_ae *ae = NULL;
    for (size_t i = 0; i < cfg->naes; i++)
        if (strcmp(cfg->aes[i].title, title) == 0)
            ae = &cfg->aes[i];
    if (!ae) {
        if (cfg->naes == CONFIG_MAX_PEERS) {
            snprintf(err, errlen, "[%s]: more than %d AEs", AES_SECTION, CONFIG_MAX_PEERS);
            return -1;
        }
        ae = &cfg->aes[cfg->naes++];
        memset(ae, 0, sizeof *ae);
    }
    char *t = strdup(title), *h = strndup(value, (size_t)(colon - value));
    if (!t || !h) {
        free(t);
        free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(ae->title);
    free(ae->host);
    ae->title = t;
    ae->host = h;
    ae->port = (int)port;
    return 0;
}

/* Edit distance of a and b (short names; a swap of two neighbours counts once), for
 * "did you mean". */
static size_t distance(const char *a, const char *b)
{
    enum { N = 64 };
    size_t la = strlen(a), lb = strlen(b), d[N][N];
    if (la >= N || lb >= N)
        return N;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ne = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j - 1] + (size_t)ne;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* The known name nearest to `name` (a section name, or a key of `section`), or NULL when none
 * is near enough to be a likely misspelling (at most a third of its letters wrong). */
static const char *nearest(const char *name, const char *section)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < sizeof cfg_table / sizeof cfg_table[0]; i++) {
        if (section && strcmp(cfg_table[i].section, section) != 0)
            continue;
        const char *cand = section ? cfg_table[i].key : cfg_table[i].section;
        size_t d = distance(name, cand);
        if (d < bestd) {
            best = cand;
            bestd = d;
        }
    }
    if (!section && distance(name, AES_SECTION) < bestd) {
        best = AES_SECTION;
        bestd = distance(name, AES_SECTION);
    }
    size_t allowed = strlen(name) / 3 > 1 ? strlen(name) / 3 : 1;
    return bestd <= allowed ? best : NULL;
}

static int section_known(const char *section)
{
    for (size_t i = 0; i < sizeof cfg_table / sizeof cfg_table[0]; i++)
        if (strcmp(cfg_table[i].section, section) == 0)
            return 1;
    return 0;
}

int config_set(config *cfg, const char *section, const char *key, const char *value, char *err,
               size_t errlen)
{
    if (strcmp(section, AES_SECTION) == 0)
        return apply_ae(cfg, key, value, err, errlen);
    if (config__is_client_section(section))
        return config__client_set(cfg, section, key, value, err, errlen);
    if (config__is_his_section(section))
        return config__his_set(cfg, section, key, value, err, errlen);
    if (config__is_pacs_section(section))
        return config__pacs_set(cfg, section, key, value, err, errlen);
    if (config__is_forward_section(section))
        return config__forward_set(cfg, section, key, value, err, errlen);
    const cfg_key *k = cfg_lookup(section, key);
    if (!k && !section_known(section)) {
        const char *near = nearest(section, NULL);
        snprintf(err, errlen, "[%s]: unknown section%s%s%s", section,
                 near ? " (did you mean [" : "", near ? near : "", near ? "]?)" : "");
        return -1;
    }
    if (!k) {
        const char *near = nearest(key, section);
        snprintf(err, errlen, "[%s] %s: unknown key%s%s%s", section, key,
                 near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        return -1;
    }
    return apply_key(cfg, k, value, err, errlen);
}

int config_defaults(config *cfg)
{
    char err[HUREN_ERRLEN];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof cfg_table / sizeof cfg_table[0]; i++)
        if (apply_key(cfg, &cfg_table[i], cfg_table[i].def, err, sizeof err) < 0)
            return -1; /* a bad default is a programmer error caught by the unit test */
    return 0;
}

typedef struct ini_ctx {
    config *cfg;
    char msg[512];
} ini_ctx;

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *ctx = user;
    if (!name) /* a section header alone */
        return 1;
    char msg[sizeof ctx->msg];
    if (config_set(ctx->cfg, section, name, value, msg, sizeof msg) == 0)
        return 1;
    if (!ctx->msg[0]) /* inih reports the first bad line: keep the first reason with it */
        memcpy(ctx->msg, msg, sizeof msg);
    return 0;
}

int config_load(config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    ini_ctx ctx = {.cfg = cfg, .msg = ""};
    int line = ini_parse_file(f, on_ini_line, &ctx);
    fclose(f);
    if (line != 0) {
        if (line < 0)
            snprintf(err, errlen, "%s: cannot read", path);
        else
            snprintf(err, errlen, "%s:%d: %s", path, line,
                     ctx.msg[0] ? ctx.msg : "syntax error (expected [section] or key = value)");
        return -1;
    }
    if (set_string(&cfg->path, path) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int config_is_loopback(const char *address)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, address, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, address, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int config_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    int has_cert = cfg->tls_cert[0] != 0, has_key = cfg->tls_key[0] != 0;
    if (has_cert != has_key) {
        snprintf(err, errlen, "%s: [http] tls_cert and tls_key must be set together", where);
        return -1;
    }
    if (!config_is_loopback(cfg->bind_address) && !has_cert) {
        snprintf(err, errlen,
                 "%s: [node] bind_address %s is not a loopback address: serving it requires TLS "
                 "([http] tls_cert and tls_key)",
                 where, cfg->bind_address);
        return -1;
    }
    if (cfg->tls_client_verify != CONFIG_VERIFY_NONE && !cfg->tls_client_ca[0]) {
        snprintf(err, errlen, "%s: [http] tls_client_verify = %s needs tls_client_ca", where,
                 config_choice_name("http", "tls_client_verify", (int)cfg->tls_client_verify));
        return -1;
    }
    if (cfg->tls_client_ca[0] && !has_cert) {
        snprintf(err, errlen, "%s: [http] tls_client_ca needs tls_cert and tls_key", where);
        return -1;
    }
    int offset;
    if (fhir_offset_parse(cfg->utc_offset, &offset) < 0) {
        snprintf(err, errlen, "%s: [node] utc_offset \"%s\" is not an offset like +08:00", where,
                 cfg->utc_offset);
        return -1;
    }
    if (!cfg->claims_key[0] != !cfg->claims_cert[0]) {
        snprintf(err, errlen, "%s: [claims] key and cert must be set together", where);
        return -1;
    }
    char why[HUREN_ERRLEN];
    if (cors_origins_check(cfg->dicomweb_cors_origins, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: [dicomweb] cors_origins: %s", where, why);
        return -1;
    }
    if (config__clients_validate(cfg, err, errlen) < 0)
        return -1;
    if (config__directory_validate(cfg, err, errlen) < 0)
        return -1;
    if (config__pacs_validate(cfg, err, errlen) < 0)
        return -1;
    if (config__his_validate(cfg, err, errlen) < 0)
        return -1;
    if (config__dicom_tls_validate(cfg, err, errlen) < 0)
        return -1;
    const long ports[] = {cfg->dicom_port, cfg->http_port, cfg->hl7_port};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (ports[i] && ports[i] == ports[j]) {
                snprintf(err, errlen, "%s: port %ld is used by two services", where, ports[i]);
                return -1;
            }
    return 0;
}

const config_ae *config_find_ae(const config *cfg, const char *title)
{
    for (size_t i = 0; i < cfg->naes; i++)
        if (strcmp(cfg->aes[i].title, title) == 0)
            return &cfg->aes[i];
    return NULL;
}

void config_free(config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    for (size_t i = 0; i < sizeof cfg_table / sizeof cfg_table[0]; i++) {
        const cfg_key *k = &cfg_table[i];
        if (k->type != CFG_INT && k->type != CFG_BOOL && k->type != CFG_ENUM)
            free(*(char **)((char *)cfg + k->offset));
    }
    for (size_t i = 0; i < cfg->naes; i++) {
        free(cfg->aes[i].title);
        free(cfg->aes[i].host);
    }
    config__clients_free(cfg);
    config__pacs_free(cfg);
    config__his_free(cfg);
    memset(cfg, 0, sizeof *cfg);
}
