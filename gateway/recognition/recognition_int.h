/* recognition_int.h: the recognition feature's state and its HTTP client calls, shared by the
 * files of gateway/recognition/ only. */
#ifndef HUREN_GATEWAY_RECOGNITION_INT_H
#define HUREN_GATEWAY_RECOGNITION_INT_H

#include <stddef.h>

#include "catalogue.h"
#include "config.h"

#define REC_BODY_MAX (4 << 20)   /* bytes of one answer from the directory or a peer */
#define REC_PEER_TIMEOUT_MS 5000 /* one peer's metadata; a slower peer is "unavailable" */

typedef struct recognition {
    const config *cfg;
    catalogue *cat; /* owned */
    unsigned char key[CONFIG_REGION_KEY_MAX];
    size_t keylen;
    const char *cert, *key_file, *ca; /* client certificate towards directory and peers */
} recognition;

/* One GET: url in, status/body/error out. */
typedef struct rec_fetch {
    const char *url;
    long status; /* HTTP status, 0 when no answer */
    char *body;  /* NUL-terminated answer (owned; free with rec_fetch_clear) */
    size_t len;
    char error[200]; /* why there is no answer */
} rec_fetch;

/* Run the n GETs in parallel (libcurl multi, mTLS with rec's certificate), each bounded by
 * timeout_ms and REC_BODY_MAX. Returns 0 (each fetch has its own outcome), -1 when libcurl
 * cannot start. */
int rec_fetch_all(const recognition *rec, rec_fetch *f, size_t n, long timeout_ms);
void rec_fetch_clear(rec_fetch *f);

/* A query-string value escaped for a URL (caller frees), NULL when out of memory. */
char *rec_url_escape(const char *s);

#endif
