/* ratelimit.c: per-key token buckets in a fixed table under one mutex. The number of insurers
 * a hospital deals with is small (tens), so a linear scan is cheaper than anything cleverer. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64

typedef struct bucket {
    char key[KEY_MAX + 1];
    double tokens;
    double last; /* when tokens was computed */
    int used;
} bucket;

struct ratelimit {
    pthread_mutex_t lock;
    double per_second, burst;
    size_t n;
    bucket *b;
};

ratelimit *ratelimit_new(double per_minute, double burst, size_t slots)
{
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl || !(rl->b = calloc(slots ? slots : 1, sizeof *rl->b))) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->per_second = per_minute / 60.0;
    rl->burst = burst < 1 ? 1 : burst;
    rl->n = slots ? slots : 1;
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->b);
    free(rl);
}

static bucket *slot(ratelimit *rl, const char *key, double now)
{
    bucket *idle = NULL;
    for (size_t i = 0; i < rl->n; i++) {
        bucket *b = &rl->b[i];
        if (b->used && strncmp(b->key, key, KEY_MAX) == 0)
            return b;
        if (!idle || !b->used || (idle->used && b->last < idle->last))
            idle = b;
    }
    /* a reused slot starts full, like any key never seen */
    memset(idle, 0, sizeof *idle);
    strncpy(idle->key, key, KEY_MAX);
    idle->tokens = rl->burst;
    idle->last = now;
    idle->used = 1;
    return idle;
}

int ratelimit_take(ratelimit *rl, const char *key, double now_s, double *retry_after_s)
{
    int ok;
    pthread_mutex_lock(&rl->lock);
    bucket *b = slot(rl, key ? key : "", now_s);
    if (now_s > b->last) {
        b->tokens += (now_s - b->last) * rl->per_second;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last = now_s;
    }
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_after_s)
        *retry_after_s = rl->per_second > 0 ? (1.0 - b->tokens) / rl->per_second : 60.0;
    pthread_mutex_unlock(&rl->lock);
    return ok;
}
