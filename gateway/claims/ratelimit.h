/* ratelimit.h: token buckets keyed by a short name (an insurer's institution code): each key
 * may spend `burst` requests at once and regains `per_minute` of them a minute. A fixed table,
 * so that a flood of new keys cannot grow memory: when full, the longest-idle key is reused. */
#ifndef HUREN_GATEWAY_RATELIMIT_H
#define HUREN_GATEWAY_RATELIMIT_H

#include <stddef.h>

typedef struct ratelimit ratelimit;

/* per_minute > 0, burst >= 1, slots >= 1. Returns NULL when out of memory. */
ratelimit *ratelimit_new(double per_minute, double burst, size_t slots);
void ratelimit_free(ratelimit *rl); /* NULL-safe */

/* Take one token for key at time now_s (seconds, monotonic). Returns 1 if allowed, 0 if the
 * key's bucket is empty; *retry_after_s (if not NULL) then says when the next token comes.
 * Thread-safe. */
int ratelimit_take(ratelimit *rl, const char *key, double now_s, double *retry_after_s);

#endif
