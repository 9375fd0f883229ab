/* huren_index.h: the archive's core interface.
 * A SQLite database (WAL, versioned migrations) of patients, studies, series and instances,
 * plus the blob store on disk that holds each instance's Part-10 file: open and close, error
 * codes, the field table, putting instances (group commit) and querying them. Knows no wire
 * format: callers hand it UTF-8 attribute values in a fixed field table and a temp file to
 * adopt. The other areas have a header each: index_records.h (clinical records),
 * index_consents.h (consents and claims), index_directory.h (directory and outbox),
 * index_recognition.h (prompts, decisions, retrieved copies), index_sys.h (seeding). */
#ifndef HUREN_INDEX_H
#define HUREN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. 0 is success; every failure is negative. */
#define HUREN_INDEX_OK 0
#define HUREN_INDEX_ERROR (-1)     /* generic failure; see huren_index_errmsg() */
#define HUREN_INDEX_EINVAL (-2)    /* bad argument or bad value (missing UID, bad query syntax) */
#define HUREN_INDEX_ENOTFOUND (-3) /* no such record */
#define HUREN_INDEX_EIO (-4)       /* disk: write, fsync, rename failed (full disk, ...) */
#define HUREN_INDEX_EBUSY (-5)     /* database locked beyond the busy timeout */
#define HUREN_INDEX_ECANCEL (-6)   /* a row callback asked to stop */

typedef enum huren_index_level {
    HUREN_INDEX_LEVEL_PATIENT = 0,
    HUREN_INDEX_LEVEL_STUDY,
    HUREN_INDEX_LEVEL_SERIES,
    HUREN_INDEX_LEVEL_INSTANCE
} huren_index_level;

/* The attributes the archive keeps, each at one level. Values are UTF-8 text as DICOM writes
 * them (dates YYYYMMDD, times HHMMSS.FFFFFF, person names with ^ and = groups, multiple values
 * separated by '\'). Fields marked (computed) are maintained by the index and ignored on put.
 * The kind decides how a query value matches (see huren_index_match). */
typedef enum huren_index_field {
    /* patient level */
    HUREN_INDEX_F_PATIENT_ID = 0, /* text, exact/wildcard */
    HUREN_INDEX_F_ISSUER_OF_PATIENT_ID,
    HUREN_INDEX_F_PATIENT_NAME,       /* person name */
    HUREN_INDEX_F_PATIENT_BIRTH_DATE, /* date */
    HUREN_INDEX_F_PATIENT_SEX,
    HUREN_INDEX_F_OTHER_PATIENT_IDS,     /* e.g. the national resident id, multi-valued */
    HUREN_INDEX_F_PATIENT_NUM_STUDIES,   /* (computed) */
    HUREN_INDEX_F_PATIENT_NUM_SERIES,    /* (computed) */
    HUREN_INDEX_F_PATIENT_NUM_INSTANCES, /* (computed) */
    /* study level */
    HUREN_INDEX_F_STUDY_UID,  /* uid, list */
    HUREN_INDEX_F_STUDY_DATE, /* date, range */
    HUREN_INDEX_F_STUDY_TIME, /* time, range */
    HUREN_INDEX_F_ACCESSION_NUMBER,
    HUREN_INDEX_F_STUDY_ID,
    HUREN_INDEX_F_STUDY_DESCRIPTION,
    HUREN_INDEX_F_REFERRING_PHYSICIAN, /* person name */
    HUREN_INDEX_F_INSTITUTION_NAME,
    HUREN_INDEX_F_MODALITIES_IN_STUDY,  /* (computed) multi-valued; matches if any value matches */
    HUREN_INDEX_F_SOP_CLASSES_IN_STUDY, /* (computed) multi-valued */
    HUREN_INDEX_F_STUDY_NUM_SERIES,     /* (computed) */
    HUREN_INDEX_F_STUDY_NUM_INSTANCES,  /* (computed) */
    /* series level */
    HUREN_INDEX_F_SERIES_UID, /* uid, list */
    HUREN_INDEX_F_MODALITY,
    HUREN_INDEX_F_SERIES_NUMBER,
    HUREN_INDEX_F_SERIES_DESCRIPTION,
    HUREN_INDEX_F_BODY_PART,
    HUREN_INDEX_F_SERIES_DATE,          /* date, range */
    HUREN_INDEX_F_SERIES_TIME,          /* time, range */
    HUREN_INDEX_F_PPS_START_DATE,       /* date, range */
    HUREN_INDEX_F_PPS_START_TIME,       /* time, range */
    HUREN_INDEX_F_SERIES_NUM_INSTANCES, /* (computed) */
    /* instance level */
    HUREN_INDEX_F_SOP_INSTANCE_UID, /* uid, list */
    HUREN_INDEX_F_SOP_CLASS_UID,    /* uid, list */
    HUREN_INDEX_F_INSTANCE_NUMBER,
    HUREN_INDEX_F_ROWS,
    HUREN_INDEX_F_COLUMNS,
    HUREN_INDEX_F_BITS_ALLOCATED,
    HUREN_INDEX_F_NUMBER_OF_FRAMES,
    HUREN_INDEX_F_TRANSFER_SYNTAX_UID, /* as stored */
    /* the pixel fingerprint (schema 15, provenance.c): SHA-256 of the PixelData value as stored
     * (huren_dicom_file_pixel_digest), 64 lowercase hex; on put, "" = the instance has no
     * PixelData, NULL = not computed (huren_index_provenance_backfill fills it later) */
    HUREN_INDEX_F_PIXEL_SHA256,
    HUREN_INDEX_F_COUNT
} huren_index_field;

