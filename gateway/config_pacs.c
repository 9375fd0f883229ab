/* config_pacs.c: [pacs "NAME"] sections (a PACS the gateway indexes and fetches from) and
 * [forward "NAME"] sections (instances sent on by C-STORE from a durable queue):
 *   [pacs "main"]                  [forward "priors-to-pacs"]
 *   ae_title = PACS                source = retrieval
 *   host = 10.1.2.3                destination = main
 *   port = 104
 * Each key is a row {key, type, default, min, max}, like the main table in config.c. */
#include "config_pacs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum sec_type { S_STR, S_AET, S_INT, S_ENUM } sec_type;

typedef struct sec_key {
    const char *key;
    sec_type type;
    const char *def; /* NULL: required (strings) or no default */
    long min, max;   /* S_INT bounds; S_STR maximum length in max */
    const char *const *choices;
    size_t offset;
} sec_key;

static const char *const model_names[] = {"study", "patient", NULL};
static const char *const retrieve_names[] = {"get", "move", NULL};
static const char *const source_names[] = {"retrieval", "cstore", "stow", NULL};

#define P(f) offsetof(config_pacs, f)
static const sec_key pacs_keys[] = {
    {"ae_title", S_AET, NULL, 0, 0, NULL, P(ae_title)},
    {"host", S_STR, NULL, 1, 255, NULL, P(host)},
    {"port", S_INT, "104", 1, 65535, NULL, P(port)},
    {"calling_ae", S_AET, NULL, 0, 0, NULL, P(calling_ae)},
    {"query_model", S_ENUM, "study", 0, 0, model_names, P(query_model)},
    {"retrieve", S_ENUM, "get", 0, 0, retrieve_names, P(retrieve)},
    {"max_associations", S_INT, "2", 1, 64, NULL, P(max_associations)},
    {"queries_per_minute", S_INT, "60", 1, 60000, NULL, P(queries_per_minute)},
    {"sync_interval", S_INT, "3600", 0, 604800, NULL, P(sync_interval)},
    {"sync_window_days", S_INT, "7", 1, 36500, NULL, P(sync_window_days)},
    {"result_limit", S_INT, "0", 0, 10000000, NULL, P(result_limit)},
    {"timeout", S_INT, "30", 1, 3600, NULL, P(timeout)},
    {"cache_budget", S_INT, "0", 0, 1125899906842624L, NULL, P(cache_budget)},
    {"tls_ca", S_STR, NULL, 1, 4000, NULL, P(tls_ca)},
    {"tls_cert", S_STR, NULL, 1, 4000, NULL, P(tls_cert)},
    {"tls_key", S_STR, NULL, 1, 4000, NULL, P(tls_key)},
};
#undef P
#define F(f) offsetof(config_forward, f)
static const sec_key forward_keys[] = {
    {"source", S_ENUM, NULL, 0, 0, source_names, F(source)},
    {"source_ae", S_AET, NULL, 0, 0, NULL, F(source_ae)},
    {"modality", S_STR, NULL, 1, 16, NULL, F(modality)},
    {"destination", S_STR, NULL, 1, 64, NULL, F(destination)},
    {"retry_min", S_INT, "5", 1, 86400, NULL, F(retry_min)},
    {"retry_max", S_INT, "600", 1, 604800, NULL, F(retry_max)},
};
#undef F
#define NKEYS(t) (sizeof t / sizeof t[0])

static int is_section(const char *section, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(section, prefix, n) == 0 &&
           (section[n] == 0 || isspace((unsigned char)section[n]));
}

int config__is_pacs_section(const char *section)
{
    return is_section(section, "pacs");
}

int config__is_forward_section(const char *section)
{
    return is_section(section, "forward");
}

