/* store_pg_put.c: a batch of directory entries into PostgreSQL in one transaction and three
 * round trips: BEGIN and COPY of the batch's rows (one per key, store_pg_batch.c) into the
 * connection's staging table; then, pipelined, the lock of the batch's institutions, the read
 * of the versions held for its keys, one INSERT ... SELECT ... ON CONFLICT DO UPDATE keeping
 * the higher version, and COMMIT. Keys never span institutions (the institution is in the key),
 * so the per-institution advisory lock makes the versions read the ones the INSERT meets, and
 * the outcomes computed from them (store_pg_batch.c) are exact: those of huren_index_dir_put.
 *
 * The read goes partition by partition: PostgreSQL 15 plans a join of the staging table with
 * the partitioned dir_entries as a scan of every partition (a hash join: seconds at 10 M
 * entries) or, per key, a re-scan of the partitions' Append (about 3 ms a key); a join with
 * each partition of the keys that go there is an index probe per key. INSERT ... RETURNING
 * cannot replace the read: it shows the new row only (no xmax on a partitioned table) and
 * nothing of the rows it leaves. */
#include "store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_CLASS "7809532" /* first key of pg_advisory_xact_lock: directory publishes */
#define STAGE "huren_dir_stage"

/* dir_entries' columns as COPY sends them, the group's number first (received_at: NULL, or
 * YYYYMMDDHHMMSS in UTC as the SQLite index keeps it); part: the partition of dir_entries the
 * key goes to. */
const char pg_stage_sql[] =
    "CREATE TEMPORARY TABLE " STAGE " (n integer NOT NULL, pseudonym text COLLATE \"C\","
    " institution text COLLATE \"C\", record_key text COLLATE \"C\", version bigint,"
    " kind text COLLATE \"C\", item_code text COLLATE \"C\", item_name text, modality text,"
    " body_part text, item_date text COLLATE \"C\", hr boolean, hr_scope text,"
    " qualified_from text, qualified_to text, source_url text, deleted boolean, status text,"
    " revision bigint, images boolean, report boolean, report_key text, received_at text,"
    " part integer GENERATED ALWAYS AS (" PG_PART_EXPR("pseudonym") ") STORED)"
                                                                    " ON COMMIT DELETE ROWS";

/* The read takes each partition's keys by it. */
const char pg_stage_index_sql[] = "CREATE INDEX ON " STAGE " (part)";

static const char copy_sql[] = "BEGIN; COPY " STAGE " FROM STDIN";

/* Institutions in sorted order: two batches never wait for each other crosswise. */
const char pg_lock_sql[] = "SELECT pg_advisory_xact_lock(" LOCK_CLASS ", hashtext(i))"
                           " FROM (SELECT DISTINCT institution AS i FROM " STAGE " ORDER BY 1) s";

const char pg_put_sql[] =
    "INSERT INTO dir_entries AS d (pseudonym, institution, record_key, version, kind,"
    " item_code, item_name, modality, body_part, item_date, hr, hr_scope, qualified_from,"
    " qualified_to, source_url, deleted, status, revision, images, report, report_key,"
    " received_at) SELECT pseudonym, institution, record_key, version, kind, item_code,"
    " item_name, modality, body_part, item_date, hr, hr_scope, qualified_from, qualified_to,"
    " source_url, deleted, status, revision, images, report, report_key,"
    " coalesce(to_timestamp(received_at, 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE 'UTC',"
    " now()) FROM " STAGE " ON CONFLICT (pseudonym, institution, record_key) DO UPDATE SET"
    " version=EXCLUDED.version, kind=EXCLUDED.kind, item_code=EXCLUDED.item_code,"
    " item_name=EXCLUDED.item_name, modality=EXCLUDED.modality, body_part=EXCLUDED.body_part,"
    " item_date=EXCLUDED.item_date, hr=EXCLUDED.hr, hr_scope=EXCLUDED.hr_scope,"
    " qualified_from=EXCLUDED.qualified_from, qualified_to=EXCLUDED.qualified_to,"
    " source_url=EXCLUDED.source_url, deleted=EXCLUDED.deleted, status=EXCLUDED.status,"
    " revision=EXCLUDED.revision, images=EXCLUDED.images, report=EXCLUDED.report,"
    " report_key=EXCLUDED.report_key, received_at=EXCLUDED.received_at"
    " WHERE d.version < EXCLUDED.version";

