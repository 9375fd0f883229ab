/* index_directory.h: the regional directory and its outbox
 * (schema 7). Role directory: entries keyed by patient pseudonym saying where records are.
 * Role hospital: the publish hook and the outbox of entries waiting to be sent there. */
#ifndef HUREN_INDEX_DIRECTORY_H
#define HUREN_INDEX_DIRECTORY_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#include "index_records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Role directory: where each patient's records are, keyed by a pseudonym (64 lowercase hex of
 * an HMAC the publishing gateways compute; the index never sees a name or an id). One entry
 * per (pseudonym, institution, record key), the primary key, in that order: a patient's
 * entries are stored together and a future PostgreSQL directory can partition by pseudonym.
 * Text is UTF-8; dates YYYYMMDD; NULL or "" = absent. */

#define HUREN_INDEX_PSEUDONYM_HEX 64
#define HUREN_INDEX_DIR_BATCH_MAX 10000 /* entries per huren_index_dir_put */
#define HUREN_INDEX_DIR_FIND_MAX 1000   /* entries per huren_index_dir_find */

typedef struct huren_index_dir_entry {
    const char *pseudonym;   /* required: 64 lowercase hex */
    const char *institution; /* required: the publishing institution's code (<= 64 bytes) */
    const char *record_key;  /* required: the record at its source, 1..256 printable ASCII */
    int64_t version;         /* >= 1; a higher version replaces, a lower or equal is ignored */
    const char *kind;        /* "imaging" | "lab"; required unless deleted */
    const char *item_code;   /* catalogue code (or NULL when the item is not catalogued) */
    const char *item_name;
    const char *modality; /* DICOM modalities, '\'-separated */
    const char *body_part;
    const char *date;     /* YYYYMMDD: when the exam was made / the sample observed */
    int hr;               /* 1: carries the mutual-recognition (互认, HR) mark */
    const char *hr_scope; /* "national" | "province" | "city", or NULL */
    const char *qualified_from, *qualified_to; /* YYYYMMDD: the institution's HR qualification */
    const char *source_url;                    /* https://... of the gateway holding the record */
    const char *status;      /* reports: "final" | "preliminary" | "corrected", or NULL */
    int64_t revision;        /* the record's own version at its source (0: not given) */
    int deleted;             /* 1: the record is gone at its source (a tombstone is kept) */
    const char *received_at; /* reads only: YYYYMMDDHHMMSS (UTC) when this version arrived */
    /* One exam is one entry: a study and the report linked to it. 1 yes, -1 no; 0 on a put
     * (and in entries stored before schema 10): as the record key says ("study:" images,
     * "report:" a report). Reads answer 1 or -1. */
    int images, report;
    const char *report_key; /* a study's entry: the report folded into it ("report:<id>") */
    /* provenance (schema 15): a study's pixel root (64 lowercase hex) and how many instances
     * are in it; NULL/0 when none. The same root under another pseudonym is flagged
     * (dir_flags, kind same_pixels). */
    const char *pixel_root;
    int64_t pixel_count;
} huren_index_dir_entry;

typedef enum huren_index_dir_outcome {
    HUREN_INDEX_DIR_STORED = 0, /* new entry */
    HUREN_INDEX_DIR_REPLACED,   /* a higher version replaced the one held */
    HUREN_INDEX_DIR_IGNORED,    /* the version held is the same or newer: nothing changed */
    HUREN_INDEX_DIR_REFUSED     /* invalid entry (reason says why): nothing stored */
} huren_index_dir_outcome;

#define HUREN_INDEX_DIR_REASON_MAX 160

typedef struct huren_index_dir_result {
    huren_index_dir_outcome outcome;
    int64_t held_version;                    /* IGNORED: the version the directory holds */
    char reason[HUREN_INDEX_DIR_REASON_MAX]; /* REFUSED: what is wrong, naming the field */
} huren_index_dir_result;

/* The one validation of an entry, used by huren_index_dir_put and by every other store of the
 * directory (gateway/directory/store_pg.c): 0 when e can be stored, else HUREN_INDEX_EINVAL with
 * what is wrong, naming the field, in reason (when not NULL). */
int huren_index_dir_entry_check(const huren_index_dir_entry *e,
                                char reason[HUREN_INDEX_DIR_REASON_MAX]);

