/* arena.c: a string arena for query results. The report and visit records handed to callers
 * point into it, so a whole answer is released with one free call. Allocation failure is
 * sticky (oom), checked once when the answer is complete. */
#include "index_int.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 8192

typedef struct block {
    struct block *next;
    size_t used, cap;
    char data[];
} block;

struct huren_index__arena {
    block *head;
    int oom;
};

huren_index__arena *huren_index__arena_new(void)
{
    return calloc(1, sizeof(huren_index__arena));
}

void *huren_index__arena_alloc(huren_index__arena *a, size_t n)
{
    if (!a || a->oom)
        return NULL;
    n = (n + 7) & ~(size_t)7;
    block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        if (!(b = malloc(sizeof(block) + cap))) {
            a->oom = 1;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

const char *huren_index__arena_str(huren_index__arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = huren_index__arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

int huren_index__arena_oom(const huren_index__arena *a)
{
    return !a || a->oom;
}

void huren_index__arena_free(huren_index__arena *a)
{
    if (!a)
        return;
    while (a->head) {
        block *b = a->head;
        a->head = b->next;
        free(b);
    }
    free(a);
}

void *huren_index__arena_push(huren_index__arena *a, void **items, size_t *n, size_t *cap,
                              size_t elem)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        char *grown = huren_index__arena_alloc(a, ncap * elem);
        if (!grown)
            return NULL;
        if (*items)
            memcpy(grown, *items, *cap * elem);
        *items = grown;
        *cap = ncap;
    }
    return (char *)*items + (*n)++ * elem;
}
