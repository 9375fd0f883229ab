/* store_pg_put.c: a batch of directory entries into PostgreSQL: one transaction, one round trip
 * (libpq pipeline mode), set-based: BEGIN; lock the batch's institutions; read the versions held
 * for its keys; one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE that keeps the
 * higher version; COMMIT. Keys never span institutions (the institution is in the key), so the
 * per-institution advisory lock makes the versions read the ones the INSERT meets, and the
 * outcomes computed from them (store_pg_batch.c) are exact: those of huren_index_dir_put. */
#include "store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_CLASS "7809532" /* first key of pg_advisory_xact_lock: directory publishes */

/* Institutions in sorted order: two batches never wait for each other crosswise. */
const char pg_lock_sql[] = "SELECT pg_advisory_xact_lock(" LOCK_CLASS ", hashtext(i))"
                           " FROM (SELECT DISTINCT i FROM unnest($1::text[]) AS i ORDER BY i) s";

/* One row per key held: its place among the keys (1-based) and its version. */
const char pg_held_sql[] =
    "SELECT k.n, d.version FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
    " AS k(p, i, r, n) JOIN dir_entries d ON d.pseudonym = k.p AND d.institution = k.i"
    " AND d.record_key = k.r";

const char pg_put_sql[] =
    "INSERT INTO dir_entries AS d (pseudonym, institution, record_key, version, kind,"
    " item_code, item_name, modality, body_part, item_date, hr, hr_scope, qualified_from,"
    " qualified_to, source_url, deleted, status, revision, images, report, report_key,"
    " received_at) SELECT u.*, now() FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],"
    " $11::boolean[], $12::text[], $13::text[], $14::text[], $15::text[], $16::boolean[],"
    " $17::text[], $18::bigint[], $19::boolean[], $20::boolean[], $21::text[]) AS u"
    " ON CONFLICT (pseudonym, institution, record_key) DO UPDATE SET"
    " version=EXCLUDED.version, kind=EXCLUDED.kind, item_code=EXCLUDED.item_code,"
    " item_name=EXCLUDED.item_name, modality=EXCLUDED.modality, body_part=EXCLUDED.body_part,"
    " item_date=EXCLUDED.item_date, hr=EXCLUDED.hr, hr_scope=EXCLUDED.hr_scope,"
    " qualified_from=EXCLUDED.qualified_from, qualified_to=EXCLUDED.qualified_to,"
    " source_url=EXCLUDED.source_url, deleted=EXCLUDED.deleted, status=EXCLUDED.status,"
    " revision=EXCLUDED.revision, images=EXCLUDED.images, report=EXCLUDED.report,"
    " report_key=EXCLUDED.report_key, received_at=EXCLUDED.received_at"
    " WHERE d.version < EXCLUDED.version";

/* One statement's answer: its result (status want), then the NULL that ends it. NULL with err
 * (and the failed result in *failed, for its SQLSTATE) otherwise. */
static PGresult *answer(PGconn *c, ExecStatusType want, const char *what, char *err, size_t errlen,
                        PGresult **failed)
{
    PGresult *r = PQgetResult(c);
    if (PQresultStatus(r) != want) {
        pg_error(c, r, what, err, errlen);
        PQclear(*failed);
        *failed = r;
        return NULL;
    }
    PGresult *end = PQgetResult(c);
    if (end) {
        PQclear(end);
        PQclear(r);
        snprintf(err, errlen, "%s: unexpected answer", what);
        return NULL;
    }
    return r;
}

static int command(PGconn *c, const char *what, char *err, size_t errlen, PGresult **failed)
{
    PGresult *r = answer(c, PGRES_COMMAND_OK, what, err, errlen, failed);
    PQclear(r);
    return r ? 0 : -1;
}

static int send_all(PGconn *c, const char *const key[3], const char *const col[PG_PUT_COLS])
{
    const char *inst[1] = {key[1]};
    return PQenterPipelineMode(c) && PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
           PQsendQueryPrepared(c, PG_STMT_LOCK, 1, inst, NULL, NULL, 0) &&
           PQsendQueryPrepared(c, PG_STMT_HELD, 3, key, NULL, NULL, 0) &&
           PQsendQueryPrepared(c, PG_STMT_PUT, PG_PUT_COLS, col, NULL, NULL, 0) &&
           PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c);
}

