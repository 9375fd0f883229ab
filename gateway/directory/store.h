/* store.h: where the regional directory keeps its entries (role directory). One interface, two
 * backends: the node's own SQLite index (store_sqlite.c, the default) and PostgreSQL through
 * libpq (store_pg*.c: a pool per DSN, prepared statements, pipelined batches). The HTTP API
 * (directory_api.c) calls only these functions; both backends keep the same contract. */
#ifndef HUREN_GATEWAY_DIRECTORY_STORE_H
#define HUREN_GATEWAY_DIRECTORY_STORE_H

#include "config.h"
#include "huren_index.h"
#include "index/index_directory.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct directory_store directory_store;

/* Return codes besides 0. */
#define DIRECTORY_STORE_ERROR (-1)    /* anything else */
#define DIRECTORY_STORE_EINVAL (-2)   /* a malformed batch or lookup: the caller answers 400 */
#define DIRECTORY_STORE_EUNAVAIL (-3) /* the database cannot answer now: the caller answers 503 */

typedef struct directory_store_options {
    config_dir_store kind;
    huren_index *index;       /* SQLite: the node's index (borrowed, outlives the store) */
    const char *dsn;          /* PostgreSQL: libpq conninfo that publishes go to */
    const char *read_dsn;     /* PostgreSQL: lookups ("" or NULL: dsn) */
    int pool;                 /* PostgreSQL: connections per DSN */
    int statement_timeout_ms; /* PostgreSQL: per statement, set on each connection (0: none) */
} directory_store_options;

#define DIRECTORY_STORE_OPTIONS_INIT                                                               \
    {                                                                                              \
        CONFIG_DIR_STORE_SQLITE, NULL, NULL, NULL, 8, 5000                                         \
    }

/* The options of [directory] store, dsn, read_dsn, pool, statement_timeout. */
void directory_store_options_from_config(directory_store_options *o, const config *cfg,
                                         huren_index *idx);

/* Does dsn (the value of [directory] KEY) parse as a libpq conninfo, without a password? Returns
 * 0, or -1 with "[directory] KEY: why" in err (never the password). */
int directory_store_dsn_check(const char *dsn, const char *key, char *err, size_t errlen);

/* Open the store; PostgreSQL: connect once to dsn and bring its schema up to date (the
 * migrations of store_pg_schema.c, under an advisory lock). Returns 0 with *out (free with
 * directory_store_close), or a negative code with the reason in err. */
int directory_store_open(const directory_store_options *o, directory_store **out, char *err,
                         size_t errlen);
void directory_store_close(directory_store *s); /* NULL-safe */

/* The contract of huren_index_dir_put (index/index_directory.h): n <= HUREN_INDEX_DIR_BATCH_MAX
 * entries in one transaction, applied in order, results[i] for entry i (STORED, REPLACED,
 * IGNORED with held_version, REFUSED with a reason naming the field and nothing of it stored).
 * Returns 0 once committed, DIRECTORY_STORE_EINVAL for a bad batch, DIRECTORY_STORE_EUNAVAIL
 * when the database is unreachable or failed (nothing stored; the next call reconnects), with
 * the reason in err. Thread-safe. */
int directory_store_put(directory_store *s, const huren_index_dir_entry *entries, size_t n,
                        huren_index_dir_result *results, char *err, size_t errlen);

/* The contract of huren_index_dir_find: one pseudonym's entries, newest first (date, then
 * arrival), filtered, at most filter->limit, truncated set when more matched. Returns the count
 * (>= 0) with *out filled (free with directory_store_list_free), DIRECTORY_STORE_EINVAL naming
 * a malformed pseudonym or filter, or DIRECTORY_STORE_EUNAVAIL. Thread-safe. */
int directory_store_find(directory_store *s, const char *pseudonym,
                         const huren_index_dir_filter *filter, huren_index_dir_list *out, char *err,
                         size_t errlen);
void directory_store_list_free(directory_store *s, huren_index_dir_list *list); /* NULL-safe */

typedef struct directory_store_stats {
    const char *backend; /* "sqlite" | "postgresql" */
    int pool;            /* PostgreSQL: connections per DSN */
    int open, busy;      /* PostgreSQL: connections open / in use now (both pools) */
    uint64_t failures;   /* calls that failed for the database (server gone, timeout) */
    uint64_t reconnects; /* connections (re)opened after the first */
} directory_store_stats;

void directory_store_stats_get(directory_store *s, directory_store_stats *out);
/* The stats as Prometheus text (huren_directory_store_*), for /metrics. */
void directory_store_metrics_write(directory_store *s, FILE *f);

#endif