/* Store n (<= HUREN_INDEX_DIR_BATCH_MAX) entries in one transaction; results[i] gets entry i's
 * outcome (entries are applied in order, so a batch may carry several versions of one record).
 * Returns 0 once committed (refused entries are reported, the others stored), or a negative
 * code (nothing stored: HUREN_INDEX_EINVAL for a bad batch, EIO/EBUSY/ERROR otherwise). */
int huren_index_dir_put(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                        huren_index_dir_result *results);

/* Filter of huren_index_dir_find (NULL/"" = any). */
typedef struct huren_index_dir_filter {
    const char *kind;      /* "imaging" | "lab" */
    const char *item_code; /* exact catalogue code */
    const char *since;     /* YYYYMMDD: entries dated on or after */
    int include_deleted;   /* 1: tombstones too */
    size_t limit;          /* 0 or > HUREN_INDEX_DIR_FIND_MAX: HUREN_INDEX_DIR_FIND_MAX */
} huren_index_dir_filter;

typedef struct huren_index_dir_list {
    huren_index_dir_entry *items; /* every string belongs to the list */
    size_t n;
    int truncated; /* 1: more entries matched than the limit */
    void *arena_;  /* private */
} huren_index_dir_list;

/* The entries of one pseudonym, newest first (date, then arrival), deleted ones left out
 * unless asked. Returns the number of entries (>= 0) with *out filled, or a negative code
 * (HUREN_INDEX_EINVAL naming a malformed pseudonym, kind or date). */
int huren_index_dir_find(huren_index *idx, const char *pseudonym,
                         const huren_index_dir_filter *filter, huren_index_dir_list *out);
void huren_index_dir_list_free(huren_index_dir_list *list); /* NULL-safe */

/* ---- flags for the platform operator (schema 15, directory_flags.c) ----
 * An entry stored with a pixel root that another pseudonym's entry also has is flagged, and so
 * is that other entry: kind "same_pixels" (同片不同名), one row per entry and kind, with the
 * institution code and record key as published, the root, and when (YYYYMMDDHHMMSS UTC). */
typedef struct huren_index_dir_flag {
    int64_t id; /* increasing: the next page starts after the last id */
    const char *kind, *institution, *record_key, *pixel_root, *flagged_at;
} huren_index_dir_flag;

typedef struct huren_index_dir_flag_list {
    huren_index_dir_flag *items; /* strings belong to the list */
    size_t n;
    int truncated; /* more flags follow */
    void *arena_;  /* private */
} huren_index_dir_flag_list;

/* Up to limit (0 or > HUREN_INDEX_DIR_FIND_MAX: that maximum) flags with an id after after,
 * oldest first. Returns the count or a negative code. */
int huren_index_dir_flags_list(huren_index *idx, int64_t after, size_t limit,
                               huren_index_dir_flag_list *out);
void huren_index_dir_flag_list_free(huren_index_dir_flag_list *l); /* NULL-safe */

/* Every entry of the directory in key order (pseudonym, institution, record key), tombstones
 * too, for copying them elsewhere (`huren directory migrate-store`): at most limit (1 to
 * HUREN_INDEX_DIR_BATCH_MAX) entries whose key follows after's (NULL: from the first). Returns
 * the count (0: no more) with *out filled (free with huren_index_dir_list_free), or a negative
 * code. *total (when not NULL) gets the number of entries the directory holds. */
int huren_index_dir_scan(huren_index *idx, const huren_index_dir_entry *after, size_t limit,
                         huren_index_dir_list *out, int64_t *total);

/* The validation of a lookup's pseudonym and filter (filter NULL = any), as huren_index_dir_find
 * does it: 0, or HUREN_INDEX_EINVAL with what is wrong in reason (when not NULL). */
int huren_index_dir_filter_check(const char *pseudonym, const huren_index_dir_filter *filter,
                                 char reason[HUREN_INDEX_DIR_REASON_MAX]);

/* Is s 64 lowercase hex characters? */
int huren_index_pseudonym_valid(const char *s);

/* ---- publishing to the directory (schema 7, index/outbox.c) ----
 * Role hospital: when a study is stored or changes, or a report is stored or corrected, the
 * index asks the gateway's publish hook (inside the write transaction) what the directory
 * should hold for that record: a pseudonym and an entry (opaque text, JSON in practice). When
 * that differs from what was last queued for the record, the next version is written to the
 * outbox in the same transaction; a changed pseudonym also queues a deletion under the old one.
 * A sender reads the outbox, and removes rows once the directory has acknowledged them. */

