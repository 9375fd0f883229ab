/* store_sqlite.c: the directory's default store, the node's own SQLite index
 * (huren_index_dir_put/find in index/directory.c, unchanged). */
#include "store_int.h"

#include <stdatomic.h>
#include <stdlib.h>

typedef struct sqlite_store {
    directory_store base;
    huren_index *idx;
    atomic_uint_fast64_t failures;
} sqlite_store;

/* The index's codes as the store's: a bad input, or the database could not do it now. */
static int code_of(sqlite_store *s, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", huren_index_errmsg(s->idx));
    if (rc == HUREN_INDEX_EINVAL)
        return DIRECTORY_STORE_EINVAL;
    atomic_fetch_add(&s->failures, 1);
    return DIRECTORY_STORE_EUNAVAIL;
}

static int sqlite_put(directory_store *base, const huren_index_dir_entry *entries, size_t n,
                      huren_index_dir_result *results, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    int rc = huren_index_dir_put(s->idx, entries, n, results);
    return rc < 0 ? code_of(s, rc, err, errlen) : 0;
}

static int sqlite_find(directory_store *base, const char *pseudonym,
                       const huren_index_dir_filter *f, size_t limit, huren_index_dir_list *out,
                       char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    huren_index_dir_filter lf = *f;
    lf.limit = limit;
    int rc = huren_index_dir_find(s->idx, pseudonym, &lf, out);
    return rc < 0 ? code_of(s, rc, err, errlen) : rc;
}

static void sqlite_stats(directory_store *base, directory_store_stats *out)
{
    out->failures = atomic_load(&((sqlite_store *)base)->failures);
}

static void sqlite_close(directory_store *base)
{
    free(base); /* the index belongs to the node */
}

static const directory_store_ops sqlite_ops = {
    .name = "sqlite",
    .put = sqlite_put,
    .find = sqlite_find,
    .list_free = huren_index_dir_list_free,
    .stats = sqlite_stats,
    .close = sqlite_close,
};

int directory_store__sqlite_open(const directory_store_options *o, directory_store **out, char *err,
                                 size_t errlen)
{
    if (!o->index) {
        snprintf(err, errlen, "the SQLite directory store needs the node's index");
        return DIRECTORY_STORE_EINVAL;
    }
    sqlite_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return DIRECTORY_STORE_ERROR;
    }
    s->base.ops = &sqlite_ops;
    s->idx = o->index;
    *out = &s->base;
    return 0;
}
