/* store_pg.c: the directory's store on PostgreSQL (libpq): opening (schema migrated on the
 * primary first), the two pools (publishes to dsn, lookups to read_dsn when given), stats. */
#include "store_pg_int.h"

#include <stdlib.h>
#include <string.h>

static int pgs_put(directory_store *base, const huren_index_dir_entry *entries, size_t n,
                   huren_index_dir_result *results, char *err, size_t errlen)
{
    return pg_put((pg_store *)base, entries, n, results, err, errlen);
}

static int pgs_find(directory_store *base, const char *pseudonym, const huren_index_dir_filter *f,
                    size_t limit, huren_index_dir_list *out, char *err, size_t errlen)
{
    return pg_find((pg_store *)base, pseudonym, f, limit, out, err, errlen);
}

static void pool_stats(pg_pool *p, directory_store_stats *out)
{
    if (!p->conns)
        return;
    pthread_mutex_lock(&p->mu);
    out->busy += p->nbusy;
    pthread_mutex_unlock(&p->mu);
    out->open += atomic_load(&p->nopen);
    out->failures += atomic_load(&p->failures);
    uint64_t connects = atomic_load(&p->connects);
    out->reconnects += connects > 1 ? connects - 1 : 0;
}

static void pgs_stats(directory_store *base, directory_store_stats *out)
{
    pg_store *s = (pg_store *)base;
    out->pool = s->write.size;
    pool_stats(&s->write, out);
    if (s->has_read)
        pool_stats(&s->read, out);
}

static void pgs_close(directory_store *base)
{
    pg_store *s = (pg_store *)base;
    pg_pool_destroy(&s->write);
    if (s->has_read)
        pg_pool_destroy(&s->read);
    free(s);
}

static const directory_store_ops pg_ops = {
    .name = "postgresql",
    .put = pgs_put,
    .find = pgs_find,
    .list_free = pg_list_free,
    .stats = pgs_stats,
    .close = pgs_close,
};

/* Migrate on a connection of its own, before the pools prepare statements on the tables. */
static int migrate(const char *dsn, char *err, size_t errlen)
{
    PGconn *c = pg_connect(dsn);
    int rc;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg_error(c, NULL, "connecting to PostgreSQL (dsn)", err, errlen);
        rc = DIRECTORY_STORE_EUNAVAIL;
    } else {
        rc = pg_schema_migrate(c, err, errlen);
    }
    PQfinish(c);
    return rc;
}

int directory_store__pg_open(const directory_store_options *o, directory_store **out, char *err,
                             size_t errlen)
{
    if (!o->dsn || !*o->dsn) {
        snprintf(err, errlen, "[directory] store = postgresql needs dsn");
        return DIRECTORY_STORE_EINVAL;
    }
    if (directory_store_dsn_check(o->dsn, "dsn", err, errlen) < 0 ||
        (o->read_dsn && *o->read_dsn &&
         directory_store_dsn_check(o->read_dsn, "read_dsn", err, errlen) < 0))
        return DIRECTORY_STORE_EINVAL;
    int rc = migrate(o->dsn, err, errlen);
    if (rc < 0)
        return rc;
    pg_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return DIRECTORY_STORE_ERROR;
    }
    s->base.ops = &pg_ops;
    s->has_read = o->read_dsn && *o->read_dsn;
    rc = pg_pool_init(&s->write, o->dsn, "dsn", o->pool, o->statement_timeout_ms,
                      PG_PREPARE_PUT | PG_PREPARE_FIND, err, errlen);
    if (rc == 0 && s->has_read)
        rc = pg_pool_init(&s->read, o->read_dsn, "read_dsn", o->pool, o->statement_timeout_ms,
                          PG_PREPARE_FIND, err, errlen);
    if (rc < 0) {
        s->has_read = s->has_read && s->read.conns;
        pgs_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