/* One row per key held: its group's number and the version. */
int pg_held_sql(huren_buf *out)
{
    huren_buf_init(out, 0);
    for (int i = 0; i < PG_PARTITIONS; i++)
        huren_buf_printf(out,
                         "%sSELECT s.n, d.version FROM " STAGE " s JOIN dir_entries_p%02d d"
                         " ON d.pseudonym = s.pseudonym AND d.institution = s.institution"
                         " AND d.record_key = s.record_key WHERE s.part = %d",
                         i ? " UNION ALL " : "", i, i);
    return out->failed ? -1 : 0;
}

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

/* BEGIN, then the rows into the staging table. */
static int copy_rows(PGconn *c, const huren_buf *rows, char *err, size_t errlen, PGresult **failed)
{
    if (!PQsendQuery(c, copy_sql)) {
        pg_error(c, NULL, "sending the batch", err, errlen);
        return -1;
    }
    PGresult *r = PQgetResult(c);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok) {
        PQclear(r);
        r = PQgetResult(c);
        ok = PQresultStatus(r) == PGRES_COPY_IN;
    }
    if (!ok) {
        pg_error(c, r, "starting the batch", err, errlen);
        PQclear(*failed);
        *failed = r;
        return -1;
    }
    PQclear(r);
    if (PQputCopyData(c, rows->data, (int)rows->len) != 1 || PQputCopyEnd(c, NULL) != 1) {
        pg_error(c, NULL, "sending the batch's rows", err, errlen);
        return -1;
    }
    return command(c, "copying the batch's rows", err, errlen, failed);
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

/* Pipelined: lock, read, write, COMMIT. */
static int write_rows(PGconn *c, pg_batch *b, char *err, size_t errlen, PGresult **failed)
{
    if (!PQenterPipelineMode(c) || !PQsendQueryPrepared(c, PG_STMT_LOCK, 0, NULL, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, PG_STMT_HELD, 0, NULL, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, PG_STMT_PUT, 0, NULL, NULL, NULL, 0) ||
        !PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c)) {
        pg_error(c, NULL, "sending the batch", err, errlen);
        return -1;
    }
    PGresult *r;
    if (!(r = answer(c, PGRES_TUPLES_OK, "locking the institution", err, errlen, failed)))
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

static int batch_run(PGconn *c, pg_batch *b, const huren_buf *rows, char *err, size_t errlen,
                     PGresult **failed)
{
    if (copy_rows(c, rows, err, errlen, failed) < 0)
        return -1;
    return write_rows(c, b, err, errlen, failed);
}

/* Run the batch on a connection of the write pool. One that sat idle may have broken meanwhile
 * (server restarted, failed over): once more on a new one (the batch is idempotent). */
static int batch_try(pg_store *s, pg_batch *b, const huren_buf *rows, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        PGconn *c = NULL;
        int fresh, slot = pg_pool_get(&s->write, &c, &fresh, err, errlen);
        if (slot < 0)
            return slot;
        PGresult *failed = NULL;
        memset(b->held, 0, b->ngroups * sizeof(*b->held));
        int rc = batch_run(c, b, rows, err, errlen, &failed);
        int broken = rc < 0 && pg_conn_broken(c, failed);
        /* A failed batch leaves the connection mid-protocol: close it rather than drain
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

/* Build the COPY data, then run the batch. */
static int batch_store(pg_store *s, pg_batch *b, char *err, size_t errlen)
{
    huren_buf rows;
    int rc = DIRECTORY_STORE_ERROR;
    if (pg_batch_copy(b, &rows) < 0)
        snprintf(err, errlen, "out of memory (a batch of %zu entries)", b->nvalid);
    else
        rc = batch_try(s, b, &rows, err, errlen);
    huren_buf_free(&rows);
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
