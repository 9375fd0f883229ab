/* config_client.c: [client "NAME"] sections. Each maps a certificate subject, a bearer token
 * (stored only as its SHA-256) or a calling AE title to an institution code and one role:
 *   [client "radiology-ws-3"]
 *   token_sha256 = 5e8848...   ; printf %s "$TOKEN" | sha256sum
 *   institution = H37010001
 *   role = clinician */
#include "config_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "client"

static const char *const roles[] = {"clinician", "peer", "insurer", "admin", "his", "operator"};

int config__is_client_section(const char *section)
{
    size_t n = strlen(PREFIX);
    return strncmp(section, PREFIX, n) == 0 &&
           (section[n] == 0 || isspace((unsigned char)section[n]));
}

/* NAME out of `client "NAME"`: 1..64 printable ASCII characters, no quote or backslash. */
static int section_name(const char *section, char *name, size_t len)
{
    const char *p = section + strlen(PREFIX);
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    if (n < 3 || p[0] != '"' || p[n - 1] != '"' || n - 2 > CONFIG_CLIENT_NAME_MAX || n - 2 >= len)
        return -1;
    for (size_t i = 1; i < n - 1; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
            return -1;
    memcpy(name, p + 1, n - 2);
    name[n - 2] = 0;
    return 0;
}

static config_client *client_get(config *cfg, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nclients; i++)
        if (strcmp(cfg->clients[i].name, name) == 0)
            return &cfg->clients[i];
    if (cfg->nclients == CONFIG_MAX_CLIENTS) {
        snprintf(err, errlen, "more than %d [client] sections", CONFIG_MAX_CLIENTS);
        return NULL;
    }
    config_client *c = &cfg->clients[cfg->nclients];
    memset(c, 0, sizeof *c);
    if (!(c->name = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cfg->nclients++;
    return c;
}

/* Checks the value of one key; 0 or -1 with what is wrong in why. */
/* ae_title: one AE title or several (a modality or PACS calling with more than one), separated
 * by spaces or commas; each 1..16 characters without a backslash. */
static int ae_titles_check(const char *value, char *why, size_t len)
{
    size_t k = 0;
    for (const char *p = value;; p++) {
        int sep = *p == 0 || *p == ' ' || *p == ',' || *p == '\t';
        if (!sep && *p != '\\' && k < 16) {
            k++;
            continue;
        }
        if (!sep) {
            snprintf(why, len, "\"%.40s\" is not an AE title or a list of them", value);
            return -1;
        }
        k = 0;
        if (*p == 0)
            return 0;
    }
}

static int check_value(const char *key, const char *value, char *why, size_t len)
{
    size_t n = strlen(value);
    if (strcmp(key, "token_sha256") == 0) {
        for (size_t i = 0; i < n; i++)
            if (!isxdigit((unsigned char)value[i]))
                n = 0;
        if (n != 64) {
            snprintf(why, len, "not 64 hex digits (printf %%s \"$TOKEN\" | sha256sum)");
            return -1;
        }
    } else if (strcmp(key, "role") == 0) {
        for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
            if (strcmp(value, roles[i]) == 0)
                return 0;
        snprintf(why, len, "\"%.40s\" is not one of clinician|peer|insurer|admin|his|operator",
                 value);
        return -1;
    } else if (n == 0 || n > (strcmp(key, "subject") == 0    ? 1000
                              : strcmp(key, "ae_title") == 0 ? 400
                                                             : 64)) {
        snprintf(why, len, "empty or too long");
        return -1;
    } else if (strcmp(key, "ae_title") == 0) {
        return ae_titles_check(value, why, len);
    }
    return 0;
}

int config__client_set(config *cfg, const char *section, const char *key, const char *value,
                       char *err, size_t errlen)
{
    char name[CONFIG_CLIENT_NAME_MAX + 1], why[160];
    if (section_name(section, name, sizeof name) < 0) {
        snprintf(err, errlen, "[%s]: a client section is [client \"NAME\"] (NAME: 1-%d characters)",
                 section, CONFIG_CLIENT_NAME_MAX);
        return -1;
    }
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
        {"subject", offsetof(config_client, subject)},
        {"token_sha256", offsetof(config_client, token_sha256)},
        {"ae_title", offsetof(config_client, ae_title)},
        {"institution", offsetof(config_client, institution)},
        {"role", offsetof(config_client, role)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].key) != 0)
            continue;
        if (check_value(key, value, why, sizeof why) < 0) {
            snprintf(err, errlen, "[client \"%s\"] %s: %s", name, key, why);
            return -1;
        }
        config_client *c = client_get(cfg, name, err, errlen);
        char *copy = c ? strdup(value) : NULL;
        if (!copy) {
            if (c)
                snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (strcmp(key, "token_sha256") == 0)
            for (char *p = copy; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        char **slot = (char **)((char *)c + keys[i].offset);
        free(*slot);
        *slot = copy;
        return 0;
    }
    snprintf(err, errlen,
             "[client \"%s\"] %s: unknown key (subject, token_sha256, ae_title, "
             "institution, role)",
             name, key);
    return -1;
}

int config__clients_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    for (size_t i = 0; i < cfg->nclients; i++) {
        const config_client *c = &cfg->clients[i];
        const char *missing = !c->role          ? "role"
                              : !c->institution ? "institution"
                              : (!c->subject && !c->token_sha256 && !c->ae_title)
                                  ? "subject, token_sha256 or ae_title"
                                  : NULL;
        if (missing) {
            snprintf(err, errlen, "%s: [client \"%s\"] needs %s", where, c->name, missing);
            return -1;
        }
        if (c->subject && !cfg->tls_client_ca[0] && !cfg->dicom_tls_client_ca[0]) {
            snprintf(err, errlen,
                     "%s: [client \"%s\"] subject: client certificates need [http] "
                     "tls_client_ca (or, for DICOM TLS, [dicom] tls_client_ca)",
                     where, c->name);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            const config_client *d = &cfg->clients[j];
            if (c->token_sha256 && d->token_sha256 && !strcmp(c->token_sha256, d->token_sha256)) {
                snprintf(err, errlen, "%s: [client \"%s\"] and [client \"%s\"] have one token",
                         where, d->name, c->name);
                return -1;
            }
        }
    }
    return 0;
}

void config__clients_free(config *cfg)
{
    for (size_t i = 0; i < cfg->nclients; i++) {
        config_client *c = &cfg->clients[i];
        free(c->name);
        free(c->subject);
        free(c->token_sha256);
        free(c->ae_title);
        free(c->institution);
        free(c->role);
    }
    cfg->nclients = 0;
}