/* NAME out of `pacs "NAME"`: 1..64 of [A-Za-z0-9._-] (it is kept in the index and in logs). */
static int section_name(const char *section, const char *prefix, char *name, size_t len)
{
    const char *p = section + strlen(prefix);
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    if (n < 3 || p[0] != '"' || p[n - 1] != '"' || n - 2 > CONFIG_CLIENT_NAME_MAX || n - 2 >= len)
        return -1;
    for (size_t i = 1; i < n - 1; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
            return -1;
    memcpy(name, p + 1, n - 2);
    name[n - 2] = 0;
    return 0;
}

/* Check value and store it into the struct at base. 0, or -1 with why. */
static int apply(char *base, const sec_key *k, const char *value, char *why, size_t len)
{
    if (k->type == S_INT) {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || end == value || *end || n < k->min || n > k->max) {
            snprintf(why, len, "\"%.40s\" is not a number from %ld to %ld", value, k->min, k->max);
            return -1;
        }
        *(long *)(base + k->offset) = n;
        return 0;
    }
    if (k->type == S_ENUM) {
        for (int i = 0; k->choices[i]; i++)
            if (strcmp(value, k->choices[i]) == 0) {
                *(int *)(base + k->offset) = i;
                return 0;
            }
        char list[96] = "";
        for (int i = 0; k->choices[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "",
                     k->choices[i]);
        snprintf(why, len, "\"%.40s\" is not one of %s", value, list);
        return -1;
    }
    if (k->type == S_AET && !config__aet_valid(value)) {
        snprintf(why, len, "\"%.40s\" is not an AE title (1-16 printable ASCII, no backslash)",
                 value);
        return -1;
    }
    if (k->type == S_STR && ((long)strlen(value) < k->min || (long)strlen(value) > k->max)) {
        snprintf(why, len, "empty or longer than %ld characters", k->max);
        return -1;
    }
    char *copy = strdup(value);
    if (!copy) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    char **slot = (char **)(base + k->offset);
    free(*slot);
    *slot = copy;
    return 0;
}

/* The defaults of a new section's numbers and choices. */
static void defaults(char *base, const sec_key *keys, size_t nkeys)
{
    char why[8];
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].def && keys[i].type != S_STR && keys[i].type != S_AET)
            (void)apply(base, &keys[i], keys[i].def, why, sizeof why);
        else if (keys[i].type == S_ENUM) /* a required choice: -1 until given */
            *(int *)(base + keys[i].offset) = -1;
}

typedef struct sec_kind {
    const char *prefix;
    const sec_key *keys;
    size_t nkeys;
} sec_kind;

static const sec_kind kind_pacs = {"pacs", pacs_keys, NKEYS(pacs_keys)};
static const sec_kind kind_forward = {"forward", forward_keys, NKEYS(forward_keys)};

/* The section named name in the array at base (n used, max slots, size bytes each), added
 * with its defaults when new. Each struct starts with its char *name. */
