/* index_pacs.h: studies held at a hospital PACS and the forwarding queue (schema step 12).
 * A study the gateway learnt of by C-FIND is an index entry with no instance here: its patient
 * and study rows as the PACS answered, and which PACS holds it with its counts
 * (huren_index_row.held_at, QIDO InstanceAvailability NEARLINE); the sync remembers which days
 * of each PACS it has read (its watermark). The forwarding queue holds, per rule, the instances
 * to send on, once each: a row sent stays as sent. */
#ifndef HUREN_INDEX_PACS_H
#define HUREN_INDEX_PACS_H

#include "huren_index.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HUREN_INDEX_PACS_NAME_MAX 64

/* One STUDY-level answer of a PACS: the patient and study fields of values[] (indexed by
 * huren_index_field, NULL = absent; STUDY_UID required), ModalitiesInStudy ('\'-separated),
 * and the counts it gave (0 = not given). */
typedef struct huren_index_pacs_study {
    const char *values[HUREN_INDEX_F_COUNT];
    int64_t num_series, num_instances;
} huren_index_pacs_study;

/* Record n answers of PACS pacs in one transaction, each seen at seen_at (Unix seconds): a new
 * study gets its patient (found or created by PatientID and issuer) and study rows; one held
 * only at the PACS is updated as answered; one with instances here only notes that the PACS
 * has it too. Each new or changed study held only there is published (the publish hook).
 * *added (may be NULL) counts the new studies. HUREN_INDEX_EINVAL for a bad value. */
int huren_index_pacs_studies_put(huren_index *idx, const char *pacs,
                                 const huren_index_pacs_study *s, size_t n, int64_t seen_at,
                                 size_t *added);
/* Studies of day (YYYYMMDD) held only at pacs and not seen since seen_before: gone from the
 * PACS. Removed from the index; their number in *removed (may be NULL). */
int huren_index_pacs_day_prune(huren_index *idx, const char *pacs, const char *day,
                               int64_t seen_before, size_t *removed);

/* The sync's watermark: day (YYYYMMDD) of pacs read completely at synced_at, with studies
 * answers. _get: HUREN_INDEX_ENOTFOUND when never. */
int huren_index_pacs_day_set(huren_index *idx, const char *pacs, const char *day, int64_t studies,
                             int64_t synced_at);
int huren_index_pacs_day_get(huren_index *idx, const char *pacs, const char *day,
                             int64_t *synced_at);

/* Is study_uid held at a PACS and none of its instances here? 1 with its name in pacs, 0 if
 * not (no such study, or instances here), negative on error. */
int huren_index_pacs_held(huren_index *idx, const char *study_uid,
                          char pacs[HUREN_INDEX_PACS_NAME_MAX + 1]);

/* Totals of pacs: studies known there, of them held only there, days synced. */
typedef struct huren_index_pacs_stats {
    int64_t studies, only_there, days;
} huren_index_pacs_stats;
int huren_index_pacs_stats_get(huren_index *idx, const char *pacs, huren_index_pacs_stats *out);

/* ---- the fetch cache (schema step 15, pacs_cache.c) ---- */

/* After a fetch of study_uid: its instances here not marked yet become fetched copies (only
 * those may be evicted), and its last read is now. */
int huren_index_pacs_cache_mark(huren_index *idx, const char *study_uid, int64_t now);
/* Last reads in one transaction: study_uids[i] was read at at[i] (kept if later than known).
 * Studies not held at a PACS are ignored. */
int huren_index_pacs_cache_touch(huren_index *idx, const char *const *study_uids, const int64_t *at,
                                 size_t n);
/* Bytes of fetched copies of pacs held here, and in how many studies (either may be NULL). */
int huren_index_pacs_cache_usage(huren_index *idx, const char *pacs, int64_t *bytes,
                                 int64_t *studies);
typedef struct huren_index_pacs_cached {
    char study_uid[65];
    int64_t bytes, last_read;
} huren_index_pacs_cached;
/* The evictable studies of pacs (every instance a fetched copy), least recently read first:
 * up to max into out, their number in *n. */
int huren_index_pacs_cache_lru(huren_index *idx, const char *pacs, huren_index_pacs_cached *out,
                               size_t max, size_t *n);
/* Evict study_uid: its instances and series removed in one transaction (own files unlinked
 * after the commit, packed bytes left to compaction), the study kept as held only at its PACS
 * and republished (NEARLINE). *bytes (may be NULL): the instances' bytes. HUREN_INDEX_ENOTFOUND
 * when the study is not evictable (an instance stored here directly, or no cached copy). The
 * caller makes sure no one is reading it. */
int huren_index_pacs_cache_evict(huren_index *idx, const char *study_uid, int64_t *bytes);

/* ---- forwarding queue ---- */

/* Queue sop_uid for rule (both <= 64 characters) unless it is queued or was sent already. */
int huren_index_fwd_enqueue(huren_index *idx, const char *rule, const char *sop_uid, int64_t now);
typedef struct huren_index_fwd_item {
    int64_t id;
    char sop_uid[65];
    int attempts;
} huren_index_fwd_item;
/* Up to max items of rule due at now (oldest first) into items; their number in *n. */
int huren_index_fwd_due(huren_index *idx, const char *rule, int64_t now,
                        huren_index_fwd_item *items, size_t max, size_t *n);
/* The item was sent (kept as sent, never queued again), or failed: retry at next_attempt. */
int huren_index_fwd_sent(huren_index *idx, int64_t id, int64_t now);
int huren_index_fwd_defer(huren_index *idx, int64_t id, int64_t next_attempt, const char *error);
/* Of rule: items waiting (backlog), of them failed at least once, sent in total. */
typedef struct huren_index_fwd_stats {
    int64_t backlog, failing, sent;
} huren_index_fwd_stats;
int huren_index_fwd_stats_get(huren_index *idx, const char *rule, huren_index_fwd_stats *out);

#ifdef __cplusplus
}
#endif
#endif
