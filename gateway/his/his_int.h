/* his_int.h: the HIS feature's state, shared by the files of gateway/his/ only. */
#ifndef HUREN_GATEWAY_HIS_INT_H
#define HUREN_GATEWAY_HIS_INT_H

#include "config.h"
#include "http/session.h"

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#define HIS_KEY_MAX 256
#define HIS_NONCES_MAX 100000 /* launches remembered at once (5 minutes' worth) */

typedef struct his_key {
    const config_his *his;
    unsigned char key[HIS_KEY_MAX];
    size_t len;
} his_key;

typedef struct his_nonce {
    char text[129]; /* "HIS NONCE" */
    time_t exp;
} his_nonce;

typedef struct his_nonces {
    pthread_mutex_t mu;
    his_nonce *v;
    size_t n;
    int fd; /* the append-only file, one "exp his nonce" line per launch */
    char path[4096];
} his_nonces;

typedef struct his_ctx {
    his_key keys[CONFIG_MAX_HIS];
    size_t nkeys;
    his_nonces nonces;
    http_sessions *sessions;
} his_ctx;

/* nonce.c: open the store at path (the lines still in force are read back, the file
 * rewritten with them). Returns 0, or -1 with err. */
int his__nonces_open(his_nonces *st, const char *path, char *err, size_t errlen);
void his__nonces_close(his_nonces *st);
/* Remember nonce of his until exp: 1 when new (written and synced to disk), 0 when already
 * seen (a replay), -1 when it cannot be kept (disk, or the store full). */
int his__nonce_use(his_nonces *st, const char *his, const char *nonce, time_t exp);

/* b64url.c: decode base64url (no padding) of n bytes into out (at most max bytes): the length,
 * or -1 when not base64url or too long. */
long his__b64url_decode(const char *in, size_t n, unsigned char *out, size_t max);

#endif