static char *section_get(const sec_kind *kind, char *base, size_t *n, size_t max, size_t size,
                         const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(*(char **)(base + i * size), name) == 0)
            return base + i * size;
    if (*n == max) {
        snprintf(err, errlen, "more than %zu [%s] sections", max, kind->prefix);
        return NULL;
    }
    char *s = base + *n * size;
    memset(s, 0, size);
    if (!(*(char **)s = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    defaults(s, kind->keys, kind->nkeys);
    (*n)++;
    return s;
}

static int set_key(const sec_kind *kind, char *base, size_t *n, size_t max, size_t size,
                   const char *section, const char *key, const char *value, char *err,
                   size_t errlen)
{
    char name[CONFIG_CLIENT_NAME_MAX + 1], why[160];
    if (section_name(section, kind->prefix, name, sizeof name) < 0) {
        snprintf(err, errlen,
                 "[%s]: a %s section is [%s \"NAME\"] (NAME: 1-%d of letters, digits, . _ -)",
                 section, kind->prefix, kind->prefix, CONFIG_CLIENT_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < kind->nkeys; i++) {
        if (strcmp(key, kind->keys[i].key) != 0)
            continue;
        char *s = section_get(kind, base, n, max, size, name, err, errlen);
        if (!s)
            return -1;
        if (apply(s, &kind->keys[i], value, why, sizeof why) < 0) {
            snprintf(err, errlen, "[%s \"%s\"] %s: %s", kind->prefix, name, key, why);
            return -1;
        }
        return 0;
    }
    char list[400] = "";
    for (size_t i = 0; i < kind->nkeys; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 kind->keys[i].key);
    snprintf(err, errlen, "[%s \"%s\"] %s: unknown key (%s)", kind->prefix, name, key, list);
    return -1;
}

int config__pacs_set(config *cfg, const char *section, const char *key, const char *value,
                     char *err, size_t errlen)
{
    return set_key(&kind_pacs, (char *)cfg->pacs, &cfg->npacs, CONFIG_MAX_PACS, sizeof cfg->pacs[0],
                   section, key, value, err, errlen);
}

int config__forward_set(config *cfg, const char *section, const char *key, const char *value,
                        char *err, size_t errlen)
{
    return set_key(&kind_forward, (char *)cfg->forwards, &cfg->nforwards, CONFIG_MAX_FORWARDS,
                   sizeof cfg->forwards[0], section, key, value, err, errlen);
}

const config_pacs *config_find_pacs(const config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->npacs; i++)
        if (strcmp(cfg->pacs[i].name, name) == 0)
            return &cfg->pacs[i];
    return NULL;
}

static int forward_validate(const config *cfg, const config_forward *f, const char *where,
                            char *err, size_t errlen)
{
    const char *missing = (int)f->source < 0 ? "source" : !f->destination ? "destination" : NULL;
    if (missing) {
        snprintf(err, errlen, "%s: [forward \"%s\"] needs %s", where, f->name, missing);
        return -1;
    }
    if (!config_find_pacs(cfg, f->destination) && !config_find_ae(cfg, f->destination)) {
        snprintf(err, errlen,
                 "%s: [forward \"%s\"] destination: \"%s\" is neither a [pacs] section nor "
                 "an AE title of [dicom_aes]",
                 where, f->name, f->destination);
        return -1;
    }
    if (f->source_ae && f->source != CONFIG_FWD_CSTORE) {
        snprintf(err, errlen, "%s: [forward \"%s\"] source_ae needs source = cstore", where,
                 f->name);
        return -1;
    }
    if (f->retry_max < f->retry_min) {
        snprintf(err, errlen, "%s: [forward \"%s\"] retry_max is below retry_min", where, f->name);
        return -1;
    }
    return 0;
}

int config__pacs_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    for (size_t i = 0; i < cfg->npacs; i++) {
        const config_pacs *p = &cfg->pacs[i];
        const char *missing = !p->ae_title ? "ae_title" : !p->host ? "host" : NULL;
        if (missing) {
            snprintf(err, errlen, "%s: [pacs \"%s\"] needs %s", where, p->name, missing);
            return -1;
        }
        if ((p->tls_cert || p->tls_key) && (!p->tls_cert || !p->tls_key || !p->tls_ca)) {
            snprintf(err, errlen,
                     "%s: [pacs \"%s\"] tls_cert and tls_key go together, and need tls_ca", where,
                     p->name);
            return -1;
        }
        if (p->retrieve == CONFIG_RETRIEVE_MOVE && !cfg->dicom_port) {
            snprintf(err, errlen,
                     "%s: [pacs \"%s\"] retrieve = move needs the DICOM port ([dicom] port) "
                     "the PACS sends to",
                     where, p->name);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->nforwards; i++)
        if (forward_validate(cfg, &cfg->forwards[i], where, err, errlen) < 0)
            return -1;
    return 0;
}

void config__pacs_free(config *cfg)
{
    for (size_t i = 0; i < cfg->npacs; i++) {
        config_pacs *p = &cfg->pacs[i];
        free(p->name);
        free(p->ae_title);
        free(p->host);
        free(p->calling_ae);
        free(p->tls_ca);
        free(p->tls_cert);
        free(p->tls_key);
    }
    for (size_t i = 0; i < cfg->nforwards; i++) {
        config_forward *f = &cfg->forwards[i];
        free(f->name);
        free(f->source_ae);
        free(f->modality);
        free(f->destination);
    }
    cfg->npacs = cfg->nforwards = 0;
}
