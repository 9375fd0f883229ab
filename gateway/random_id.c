/* random_id.c: identifiers that must not be guessed, from getrandom(2). No fallback to rand()
 * or the time on purpose: a predictable claim or retrieval id is worse than a refused request. */
#include "random_id.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

static int os_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        /* blocks only until the kernel's pool is first initialised, early at boot */
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int (*source)(void *buf, size_t n) = os_random;

void random_id__set_source(int (*s)(void *buf, size_t n))
{
    source = s ? s : os_random;
}

int random_bytes(void *buf, size_t n)
{
    return source(buf, n) == 0 ? 0 : -1;
}

int random_id(char out[RANDOM_ID_LEN])
{
    unsigned char b[RANDOM_ID_BYTES];
    out[0] = 0;
    if (random_bytes(b, sizeof b) < 0)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * sizeof b] = 0;
    return 0;
}
