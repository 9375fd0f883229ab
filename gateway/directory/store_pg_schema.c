/* store_pg_schema.c: the directory's PostgreSQL schema, versioned like the SQLite one: a
 * schema_version table and numbered migrations, applied at open in one transaction under an
 * advisory lock (several nodes may start at once). dir_entries is hash-partitioned by
 * pseudonym; every key starts with it and nothing spans pseudonyms, so a sharding layer
 * (Citus: distribute by pseudonym) can take the table unchanged. Text compared or sorted is
 * COLLATE "C": the same byte order as SQLite, whatever the database's locale. */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTITIONS 64
#define MIGRATE_LOCK "7809531451" /* pg_advisory_xact_lock key: huren directory schema */

/* 1: the entries (the columns of index/schema.c's dir_entries, with types PostgreSQL has). */
static const char dir_entries_sql[] =
    "CREATE TABLE dir_entries ("
    " pseudonym text COLLATE \"C\" NOT NULL CHECK (length(pseudonym) = 64),"
    " institution text COLLATE \"C\" NOT NULL,"
    " record_key text COLLATE \"C\" NOT NULL,"
    " version bigint NOT NULL CHECK (version >= 1),"
    " kind text COLLATE \"C\" NOT NULL DEFAULT '',"
    " item_code text COLLATE \"C\", item_name text, modality text, body_part text,"
    " item_date text COLLATE \"C\","
    " hr boolean NOT NULL DEFAULT false, hr_scope text,"
    " qualified_from text, qualified_to text, source_url text,"
    " deleted boolean NOT NULL DEFAULT false, status text, revision bigint,"
    " images boolean NOT NULL, report boolean NOT NULL, report_key text,"
    " received_at timestamptz NOT NULL,"
    " PRIMARY KEY (pseudonym, institution, record_key)"
    ") PARTITION BY HASH (pseudonym)";

static int exec_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        pg_error(c, r, what, err, errlen);
    PQclear(r);
    return ok ? 0 : DIRECTORY_STORE_ERROR;
}

static int migrate_1(PGconn *c, char *err, size_t errlen)
{
    if (exec_ok(c, dir_entries_sql, "creating dir_entries", err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    for (int i = 0; i < PARTITIONS; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE dir_entries_p%02d PARTITION OF dir_entries"
                 " FOR VALUES WITH (MODULUS %d, REMAINDER %d)",
                 i, PARTITIONS, i);
        if (exec_ok(c, sql, "creating a partition of dir_entries", err, errlen) < 0)
            return DIRECTORY_STORE_ERROR;
    }
    return 0;
}

static int (*const migrations[])(PGconn *, char *, size_t) = {migrate_1};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int pg_schema_latest(void)
{
    return NMIGRATIONS;
}

/* The version the database is at (0: new), or a negative code. */
static int schema_current(PGconn *c, char *err, size_t errlen)
{
    if (exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "creating schema_version", err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
    int v = DIRECTORY_STORE_ERROR;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = atoi(PQgetvalue(r, 0, 0));
    else
        pg_error(c, r, "reading schema_version", err, errlen);
    PQclear(r);
    return v;
}

static int migrate_locked(PGconn *c, char *err, size_t errlen)
{
    int cur = schema_current(c, err, errlen);
    if (cur < 0)
        return cur;
    if (cur > NMIGRATIONS) {
        snprintf(err, errlen,
                 "the database's directory schema is version %d, this huren knows up to %d: "
                 "run a newer huren",
                 cur, NMIGRATIONS);
        return DIRECTORY_STORE_ERROR;
    }
    for (int v = cur + 1; v <= NMIGRATIONS; v++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES (%d)", v);
        if (migrations[v - 1](c, err, errlen) < 0 ||
            exec_ok(c, sql, "recording the schema version", err, errlen) < 0)
            return DIRECTORY_STORE_ERROR;
    }
    return 0;
}

int pg_schema_migrate(PGconn *c, char *err, size_t errlen)
{
    if (exec_ok(c, "BEGIN", "starting the migration", err, errlen) < 0)
        return DIRECTORY_STORE_ERROR;
    int rc = exec_ok(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", "locking the schema", err,
                     errlen);
    if (rc == 0)
        rc = migrate_locked(c, err, errlen);
    if (rc == 0)
        return exec_ok(c, "COMMIT", "committing the migration", err, errlen);
    char ignore[64];
    exec_ok(c, "ROLLBACK", "rolling back", ignore, sizeof ignore);
    return rc;
}
