/* config_his.c: [his "NAME"] sections, the hospital information systems that may launch the
 * doctors' page with a signed URL (gateway/his/launch.c):
 *   [his "his-a"]
 *   key_file = /etc/huren/his-a.key   ; >= 32 random bytes, shared with the HIS
 *   origin = https://his.hospital-a.example
 *   session_idle = 900 */
#include "config_his.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "his"

int config__is_his_section(const char *section)
{
    size_t n = strlen(PREFIX);
    return strncmp(section, PREFIX, n) == 0 &&
           (section[n] == 0 || isspace((unsigned char)section[n]));
}

/* NAME out of `his "NAME"`: 1..64 of [A-Za-z0-9._-]. */
static int section_name(const char *section, char *name, size_t len)
{
    const char *p = section + strlen(PREFIX);
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    if (n < 3 || p[0] != '"' || p[n - 1] != '"' || n - 2 > 64 || n - 2 >= len)
        return -1;
    for (size_t i = 1; i < n - 1; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
            return -1;
    memcpy(name, p + 1, n - 2);
    name[n - 2] = 0;
    return 0;
}

static config_his *his_get(config *cfg, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nhis; i++)
        if (strcmp(cfg->his[i].name, name) == 0)
            return &cfg->his[i];
    if (cfg->nhis == CONFIG_MAX_HIS) {
        snprintf(err, errlen, "more than %d [his] sections", CONFIG_MAX_HIS);
        return NULL;
    }
    config_his *h = &cfg->his[cfg->nhis];
    memset(h, 0, sizeof *h);
    h->session_idle = 900;
    if (!(h->name = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cfg->nhis++;
    return h;
}

/* An origin: scheme http or https, a host, an optional port, no path. */
static int origin_valid(const char *v)
{
    const char *p = !strncmp(v, "https://", 8) ? v + 8 : !strncmp(v, "http://", 7) ? v + 7 : NULL;
    if (!p || !*p || strlen(v) > 255)
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
            return 0;
    return 1;
}

static int set_value(config_his *h, const char *key, const char *value, char *why, size_t len)
{
    if (!strcmp(key, "key_file") || !strcmp(key, "origin")) {
        if (!*value || strlen(value) > 4000 || (!strcmp(key, "origin") && !origin_valid(value))) {
            snprintf(why, len,
                     !strcmp(key, "origin") ? "not an origin (https://host[:port])"
                                            : "empty or too long");
            return -1;
        }
        char **slot = !strcmp(key, "key_file") ? &h->key_file : &h->origin;
        free(*slot);
        if (!(*slot = strdup(value)))
            return snprintf(why, len, "out of memory"), -1;
        return 0;
    }
    if (!strcmp(key, "session_idle")) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || *end || end == value || v < 30 || v > 86400)
            return snprintf(why, len, "seconds, 30..86400"), -1;
        h->session_idle = v;
        return 0;
    }
    if (!strcmp(key, "allow_plain_http")) {
        int yes = !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1");
        int no = !strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0");
        if (!yes && !no)
            return snprintf(why, len, "yes or no"), -1;
        h->allow_plain_http = yes;
        return 0;
    }
    snprintf(why, len, "unknown key (key_file, origin, session_idle, allow_plain_http)");
    return -1;
}

int config__his_set(config *cfg, const char *section, const char *key, const char *value, char *err,
                    size_t errlen)
{
    char name[65], why[160];
    if (section_name(section, name, sizeof name) < 0) {
        snprintf(err, errlen, "[%s]: a his section is [his \"NAME\"] (NAME: 1-64 of A-Za-z0-9._-)",
                 section);
        return -1;
    }
    config_his *h = his_get(cfg, name, err, errlen);
    if (!h)
        return -1;
    if (set_value(h, key, value, why, sizeof why) < 0) {
        snprintf(err, errlen, "[his \"%s\"] %s: %s", name, key, why);
        return -1;
    }
    return 0;
}

int config__his_validate(const config *cfg, char *err, size_t errlen)
{
    const char *where = cfg->path ? cfg->path : "configuration";
    for (size_t i = 0; i < cfg->nhis; i++)
        if (!cfg->his[i].key_file) {
            snprintf(err, errlen, "%s: [his \"%s\"] needs key_file", where, cfg->his[i].name);
            return -1;
        }
    return 0;
}

const config_his *config_find_his(const config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nhis; i++)
        if (strcmp(cfg->his[i].name, name) == 0)
            return &cfg->his[i];
    return NULL;
}

void config__his_free(config *cfg)
{
    for (size_t i = 0; i < cfg->nhis; i++) {
        free(cfg->his[i].name);
        free(cfg->his[i].key_file);
        free(cfg->his[i].origin);
    }
    cfg->nhis = 0;
}
