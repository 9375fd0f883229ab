/* store_pg_prepare.c: what a new connection of the PostgreSQL store gets ready: the batch's
 * staging table and statements (the write pool) and the lookup (both pools). */
#include "store_pg_int.h"

static int exec_ok(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_error(c, r, what, err, errlen);
    PQclear(r);
    return ok ? 0 : DIRECTORY_STORE_ERROR;
}

/* The read of the versions held joins the staging table, which has no statistics (a temporary
 * table, never analysed), with each partition: planned while the partitions are small, a hash
 * join would scan them all. The write pool's other statements join nothing. */
static const char plan_sql[] = "SET enable_hashjoin = off; SET enable_mergejoin = off";

static int prepare_put(PGconn *c, char *err, size_t errlen)
{
    const char *what = "preparing the directory's statements";
    huren_buf held;
    if (exec_ok(c, PQexec(c, pg_stage_sql), "creating the batch's staging table", err, errlen) <
            0 ||
        exec_ok(c, PQexec(c, pg_stage_index_sql), "creating the batch's staging table", err,
                errlen) < 0 ||
        exec_ok(c, PQexec(c, plan_sql), "setting the batch's plan", err, errlen) < 0 ||
        exec_ok(c, PQprepare(c, PG_STMT_LOCK, pg_lock_sql, 0, NULL), what, err, errlen) < 0 ||
        exec_ok(c, PQprepare(c, PG_STMT_PUT, pg_put_sql, 0, NULL), what, err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    int rc = pg_held_sql(&held);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    else
        rc = exec_ok(c, PQprepare(c, PG_STMT_HELD, held.data, 0, NULL), what, err, errlen);
    huren_buf_free(&held);
    return rc;
}

int pg_prepare(PGconn *c, int prepare, char *err, size_t errlen)
{
    if ((prepare & PG_PREPARE_PUT) && prepare_put(c, err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    if ((prepare & PG_PREPARE_FIND) &&
        exec_ok(c, PQprepare(c, PG_STMT_FIND, pg_find_sql, 0, NULL),
                "preparing the directory's statements", err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    return 0;
}