/* How a field's query value is interpreted (huren_index_field_kind()). */
typedef enum huren_index_kind {
    HUREN_INDEX_KIND_TEXT = 0, /* exact; '*' and '?' wildcards; case-sensitive */
    HUREN_INDEX_KIND_PN,       /* like TEXT but case-insensitive, and matching the whole value or
                                  any one '='-separated group (alphabetic/ideographic/phonetic) */
    HUREN_INDEX_KIND_DATE,     /* exact, or range "lo-hi", "lo-", "-hi" (YYYYMMDD) */
    HUREN_INDEX_KIND_TIME,     /* exact, or range as for dates (HHMMSS[.F]); compares as text */
    HUREN_INDEX_KIND_UID,      /* exact, or a '\'-separated list of UIDs (any matches) */
    HUREN_INDEX_KIND_MULTI,    /* stored multi-valued; matches if any stored value matches
                                  (wildcards or a '\' list of alternatives) */
    HUREN_INDEX_KIND_COUNT     /* computed integer; not matchable */
} huren_index_kind;

huren_index_kind huren_index_field_kind(huren_index_field f);
huren_index_level huren_index_field_level(huren_index_field f);
/* Stable lowercase name of a field ("patient_id"), for logs and JSON. */
const char *huren_index_field_name(huren_index_field f);

typedef struct huren_index huren_index; /* opaque; safe to share between threads */

typedef enum huren_index_dup_policy {
    HUREN_INDEX_DUP_KEEP = 0, /* re-stored SOP instance: keep the first copy, drop the new file */
    HUREN_INDEX_DUP_REPLACE   /* re-stored SOP instance: the new file and attributes replace it */
} huren_index_dup_policy;

typedef struct huren_index_options {
    const char *data_dir; /* required: holds index.db, blobs/ and tmp/ (created) */
    huren_index_dup_policy dup_policy;
    int fsync;                 /* 1: fsync files, directories and commits (production);
                                  0 only for tests and benchmarks that say so */
    int busy_timeout_ms;       /* wait on a locked database this long */
    int group_commit_max;      /* at most this many puts share one transaction */
    int64_t pack_max_instance; /* instances up to this size (bytes) are appended to a shared
                                  pack file instead of a file of their own; 0 = never */
    int64_t pack_max_bytes;    /* a pack is closed and a new one started past this size */
} huren_index_options;

#define HUREN_INDEX_PACK_MAX_BYTES ((int64_t)1 << 30)
#define HUREN_INDEX_OPTIONS_INIT                                                                   \
    {                                                                                              \
        .data_dir = NULL, .dup_policy = HUREN_INDEX_DUP_KEEP, .fsync = 1,                          \
        .busy_timeout_ms = 10000, .group_commit_max = 64, .pack_max_instance = 0,                  \
        .pack_max_bytes = HUREN_INDEX_PACK_MAX_BYTES                                               \
    }

/* Open (creating and migrating as needed) the archive under opts->data_dir. Files left in tmp/
 * by a crash are removed. On failure returns a negative code, *out is NULL and err (if not NULL)
 * holds the reason. Free with huren_index_close(). */
