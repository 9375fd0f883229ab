/* store_pg_find.c: one pseudonym's entries from PostgreSQL (the read pool when read_dsn is
 * set: a standby), in huren_index_dir_find's order: date (absent last), then arrival, then
 * institution and record key. The answer's strings stay in the PGresult the list keeps. Also
 * the statements every connection prepares. */
#include "store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#define NCOLS 22

static const char find_sql[] =
    "SELECT pseudonym, institution, record_key, version, kind, item_code, item_name, modality,"
    " body_part, item_date, hr, hr_scope, qualified_from, qualified_to, source_url, deleted,"
    " to_char(received_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS'), status, revision, images,"
    " report, report_key FROM dir_entries WHERE pseudonym=$1 AND ($2::text IS NULL OR kind=$2)"
    " AND ($3::text IS NULL OR item_code=$3) AND ($4::text IS NULL OR item_date>=$4)"
    " AND ($5::boolean OR NOT deleted)"
    " ORDER BY item_date DESC NULLS LAST, received_at DESC, institution, record_key LIMIT $6";

typedef struct pg_list {
    PGresult *res;
    huren_index_dir_entry items[];
} pg_list;

int pg_prepare(PGconn *c, int prepare, char *err, size_t errlen)
{
    static const struct {
        int bit;
        const char *name, *sql;
    } stmts[] = {{PG_PREPARE_PUT, PG_STMT_LOCK, pg_lock_sql},
                 {PG_PREPARE_PUT, PG_STMT_HELD, pg_held_sql},
                 {PG_PREPARE_PUT, PG_STMT_PUT, pg_put_sql},
                 {PG_PREPARE_FIND, PG_STMT_FIND, find_sql}};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        if (!(prepare & stmts[i].bit))
            continue;
        PGresult *r = PQprepare(c, stmts[i].name, stmts[i].sql, 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            pg_error(c, r, "preparing the directory's statements", err, errlen);
        PQclear(r);
        if (!ok)
            return DIRECTORY_STORE_ERROR;
    }
    return 0;
}

static const char *col(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
}

static int flag(const PGresult *r, int row, int i)
{
    return !PQgetisnull(r, row, i) && PQgetvalue(r, row, i)[0] == 't';
}

static int64_t num(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? 0 : strtoll(PQgetvalue(r, row, i), NULL, 10);
}

static void row_read(const PGresult *r, int row, huren_index_dir_entry *e)
{
    e->pseudonym = col(r, row, 0);
    e->institution = col(r, row, 1);
    e->record_key = col(r, row, 2);
    e->version = num(r, row, 3);
    e->kind = col(r, row, 4);
    e->item_code = col(r, row, 5);
    e->item_name = col(r, row, 6);
    e->modality = col(r, row, 7);
    e->body_part = col(r, row, 8);
    e->date = col(r, row, 9);
    e->hr = flag(r, row, 10);
    e->hr_scope = col(r, row, 11);
    e->qualified_from = col(r, row, 12);
    e->qualified_to = col(r, row, 13);
    e->source_url = col(r, row, 14);
    e->deleted = flag(r, row, 15);
    e->received_at = col(r, row, 16);
    e->status = col(r, row, 17);
    e->revision = num(r, row, 18);
    e->images = flag(r, row, 19) ? 1 : -1;
    e->report = flag(r, row, 20) ? 1 : -1;
    e->report_key = col(r, row, 21);
}

/* The list over r (which it keeps), or NULL when out of memory. */
static pg_list *list_make(PGresult *r, size_t limit, huren_index_dir_list *out)
{
    size_t rows = (size_t)PQntuples(r), n = rows > limit ? limit : rows;
    pg_list *l = malloc(sizeof(*l) + (n + 1) * sizeof(l->items[0]));
    if (!l)
        return NULL;
    memset(l->items, 0, (n + 1) * sizeof(l->items[0]));
    l->res = r;
    for (size_t i = 0; i < n; i++)
        row_read(r, (int)i, &l->items[i]);
    out->items = l->items;
    out->n = n;
    out->truncated = rows > limit;
    out->arena_ = l;
    return l;
}

int pg_find(pg_store *s, const char *pseudonym, const huren_index_dir_filter *f, size_t limit,
            huren_index_dir_list *out, char *err, size_t errlen)
{
    pg_pool *p = s->has_read ? &s->read : &s->write;
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", limit + 1); /* one more tells of truncation */
    const char *v[6] = {pseudonym,
                        f->kind && *f->kind ? f->kind : NULL,
                        f->item_code && *f->item_code ? f->item_code : NULL,
                        f->since && *f->since ? f->since : NULL,
                        f->include_deleted ? "t" : "f",
                        lim};
    PGresult *r = NULL;
    int slot, fresh;
    PGconn *c = NULL;
    /* A connection that sat idle may have broken meanwhile (server restarted, failed over):
     * once more on a new one before failing. */
    for (int attempt = 0;; attempt++) {
        if ((slot = pg_pool_get(p, &c, &fresh, err, errlen)) < 0)
            return slot;
        r = PQexecPrepared(c, PG_STMT_FIND, 6, v, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQnfields(r) == NCOLS)
            break;
        pg_error(c, r, "reading the directory", err, errlen);
        int broken = pg_conn_broken(c, r);
        pg_pool_put(p, slot, broken);
        PQclear(r);
        if (!broken || fresh || attempt > 0)
            return DIRECTORY_STORE_EUNAVAIL;
    }
    pg_pool_put(p, slot, 0);
    if (!list_make(r, limit, out)) {
        PQclear(r);
        snprintf(err, errlen, "out of memory");
        return DIRECTORY_STORE_ERROR;
    }
    return (int)out->n;
}

void pg_list_free(huren_index_dir_list *list)
{
    pg_list *l = list->arena_;
    if (l) {
        PQclear(l->res);
        free(l);
    }
    memset(list, 0, sizeof(*list));
}
