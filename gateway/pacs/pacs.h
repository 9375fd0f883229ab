/* pacs.h: beside the hospital's PACS ([pacs "NAME"] sections). The sync learns what the PACS
 * holds by C-FIND (STUDY level, day by day, a day split by StudyTime when the PACS answers its
 * result limit or a warning; SERIES level where a study answer lacks its counts) and keeps it
 * in the index as studies held there (published, NEARLINE); the fetch brings a study held only
 * there on demand (C-GET, or C-MOVE to our own AE) through the normal ingest path. Every
 * request keeps within the PACS's association and query-rate limits. */
#ifndef HUREN_GATEWAY_PACS_H
#define HUREN_GATEWAY_PACS_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* Start the periodic sync of each [pacs] with sync_interval > 0 (a thread each) and make the
 * PACS reachable for fetches (n->pacs). Returns 0 (also without [pacs]), -1 with err. */
int pacs_start(node *n, char *err, size_t errlen);
/* Stop the sync threads (a query in flight finishes) and free n->pacs. NULL-safe. */
void pacs_stop(node *n);

/* The node hook study_not_held: when study_uid is held at a PACS and none of it here, fetch
 * it. Returns 1 when instances were stored, 0 when no PACS holds it, -1 with err. */
int pacs_fetch_study(node *n, const char *study_uid, char *err, size_t errlen);

/* The node hook study_read: study_uid is being read (delta +1) or no longer (-1). A study
 * being read is never evicted from the fetch cache; the read is its last read (least
 * recently read studies are evicted first). */
void pacs_study_read(node *n, const char *study_uid, int delta);

/* Progress of a sync, one call per day read (for the backfill command). */
typedef struct pacs_day_report {
    const char *day; /* YYYYMMDD */
    size_t answers, added, removed;
    unsigned queries; /* C-FIND requests the day took */
    int skipped;      /* 1: already synced (resumed) */
} pacs_day_report;
typedef void (*pacs_progress_fn)(void *ctx, const pacs_day_report *r);

/* Sync the days from..to (YYYYMMDD, inclusive) of the PACS named name, newest first; with
 * resume, days already synced completely are skipped. Returns the number of days read, or -1
 * with err (the days done so far stay done). */
int pacs_sync_days(node *n, const char *name, const char *from, const char *to, int resume,
                   pacs_progress_fn progress, void *ctx, char *err, size_t errlen);

/* Prometheus text of the PACS side (studies known, only there, days synced, queries, fetches,
 * failures); caller frees; NULL without [pacs]. */
char *pacs_metrics(node *n);

/* For `huren pacs sync` (gateway/pacs_cmd.c): n->pacs without the periodic sync threads. */
int pacs_open_for_command(node *n, char *err, size_t errlen);

#endif
