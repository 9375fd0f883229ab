/* store_pg_int.h: the PostgreSQL store's parts, shared by store_pg*.c only: the connection
 * pool (store_pg_pool.c), the schema and its migrations (store_pg_schema.c), the pipelined
 * batch (store_pg_put.c) and the lookup (store_pg_find.c). */
#ifndef HUREN_GATEWAY_DIRECTORY_STORE_PG_INT_H
#define HUREN_GATEWAY_DIRECTORY_STORE_PG_INT_H

#include "huren_buf.h"
#include "store_int.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#define PG_STMT_LOCK "huren_dir_lock"
#define PG_STMT_HELD "huren_dir_held"
#define PG_STMT_PUT "huren_dir_put"
#define PG_STMT_FIND "huren_dir_find"

/* Statements a new connection prepares (bits). */
#define PG_PREPARE_PUT 1
#define PG_PREPARE_FIND 2

/* At most size connections to one DSN, opened on first use and again after one broke (a
 * multi-host DSN then finds the new primary). A caller waits for a free one (mutex + condvar)
 * up to the statement timeout. */
typedef struct pg_pool {
    char *dsn;
    const char *what; /* "dsn" | "read_dsn": the key, for messages */
    int size, timeout_ms, prepare;
    PGconn **conns; /* size slots; NULL: not open */
    unsigned char *used;
    int nbusy;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int nopen;
    atomic_uint_fast64_t connects, failures;
} pg_pool;

int pg_pool_init(pg_pool *p, const char *dsn, const char *what, int size, int timeout_ms,
                 int prepare, char *err, size_t errlen);
void pg_pool_destroy(pg_pool *p);
/* A connection of the pool (open, statements prepared) in *conn, *fresh 1 when it was opened
 * for this call; returns its slot (>= 0), or DIRECTORY_STORE_EUNAVAIL with err (no free one in
 * time, the server cannot be reached). */
int pg_pool_get(pg_pool *p, PGconn **conn, int *fresh, char *err, size_t errlen);
/* Give the slot back; broken: close it (the next get reconnects). */
void pg_pool_put(pg_pool *p, int slot, int broken);
/* A failure of the connection itself (server gone, read-only now, shut down) rather than of
 * the statement? Such a connection is not reused. */
int pg_conn_broken(PGconn *c, const PGresult *r);
/* PQconnectdb, with notices dropped. */
PGconn *pg_connect(const char *dsn);
/* "what: libpq's message" (trailing newline cut) into err. */
void pg_error(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen);

typedef struct pg_store {
    directory_store base;
    pg_pool write, read; /* read unused (read.size 0) without read_dsn */
    int has_read;
} pg_store;

/* Bring the schema up to date on c (one transaction, under an advisory lock). Returns 0 or
 * DIRECTORY_STORE_ERROR with err. */
int pg_schema_migrate(PGconn *c, char *err, size_t errlen);
/* The schema version this build writes (the newest migration). */
int pg_schema_latest(void);
/* The statements of a batch (store_pg_put.c), prepared as PG_STMT_LOCK, _HELD, _PUT. */
extern const char pg_lock_sql[], pg_held_sql[], pg_put_sql[];

#define PG_PUT_COLS 21

/* A batch grouped by key (store_pg_batch.c). */
typedef struct pg_batch {
    const huren_index_dir_entry *entries;
    huren_index_dir_result *results;
    size_t *order; /* the valid entries' indexes, by key, then batch order */
    size_t nvalid;
    size_t *first; /* group g is order[first[g] .. first[g + 1]) */
    size_t ngroups;
    int64_t *held;  /* per group: the version held before the batch, 0 none */
    size_t *winner; /* per group: the entry written (the first of the highest version) */
} pg_batch;

/* Check the entries (refused ones get their outcome and reason now) and group the others.
 * Returns 0, or -1 out of memory. */
int pg_batch_init(pg_batch *b, const huren_index_dir_entry *entries, size_t n,
                  huren_index_dir_result *results);
void pg_batch_free(pg_batch *b);
/* The groups' keys as three text arrays (pseudonym, institution, record_key), in group
 * order; the winners' rows as PG_PUT_COLS arrays in dir_entries' column order. 0 or -1. */
int pg_batch_keys(const pg_batch *b, huren_buf key[3]);
int pg_batch_rows(const pg_batch *b, huren_buf col[PG_PUT_COLS]);
/* With held[] filled: every valid entry's outcome, as applied in batch order. */
void pg_batch_outcomes(pg_batch *b);
/* Prepare the statements of prepare (PG_PREPARE_*) on a new connection. */
int pg_prepare(PGconn *c, int prepare, char *err, size_t errlen);

int pg_put(pg_store *s, const huren_index_dir_entry *entries, size_t n,
           huren_index_dir_result *results, char *err, size_t errlen);
int pg_find(pg_store *s, const char *pseudonym, const huren_index_dir_filter *f, size_t limit,
            huren_index_dir_list *out, char *err, size_t errlen);
void pg_list_free(huren_index_dir_list *list);

#endif