/* The versions held, into b->held by group. */
static void held_read(pg_batch *b, const PGresult *r)
{
    for (int row = 0; row < PQntuples(r); row++) {
        long g = strtol(PQgetvalue(r, row, 0), NULL, 10) - 1;
        if (g >= 0 && (size_t)g < b->ngroups)
            b->held[g] = strtoll(PQgetvalue(r, row, 1), NULL, 10);
    }
}

static int batch_run(PGconn *c, pg_batch *b, const char *const key[3],
                     const char *const col[PG_PUT_COLS], char *err, size_t errlen,
                     PGresult **failed)
{
    if (!send_all(c, key, col)) {
        pg_error(c, NULL, "sending the batch", err, errlen);
        return -1;
    }
    PGresult *r;
    if (command(c, "starting the batch", err, errlen, failed) < 0 ||
        !(r = answer(c, PGRES_TUPLES_OK, "locking the institution", err, errlen, failed)))
        return -1;
    PQclear(r);
    if (!(r = answer(c, PGRES_TUPLES_OK, "reading the versions held", err, errlen, failed)))
        return -1;
    held_read(b, r);
    PQclear(r);
    if (command(c, "storing directory entries", err, errlen, failed) < 0 ||
        command(c, "committing the batch", err, errlen, failed) < 0)
        return -1;
    r = PQgetResult(c);
    int synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || !PQexitPipelineMode(c)) {
        pg_error(c, NULL, "ending the batch", err, errlen);
        return -1;
    }
    pg_batch_outcomes(b);
    return 0;
}

/* Run the batch on a connection of the write pool. One that sat idle may have broken meanwhile
 * (server restarted, failed over): once more on a new one (the batch is idempotent). */
static int batch_try(pg_store *s, pg_batch *b, const char *const key[3],
                     const char *const col[PG_PUT_COLS], char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        PGconn *c = NULL;
        int fresh, slot = pg_pool_get(&s->write, &c, &fresh, err, errlen);
        if (slot < 0)
            return slot;
        PGresult *failed = NULL;
        memset(b->held, 0, b->ngroups * sizeof(*b->held));
        int rc = batch_run(c, b, key, col, err, errlen, &failed);
        int broken = rc < 0 && pg_conn_broken(c, failed);
        /* A failed pipeline leaves the connection mid-protocol: close it rather than drain
         * it (failures are rare: the entries were checked). Nothing is stored unless COMMIT
         * answered. */
        pg_pool_put(&s->write, slot, rc < 0);
        PQclear(failed);
        if (rc == 0)
            return 0;
        if (!broken || fresh || attempt > 0)
            return DIRECTORY_STORE_EUNAVAIL;
    }
}

/* Build the parameters, then run the batch. */
static int batch_store(pg_store *s, pg_batch *b, char *err, size_t errlen)
{
    huren_buf key[3], col[PG_PUT_COLS];
    const char *kv[3], *cv[PG_PUT_COLS];
    int rc = DIRECTORY_STORE_ERROR;
    memset(key, 0, sizeof key);
    memset(col, 0, sizeof col);
    if (pg_batch_keys(b, key) < 0 || pg_batch_rows(b, col) < 0) {
        snprintf(err, errlen, "out of memory (a batch of %zu entries)", b->nvalid);
        goto done;
    }
    for (int i = 0; i < 3; i++)
        kv[i] = key[i].data;
    for (int i = 0; i < PG_PUT_COLS; i++)
        cv[i] = col[i].data;
    rc = batch_try(s, b, kv, cv, err, errlen);
done:
    for (int i = 0; i < 3; i++)
        huren_buf_free(&key[i]);
    for (int i = 0; i < PG_PUT_COLS; i++)
        huren_buf_free(&col[i]);
    return rc;
}

int pg_put(pg_store *s, const huren_index_dir_entry *entries, size_t n,
           huren_index_dir_result *results, char *err, size_t errlen)
{
    pg_batch b;
    int rc = 0;
    if (pg_batch_init(&b, entries, n, results) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = DIRECTORY_STORE_ERROR;
    } else if (b.nvalid > 0) {
        rc = batch_store(s, &b, err, errlen);
    }
    pg_batch_free(&b);
    return rc;
}