int huren_index_open(huren_index **out, const huren_index_options *opts, char *err, size_t errlen);
/* Close the database (checkpointing the WAL). NULL-safe. */
void huren_index_close(huren_index *idx);
/* The calling thread's last error message on this handle; valid until its next call. */
const char *huren_index_errmsg(const huren_index *idx);
/* Schema version the database is at (after migrations). */
int huren_index_schema_version(const huren_index *idx);
/* Schema version the database was at when opened, before migrations (0: a new archive). */
int huren_index_schema_version_opened(const huren_index *idx);
/* The folder (same file system as the blobs) where callers create temp files to put. Borrowed,
 * valid until close. */
const char *huren_index_tmp_dir(const huren_index *idx);

/* Outcome of a put. */
typedef enum huren_index_put_outcome {
    HUREN_INDEX_PUT_STORED = 0, /* new instance */
    HUREN_INDEX_PUT_DUPLICATE,  /* already present, kept (tmp file removed) */
    HUREN_INDEX_PUT_REPLACED    /* already present, replaced */
} huren_index_put_outcome;

/* Adopt tmp_path (a complete Part-10 file inside huren_index_tmp_dir(), on the same file system)
 * as the instance described by values[] (indexed by huren_index_field; NULL or "" = absent;
 * study, series and SOP instance UIDs and the SOP class UID are required). The file is fsync'ed,
 * renamed into the blob store under a name derived from a hash (never from the values), its
 * directory fsync'ed, and the rows committed; only then does this return 0. Concurrent puts from
 * many threads share commits (group commit). On any failure nothing is visible and tmp_path is
 * removed; on success tmp_path no longer exists. Patient attributes of an existing patient are
 * updated from the newest instance. */
int huren_index_instance_put(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                             const char *tmp_path, huren_index_put_outcome *outcome);

/* Flags of huren_index_instance_put_ex. */
#define HUREN_INDEX_PUT_KEEP_TMP                                                                   \
    0x1 /* when the bytes are copied into a pack (or the instance is                               \
           a kept duplicate), leave tmp_path for the caller to reuse                               \
           or remove: saves creating a file per instance */

#define HUREN_INDEX_PUT_DEFER_SYNC                                                                 \
    0x2 /* return once the rows are committed, while the index's                                   \
           WAL is still being synced: the caller does its own fsync                                \
           (its audit entry) meanwhile and MUST call                                               \
           huren_index_durable_wait() before it acknowledges */

/* Wait until the calling thread's puts made with HUREN_INDEX_PUT_DEFER_SYNC on idx are on disk
 * (at once when there are none). 0, or HUREN_INDEX_EIO when the WAL could not be synced: the
 * rows are committed but may not survive a power cut, so the put must not be acknowledged. */
int huren_index_durable_wait(huren_index *idx);

/* huren_index_instance_put with flags. Small instances (pack_max_instance) are copied into a
 * pack, synced once per group commit, instead of getting a file of their own; tmp_path then
 * still exists on return when HUREN_INDEX_PUT_KEEP_TMP is given. */
int huren_index_instance_put_ex(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                                const char *tmp_path, unsigned flags,
                                huren_index_put_outcome *outcome);

/* One condition of a query: field matches value (syntax by huren_index_field_kind()). An empty
 * value is universal matching (no condition) and only asks for the field to be returned. */
typedef struct huren_index_match {
    huren_index_field field;
    const char *value;
} huren_index_match;

typedef struct huren_index_query {
    huren_index_level level; /* the level of the rows returned */
    const huren_index_match *matches;
    size_t nmatches; /* conditions on fields of this level or any level above */
    size_t limit;    /* 0 = no limit */
    size_t offset;
} huren_index_query;

/* One result row: values of every field at row's level and the levels above (NULL if absent;
 * computed counts as decimal text). blob_path is the absolute path of the file holding the
 * Part-10 bytes for instance-level rows (blob_size bytes from blob_offset), NULL otherwise. All
 * borrowed, valid only during the callback. */