typedef enum huren_index_publish_kind {
    HUREN_INDEX_PUBLISH_STUDY = 0, /* record key "study:<StudyInstanceUID>" */
    HUREN_INDEX_PUBLISH_REPORT     /* record key "report:<report id>" */
} huren_index_publish_kind;

/* A study as the directory may describe it. Borrowed for the hook's call. */
typedef struct huren_index_publish_study {
    const char *study_uid, *study_date, *study_time, *accession_number, *study_description;
    const char *modalities; /* ModalitiesInStudy, '\'-separated */
    const char *body_parts; /* distinct BodyPartExamined of its series, '\'-separated */
    const char *institution_name;
    const char *patient_id, *issuer_of_patient_id, *other_patient_ids; /* as received */
    const char *copy_of; /* every instance is a retrieved copy: the source institution (schema
                            9); NULL for this hospital's own study */
    /* provenance (schema 15): the instances held, how many have a pixel fingerprint, and the
     * study's root over them ("" when none) */
    int64_t instances, pixel_count;
    const char *pixel_root;
} huren_index_publish_study;

typedef struct huren_index_publish_event {
    huren_index_publish_kind kind;
    const char *record_key;
    const huren_index_publish_study *study; /* STUDY */
    /* REPORT: as stored (id, version, ...; no obs). STUDY: the exam report linked to the study
     * (same accession number), folded into the study's entry (one exam, one entry), or NULL.
     * A report linked to a study is never described on its own: its own entry, if it had
     * one, is withdrawn and the study's entry describes both. */
    const huren_index_report *report;
    const char *report_key; /* STUDY with a linked report: "report:<id>" */
    /* the national id on file for the record's patient (clinical records, following merges:
     * a report's patient, a study's PatientID as a local id), or NULL */
    const char *national_id, *national_id_type;
} huren_index_publish_event;

/* The hook: fill pseudonym (64 hex + NUL; "" = the record cannot be published, e.g. no national
 * id) and *entry (malloc'ed text the index frees; NULL when not published). Called from the
 * writer's thread inside its transaction: be quick, touch no index function. Return 0, or a
 * negative value to fail the put that caused it. */
typedef int (*huren_index_publish_fn)(const huren_index_publish_event *ev,
                                      char pseudonym[HUREN_INDEX_PSEUDONYM_HEX + 1], char **entry,
                                      void *payload);

/* Install the hook (NULL: publish nothing), before the first put. */
void huren_index_publish_set(huren_index *idx, huren_index_publish_fn fn, void *payload);

/* One outbox row. */
typedef struct huren_index_outbox_item {
    int64_t id;
    const char *record_key;
    int64_t version;
    const char *pseudonym;
    int deleted;        /* 1: a deletion (entry is NULL) */
    const char *entry;  /* what the hook returned */
    int64_t created_at; /* seconds since the epoch */
    int attempts;       /* sends that did not get it acknowledged */
} huren_index_outbox_item;

typedef struct huren_index_outbox_batch {
    huren_index_outbox_item *items; /* strings belong to the batch */
    size_t n;
    void *arena_; /* private */
} huren_index_outbox_batch;

/* Up to max rows due at `now` (next attempt <= now), oldest first. Returns the count. */
int huren_index_outbox_fetch(huren_index *idx, int64_t now, size_t max,
                             huren_index_outbox_batch *out);
void huren_index_outbox_batch_free(huren_index_outbox_batch *b); /* NULL-safe */
/* Remove acknowledged rows (ids no longer there are skipped). Returns 0 or a negative code. */
int huren_index_outbox_ack(huren_index *idx, const int64_t *ids, size_t n);
/* Count one more attempt on each row and leave it until next_attempt (seconds since the
 * epoch), with the reason (cut at 512 bytes). Returns 0 or a negative code. */
int huren_index_outbox_defer(huren_index *idx, const int64_t *ids, size_t n, int64_t next_attempt,
                             const char *error);

typedef struct huren_index_outbox_stats {
    int64_t backlog;        /* rows waiting */
    int64_t deferred;       /* of which tried and not acknowledged at least once */
    int64_t oldest_created; /* seconds since the epoch of the oldest row, 0 when empty */
    int64_t unpublishable;  /* records the hook declined (no national id, ...) */
} huren_index_outbox_stats;
int huren_index_outbox_stats_get(huren_index *idx, huren_index_outbox_stats *out);

#ifdef __cplusplus
}
#endif
#endif
