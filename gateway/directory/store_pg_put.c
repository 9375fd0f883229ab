/* store_pg_put.c: a batch of directory entries into PostgreSQL in one transaction, pipelined
 * (libpq pipeline mode: the statements go out in chunks, their answers are read back without a
 * round trip each). Each entry is one upsert that keeps the higher version and says what it
 * did, so outcomes are those of huren_index_dir_put: STORED, REPLACED, IGNORED with the version
 * held; entries run in order, so several versions of one record in a batch apply in turn. */
#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256 /* statements sent before their answers are read: bounds both sides' buffers */
#define NPARAMS 21

/* The CTE's INSERT is invisible to the outer SELECT (one snapshot): the version read there is
 * the one held before this entry. A row out of the CTE: written, new when nothing was held
 * (STORED) else REPLACED; none: IGNORED, and the version read is the one held. (A system
 * column such as xmax cannot be returned from a partitioned table.) */
const char pg_put_sql_text[] =
    "WITH up AS (INSERT INTO dir_entries AS d (pseudonym, institution, record_key, version, kind,"
    " item_code, item_name, modality, body_part, item_date, hr, hr_scope, qualified_from,"
    " qualified_to, source_url, deleted, status, revision, images, report, report_key,"
    " received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,"
    "$20,$21, now()) ON CONFLICT (pseudonym, institution, record_key) DO UPDATE SET"
    " version=EXCLUDED.version, kind=EXCLUDED.kind, item_code=EXCLUDED.item_code,"
    " item_name=EXCLUDED.item_name, modality=EXCLUDED.modality, body_part=EXCLUDED.body_part,"
    " item_date=EXCLUDED.item_date, hr=EXCLUDED.hr, hr_scope=EXCLUDED.hr_scope,"
    " qualified_from=EXCLUDED.qualified_from, qualified_to=EXCLUDED.qualified_to,"
    " source_url=EXCLUDED.source_url, deleted=EXCLUDED.deleted, status=EXCLUDED.status,"
    " revision=EXCLUDED.revision, images=EXCLUDED.images, report=EXCLUDED.report,"
    " report_key=EXCLUDED.report_key, received_at=EXCLUDED.received_at"
    " WHERE d.version < EXCLUDED.version RETURNING true AS written)"
    " SELECT (SELECT written FROM up), (SELECT version FROM dir_entries"
    " WHERE pseudonym=$1 AND institution=$2 AND record_key=$3)";

static const char *opt(const char *v)
{
    return v && *v ? v : NULL;
}

/* Has the exam this part? Given (1 yes, -1 no), or as its record key says (index/directory.c). */
static const char *part_of(int given, const char *record_key, const char *prefix)
{
    if (given)
        return given > 0 ? "t" : "f";
    return record_key && !strncmp(record_key, prefix, strlen(prefix)) ? "t" : "f";
}

static int send_entry(PGconn *c, const huren_index_dir_entry *e)
{
    char version[24], revision[24];
    snprintf(version, sizeof version, "%" PRId64, e->version);
    snprintf(revision, sizeof revision, "%" PRId64, e->revision);
    const char *v[NPARAMS] = {e->pseudonym,
                              e->institution,
                              e->record_key,
                              version,
                              e->kind ? e->kind : "",
                              opt(e->item_code),
                              opt(e->item_name),
                              opt(e->modality),
                              opt(e->body_part),
                              opt(e->date),
                              e->hr ? "t" : "f",
                              opt(e->hr_scope),
                              opt(e->qualified_from),
                              opt(e->qualified_to),
                              opt(e->source_url),
                              e->deleted ? "t" : "f",
                              opt(e->status),
                              e->revision > 0 ? revision : NULL,
                              part_of(e->images, e->record_key, "study:"),
                              part_of(e->report, e->record_key, "report:"),
                              opt(e->report_key)};
    return PQsendQueryPrepared(c, PG_STMT_PUT, NPARAMS, v, NULL, NULL, 0) ? 0 : -1;
}

