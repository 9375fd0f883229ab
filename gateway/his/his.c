/* his.c: the HIS feature's start and stop: the keys of the [his] sections read once (a key
 * never sits in the configuration file itself), the nonce store and the session store. */
#include "his.h"
#include "his_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS_MAX 1024

static int key_load(his_key *k, const config_his *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->key_file, "rb");
    if (!f) {
        snprintf(err, errlen, "[his \"%s\"] key_file %s: %s", c->name, c->key_file,
                 strerror(errno));
        return -1;
    }
    k->his = c;
    k->len = fread(k->key, 1, sizeof k->key, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (k->len < 32 || more) {
        snprintf(err, errlen, "[his \"%s\"] key_file %s: 32 to %d bytes expected", c->name,
                 c->key_file, HIS_KEY_MAX);
        return -1;
    }
    return 0;
}

int his_start(node *n, char *err, size_t errlen)
{
    const config *cfg = n->cfg;
    if (!cfg->nhis)
        return 0;
    his_ctx *h = calloc(1, sizeof *h);
    if (!h || !(h->sessions = http_sessions_new(SESSIONS_MAX))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->nonces.fd = -1;
    for (size_t i = 0; i < cfg->nhis; i++)
        if (key_load(&h->keys[h->nkeys++], &cfg->his[i], err, errlen) < 0)
            goto fail;
    char path[4096];
    snprintf(path, sizeof path, "%s/his-nonces", cfg->data_dir);
    if (his__nonces_open(&h->nonces, path, err, errlen) < 0)
        goto fail;
    n->his = h;
    return 0;
fail:
    memset(h->keys, 0, sizeof h->keys);
    http_sessions_free(h->sessions);
    free(h);
    return -1;
}

void his_stop(node *n)
{
    his_ctx *h = n ? n->his : NULL;
    if (!h)
        return;
    his__nonces_close(&h->nonces);
    http_sessions_free(h->sessions);
    memset(h->keys, 0, sizeof h->keys);
    free(h);
    n->his = NULL;
}

struct http_sessions *his_sessions(const node *n)
{
    return n->his ? n->his->sessions : NULL;
}