typedef struct huren_index_row {
    const char *values[HUREN_INDEX_F_COUNT];
    const char *blob_path;
    int64_t blob_size;
    int64_t blob_offset; /* where the instance starts in blob_path: 0 for a file of its own,
                            its position for an instance in a shared pack file */
    /* retrieved copies (schema 9): the code of the institution a copy came from, on instance
     * rows of a copy and on study and series rows of a study whose instances are all copies;
     * NULL for this hospital's own records (and patient rows) */
    const char *copy_of;
    /* instance rows of a copy: PatientID and IssuerOfPatientID at the source, as received
     * (the row's patient fields are this hospital's); NULL otherwise */
    const char *copy_patient_id, *copy_issuer;
    /* study rows of a study held at a PACS with none of its instances here (schema 12,
     * index_pacs.h): the PACS's name (its images are NEARLINE); the study's counts are then
     * the ones the PACS gave. NULL otherwise. */
    const char *held_at;
} huren_index_row;

/* Return nonzero from the callback to stop; huren_index_find then returns HUREN_INDEX_ECANCEL. */
typedef int (*huren_index_row_cb)(void *payload, const huren_index_row *row);

/* Run a query; calls cb once per matching row, ordered by the level's natural key (patient id,
 * study date/time, series number, instance number, then UID). Returns the number of rows
 * delivered (>= 0) or a negative code (HUREN_INDEX_EINVAL for a malformed value, naming it). */
int huren_index_find(huren_index *idx, const huren_index_query *q, huren_index_row_cb cb,
                     void *payload);

/* ---- provenance (schema 15, provenance.c) ----
 * A study's pixel fingerprint: its root is the SHA-256 of the fingerprints of its instances
 * that have PixelData, each as 64 lowercase hex digits followed by "\n", in ascending byte
 * order (duplicates kept): `sort fingerprints.txt | openssl dgst -sha256` gives it. */
typedef struct huren_index_provenance {
    int64_t instances;     /* instances of the study held here */
    int64_t fingerprinted; /* of which with PixelData, in the root */
    int64_t unknown;       /* of which not fingerprinted yet (stored before schema 15) */
    char root[65];         /* "" when no instance is fingerprinted */
} huren_index_provenance;

/* The provenance of a study (all zero, root "", when the study is not held here). Returns 0
 * or a negative code. */
int huren_index_study_provenance(huren_index *idx, const char *study_uid,
                                 huren_index_provenance *out);

/* The gateway's digest for the backfill: the Part-10 bytes of one instance are size bytes from
 * offset of the file at path (0/whole file, or inside a pack); fill hex (64 lowercase hex) and
 * return 0, return 1 when the instance has no PixelData, negative when it cannot be read. */
typedef int (*huren_index_digest_fn)(const char *path, int64_t offset, int64_t size, char hex[65],
                                     void *payload);

typedef struct huren_index_backfill_stats {
    int64_t fingerprinted, without_pixels, failed; /* failed ones stay unknown */
} huren_index_backfill_stats;

/* Fingerprint every instance stored before schema 15 (in batches, each committed with the
 * directory's new versions of the studies it changes). Returns 0 or a negative code. */
int huren_index_provenance_backfill(huren_index *idx, huren_index_digest_fn fn, void *payload,
                                    huren_index_backfill_stats *stats);

/* Archive totals, for health and metrics. */
typedef struct huren_index_stats {
    int64_t patients, studies, series, instances;
    int64_t bytes; /* sum of blob sizes */
} huren_index_stats;
int huren_index_stats_get(huren_index *idx, huren_index_stats *out);

/* ---- data care: backup and study deletion (backup.c, delete.c) ---- */

typedef struct huren_index_backup_stats {
    int64_t instances; /* rows in the backed-up index */
    int64_t files;     /* blob files of their own: hard-linked or copied */
    int64_t linked;    /* of which hard links */
    int64_t packs;     /* packs copied, each up to the last byte a row references */
    int64_t bytes;     /* bytes of blobs and packs copied or linked */
    int attempts;      /* snapshots taken (more than 1: a file went away under the first) */
} huren_index_backup_stats;

/* Back up the archive under data_dir into dest_dir (created; must hold no index.db or blobs/):
 * dest_dir/index.db from SQLite's online backup (one consistent read snapshot), and under
 * dest_dir/blobs/ every file that snapshot references: own files hard-linked when on the same
 * file system (they never change once written), else copied; packs copied up to the last byte
 * a row references (bytes past it may belong to a batch not yet committed). Needs no handle and
 * changes nothing in data_dir, so it runs beside a serving node: if a referenced file is
 * removed after the snapshot (a replaced instance, a deleted study, a compacted pack), it takes
 * a new snapshot (up to 5 times). fsync = 1 syncs every file written. Returns 0 (stats in *out
 * if not NULL), or a negative code with err set. */