/* One statement's answer: its result (status want), then the NULL that ends it. */
static PGresult *answer(PGconn *c, ExecStatusType want, const char *what, char *err, size_t errlen,
                        PGresult **failed)
{
    PGresult *r = PQgetResult(c);
    if (PQresultStatus(r) != want) {
        pg_error(c, r, what, err, errlen);
        *failed = r;
        return NULL;
    }
    PGresult *end = PQgetResult(c);
    if (end) { /* more than one result: not ours */
        PQclear(end);
        PQclear(r);
        snprintf(err, errlen, "%s: unexpected answer", what);
        return NULL;
    }
    return r;
}

static void outcome_read(const PGresult *r, const huren_index_dir_entry *e,
                         huren_index_dir_result *res)
{
    if (!PQgetisnull(r, 0, 0)) {
        res->outcome = PQgetisnull(r, 0, 1) ? HUREN_INDEX_DIR_STORED : HUREN_INDEX_DIR_REPLACED;
        res->held_version = e->version;
        return;
    }
    res->outcome = HUREN_INDEX_DIR_IGNORED;
    res->held_version = PQgetisnull(r, 0, 1) ? 0 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
}

/* Send entries [from, to) that passed the check, then read their answers. */
static int chunk_run(PGconn *c, const huren_index_dir_entry *entries, size_t from, size_t to,
                     huren_index_dir_result *results, char *err, size_t errlen, PGresult **failed)
{
    for (size_t i = from; i < to; i++)
        if (results[i].outcome != HUREN_INDEX_DIR_REFUSED && send_entry(c, &entries[i]) < 0) {
            pg_error(c, NULL, "sending directory entries", err, errlen);
            return -1;
        }
    if (!PQsendFlushRequest(c) || PQflush(c) != 0) {
        pg_error(c, NULL, "sending directory entries", err, errlen);
        return -1;
    }
    for (size_t i = from; i < to; i++) {
        if (results[i].outcome == HUREN_INDEX_DIR_REFUSED)
            continue;
        PGresult *r = answer(c, PGRES_TUPLES_OK, "storing directory entry", err, errlen, failed);
        if (!r)
            return -1;
        outcome_read(r, &entries[i], &results[i]);
        PQclear(r);
    }
    return 0;
}

/* The batch on c in pipeline mode: BEGIN, the entries chunk by chunk, COMMIT, sync. */
static int batch_run(PGconn *c, const huren_index_dir_entry *entries, size_t n,
                     huren_index_dir_result *results, char *err, size_t errlen, PGresult **failed)
{
    PGresult *r;
    if (!PQenterPipelineMode(c) || !PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendFlushRequest(c) || PQflush(c) != 0) {
        pg_error(c, NULL, "starting the batch", err, errlen);
        return -1;
    }
    if (!(r = answer(c, PGRES_COMMAND_OK, "starting the batch", err, errlen, failed)))
        return -1;
    PQclear(r);
    for (size_t i = 0; i < n; i += CHUNK)
        if (chunk_run(c, entries, i, i + CHUNK < n ? i + CHUNK : n, results, err, errlen, failed) <
            0)
            return -1;
    if (!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c)) {
        pg_error(c, NULL, "committing the batch", err, errlen);
        return -1;
    }
    if (!(r = answer(c, PGRES_COMMAND_OK, "committing the batch", err, errlen, failed)))
        return -1;
    PQclear(r);
    r = PQgetResult(c);
    int synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || !PQexitPipelineMode(c)) {
        pg_error(c, NULL, "ending the batch", err, errlen);
        return -1;
    }
    return 0;
}

int pg_put(pg_store *s, const huren_index_dir_entry *entries, size_t n,
           huren_index_dir_result *results, char *err, size_t errlen)
{
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (huren_index_dir_entry_check(&entries[i], results[i].reason) < 0)
            results[i].outcome = HUREN_INDEX_DIR_REFUSED;
        else
            valid++;
    }
    if (valid == 0)
        return 0;
    PGconn *c = NULL;
    int slot = pg_pool_get(&s->write, &c, err, errlen);
    if (slot < 0)
        return slot;
    PGresult *failed = NULL;
    int rc = batch_run(c, entries, n, results, err, errlen, &failed);
    /* A failed pipeline leaves the connection mid-protocol: closing it is simpler and safer than
     * draining it, and failures are rare (entries were checked above). Nothing was committed
     * unless COMMIT answered. */
    pg_pool_put(&s->write, slot, rc < 0);
    PQclear(failed);
    return rc < 0 ? DIRECTORY_STORE_EUNAVAIL : 0;
}
