/* index_sys.h: seeding and test helpers. Not for the
 * gateway's request paths: bulk-loading rows without files, for benchmarks and tests. */
#ifndef HUREN_INDEX_SYS_H
#define HUREN_INDEX_SYS_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fills values[] (all NULL on entry, indexed by huren_index_field) for the i-th seeded instance;
 * the strings must stay valid until the next call. Return nonzero to stop. */
typedef int (*huren_index_seed_cb)(void *payload, size_t i,
                                   const char *values[HUREN_INDEX_F_COUNT]);

/* Bulk-load n instance rows without files (benchmarks and tests: their rows have blob_path NULL
 * and blob_size 0), in transactions of 10,000 rows, then ANALYZE. Rows whose SOP Instance UID is
 * already present are skipped. Blocks other writers while it runs. Returns 0,
 * HUREN_INDEX_EINVAL (a row lacks a required UID; rows of earlier transactions stay), or
 * HUREN_INDEX_ECANCEL if cb stopped. */
int huren_index_seed(huren_index *idx, size_t n, huren_index_seed_cb cb, void *payload);

#ifdef __cplusplus
}
#endif
#endif