int huren_index_backup(const char *data_dir, const char *dest_dir, int fsync,
                       huren_index_backup_stats *out, char *err, size_t errlen);

typedef struct huren_index_study_deleted {
    int64_t instances;     /* instance rows removed */
    int64_t files_removed; /* files of their own unlinked after the commit */
    int64_t pack_bytes;    /* bytes of packed instances now pack garbage */
    char patient_id[128];  /* the study's PatientID (for the audit trail), "" if none */
} huren_index_study_deleted;

/* Delete a study: its instances, series and the study row (and the patient row if it was the
 * patient's last study) in one transaction; the directory hears of it in the same transaction
 * (a tombstone, the next version of "study:<uid>" with no entry, queued under the pseudonym it
 * was last published with; a linked exam report is published on its own again). Files of their
 * own are removed after the commit (a crash in between: removed at the next open, through the
 * pending journal); packed instances' bytes become pack garbage (not reclaimed yet). Returns 0
 * (what went in *out if not NULL), HUREN_INDEX_ENOTFOUND, HUREN_INDEX_EINVAL (not a UID) or another
 * code. */
int huren_index_study_delete(huren_index *idx, const char *study_uid,
                             huren_index_study_deleted *out);

/* ---- data care: retention (retention.c) ---- */

typedef struct huren_index_retention_study {
    const char *study_uid, *study_date, *patient_id; /* borrowed for the callback */
    int64_t bytes;                                   /* its instances' bytes */
} huren_index_retention_study;
/* Nonzero stops the listing (huren_index_retention_candidates then returns ECANCEL). */
typedef int (*huren_index_retention_cb)(void *payload, const huren_index_retention_study *st);
/* The studies a retention rule may delete, oldest StudyDate first (then UID): those dated
 * before before_date (YYYYMMDD; NULL = any date), never one without a StudyDate. protect = 1
 * leaves out protected studies: one a recognition decision was taken on, and every study of a
 * PatientID an insurer claim names. Returns the count listed or a negative code. */
int huren_index_retention_candidates(huren_index *idx, const char *before_date, int protect,
                                     huren_index_retention_cb cb, void *payload);

/* ---- data care: pack garbage and compaction (compact.c) ---- */

typedef struct huren_index_pack_stats {
    int64_t packs;         /* pack files */
    int64_t bytes;         /* their sizes */
    int64_t garbage_bytes; /* of which no row uses (replaced or deleted instances) */
    int64_t ahead_bytes;   /* zeros written ahead of the pack being filled, not in bytes */
} huren_index_pack_stats;
/* Measure the packs (one directory listing, one indexed sum per pack, on a reader). */
int huren_index_pack_usage(huren_index *idx, huren_index_pack_stats *out);

typedef struct huren_index_compact_stats {
    int64_t packs_seen;      /* packs looked at */
    int64_t packs_rewritten; /* rewritten and removed */
    int64_t instances_moved; /* live instances copied into the current pack */
    int64_t bytes_freed;     /* garbage bytes given back */
    int64_t packs_retired;   /* rewritten, left for readers until grace_s has passed */
} huren_index_compact_stats;
/* Rewrite every pack whose garbage is at least threshold (0..1) of its size: its live
 * instances are appended to the current pack and synced, the rows repointed in one
 * transaction, then the pack is unlinked. Holds the writer for one pack at a time, so it may
 * run beside serving (puts wait for that pack). grace_s > 0 (a serving node): a rewritten pack
 * is left in place for readers that looked its rows up before the commit, and unlinked by the
 * first run grace_s seconds later (packs_retired counts both; its bytes are freed then); 0
 * unlinks at once (node stopped). Crash-safe at every step (compact.c). Returns 0 (what it
 * did in *out if not NULL) or a negative code. */
int huren_index_compact(huren_index *idx, double threshold, int grace_s,
                        huren_index_compact_stats *out);
/* Called after each named step of a compaction ("copied", "synced", "committed", "unlinked"):
 * the caller's crash tests stop the process there. NULL (the default) calls nothing. */
typedef void (*huren_index_step_fn)(const char *step, void *ctx);
void huren_index_compact_steps_set(huren_index *idx, huren_index_step_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
