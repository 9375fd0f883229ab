/* migrate_store.h: copying a directory held in a SQLite index into the PostgreSQL store
 * (`huren directory migrate-store`), in batches through the store's own put, resumable. */
#ifndef HUREN_GATEWAY_DIRECTORY_MIGRATE_STORE_H
#define HUREN_GATEWAY_DIRECTORY_MIGRATE_STORE_H

#include "directory/store.h"

#include <stdint.h>
#include <stdio.h>

typedef struct migrate_store_options {
    huren_index *src;     /* the SQLite index holding the entries (borrowed) */
    const char *source;   /* its name in migrate_progress (the index file's absolute path) */
    directory_store *dst; /* the PostgreSQL store (borrowed) */
    const char *dsn;      /* the store's [directory] dsn: where migrate_progress is */
    size_t batch;         /* entries per batch, 1 to HUREN_INDEX_DIR_BATCH_MAX */
    FILE *progress;       /* progress lines (stderr), or NULL */
} migrate_store_options;

typedef struct migrate_store_counts {
    int64_t total;                              /* entries in the source */
    int64_t resumed;                            /* entries done by an earlier run, skipped */
    int64_t done;                               /* entries done, earlier runs included */
    int64_t stored, replaced, ignored, refused; /* this run's outcomes */
} migrate_store_counts;

/* Copy every entry of o->src after the watermark of o->source in migrate_progress (none: from
 * the first), a batch at a time: put into o->dst, then the watermark moves to the batch's last
 * key. A put is idempotent (same version: IGNORED), so a run killed between a batch and its
 * watermark redoes that batch and changes nothing. Returns 0 with *out, or a negative
 * DIRECTORY_STORE_* code with err (what was committed stays, with its watermark). */
int migrate_store_run(const migrate_store_options *o, migrate_store_counts *out, char *err,
                      size_t errlen);

#endif
