/* huren_index.h: the archive's public interface.
 * A SQLite database (WAL, versioned migrations) of patients, studies, series and instances,
 * plus the blob store on disk that holds each instance's Part-10 file. Knows no wire format:
 * callers hand it UTF-8 attribute values in a fixed field table and a temp file to adopt. */
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
        NULL, HUREN_INDEX_DUP_KEEP, 1, 10000, 64, 0, HUREN_INDEX_PACK_MAX_BYTES                    \
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

/* huren_index_instance_put with flags. Small instances (pack_max_instance) are copied into a
 * pack, synced once per group commit, instead of getting a file of their own; tmp_path then
 * still exists on return when HUREN_INDEX_PUT_KEEP_TMP is given. */
int huren_index_instance_put_ex(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                                const char *tmp_path, unsigned flags,
                                huren_index_put_outcome *outcome);

/* ---- retrieved copies (schema 9, index/copies.c) ----
 * An instance stored by retrieval from another hospital is a copy of that hospital's record:
 * indexed under this hospital's patient (the caller maps the ids), marked with its source.
 * A study all of whose instances are copies is a copy: the publish hook is told (copy_of). */
typedef struct huren_index_copy {
    const char *institution; /* required: code of the institution the copy came from */
    const char *source_url;  /* its gateway, or NULL */
    const char *patient_id;  /* PatientID at the source, as received (NULL: none) */
    const char *issuer;      /* IssuerOfPatientID at the source (NULL: none) */
    int64_t retrieved_at;    /* Unix seconds; 0 = now */
} huren_index_copy;

/* huren_index_instance_put_ex for a retrieved copy: the same, and the new instance is marked
 * with copy (required; text up to 4096 bytes). A copy of an instance already held is a kept
 * duplicate like any other (with HUREN_INDEX_DUP_KEEP an own instance stays own). */
int huren_index_instance_put_copy(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                                  const char *tmp_path, unsigned flags,
                                  const huren_index_copy *copy, huren_index_put_outcome *outcome);

/* Is the study with that UID a copy? Returns 1 (institution code copied to copy_of, len
 * bytes), 0 when it is this hospital's own or not held, < 0 on error. */
int huren_index_study_copy_of(huren_index *idx, const char *study_uid, char *copy_of, size_t len);

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
} huren_index_row;

/* Return nonzero from the callback to stop; huren_index_find then returns HUREN_INDEX_ECANCEL. */
typedef int (*huren_index_row_cb)(void *payload, const huren_index_row *row);

/* Run a query; calls cb once per matching row, ordered by the level's natural key (patient id,
 * study date/time, series number, instance number, then UID). Returns the number of rows
 * delivered (>= 0) or a negative code (HUREN_INDEX_EINVAL for a malformed value, naming it). */
int huren_index_find(huren_index *idx, const huren_index_query *q, huren_index_row_cb cb,
                     void *payload);

/* Archive totals, for health and metrics. */
typedef struct huren_index_stats {
    int64_t patients, studies, series, instances;
    int64_t bytes; /* sum of blob sizes */
} huren_index_stats;
int huren_index_stats_get(huren_index *idx, huren_index_stats *out);

/* ---- additions (index module, after the first contract) ---- */

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

/* ---- clinical records (schema 4): patients, visits, reports, diagnoses, charges ----
 * Records that hospital systems send (the gateway maps HL7 v2 onto them; the index knows no
 * wire format). Text is UTF-8; times are as sent (YYYYMMDD[HHMM[SS]]); NULL or "" = absent.
 * Record patients are keyed by the hospital's local patient id and kept apart from the DICOM
 * patients table (see index/README.md). Money is integer fen (1/100 yuan), never floating. */

typedef struct huren_index_rec_patient {
    const char *patient_id;       /* local patient id: required */
    const char *national_id;      /* resident id / insurance number, if known */
    const char *national_id_type; /* its identifier type code ("ID", "NI", ...) */
    const char *name;             /* "family^given" as sent */
    const char *sex;              /* M F O U */
    const char *birth_date;       /* YYYYMMDD */
} huren_index_rec_patient;

typedef struct huren_index_visit {
    const char *visit_number; /* required: unique within the hospital */
    const char *visit_class;  /* I inpatient, O outpatient, E emergency, ... */
    const char *department;
    const char *admit_time;
    const char *discharge_time;
} huren_index_visit;

typedef struct huren_index_observation {
    const char *set_id;
    const char *value_type; /* NM ST TX CE CWE SN FT ... */
    const char *code, *name, *code_system;
    const char *value; /* as sent (coded values "code^text", SN "<^5") */
    const char *units;
    const char *reference_range;
    const char *abnormal_flags; /* H L N A ... */
    const char *status;         /* F C P ... */
    const char *observed_time;
} huren_index_observation;

typedef enum huren_index_report_kind {
    HUREN_INDEX_REPORT_LAB = 0, /* laboratory results */
    HUREN_INDEX_REPORT_EXAM     /* imaging / exam report (text conclusion), linked by accession */
} huren_index_report_kind;

/* One report (HL7: one OBR with its OBX). A report is identified by (source, order key,
 * item_code), the order key being filler_number when given, else placer_number; a report that
 * arrives again under the same identity replaces the current version, which is kept in the
 * history (e.g. a corrected result, status C, replacing the final one). */
typedef struct huren_index_report {
    huren_index_report_kind kind;
    const char *placer_number, *filler_number; /* at least one required */
    const char *accession_number;              /* links an exam report to its DICOM study */
    const char *item_code;                     /* OBR-4's code; absent for a text-only OBR-4
                                                  (stored as "", not recognisable) */
    const char *item_name, *item_system;
    const char *specimen;
    const char *requested_time, *observed_time, *reported_time;
    const char *ordering_institution, *ordering_department;
    const char *performing_institution, *performing_department;
    const char *result_status; /* F C P X ... */
    const char *sender_app, *sender_facility;
    const huren_index_observation *obs;
    size_t nobs;
    /* filled by reads only (ignored on put) */
    int64_t id;             /* stable across corrections */
    int version;            /* 1, 2, ... */
    const char *patient_id; /* local id of the (surviving) patient */
    const char *visit_number;
    const char *message_id;
    const char *stored_at;   /* YYYYMMDDHHMMSS UTC when this version was stored */
    const char *replaced_at; /* history versions: when replaced */
    const char *study_uid;   /* exam reports: the DICOM study with that accession number */
} huren_index_report;

typedef struct huren_index_diagnosis {
    const char *set_id;
    const char *code; /* required, ICD-10 */
    const char *description, *code_system;
    const char *type; /* A admitting, W working, F final */
    const char *diagnosed_time;
} huren_index_diagnosis;

typedef struct huren_index_charge {
    const char *transaction_id; /* a re-sent charge with the same id replaces the earlier one */
    const char *item_code, *item_name;
    const char *quantity; /* decimal text as sent */
    int64_t unit_price_fen;
    int has_unit_price;
    int64_t amount_fen; /* required */
    const char *charged_time;
    const char *department;
} huren_index_charge;

/* Everything one message asks the archive to store, written in one transaction (sharing the
 * group commit with other puts). `source` + `message_id` identify the message: a message seen
 * before is not stored again (outcome HUREN_INDEX_PUT_DUPLICATE). patient is required unless
 * nothing else is given; visit, reports, diagnoses, charges are optional (diagnoses and
 * charges need a visit). merge_from_patient_id (ADT^A40): that patient's visits and reports
 * move to `patient`, the old row is kept, marked merged, and the merge is recorded. */
typedef struct huren_index_records {
    const char *source;       /* required: sending application|facility */
    const char *message_id;   /* required: the sender's control id */
    const char *message_type; /* e.g. "ORU^R01", kept for the record */
    const huren_index_rec_patient *patient;
    const huren_index_visit *visit;
    const huren_index_report *reports;
    size_t nreports;
    const huren_index_diagnosis *diagnoses;
    size_t ndiagnoses;
    const huren_index_charge *charges;
    size_t ncharges;
    const char *merge_from_patient_id;
} huren_index_records;

/* Store recs durably (one transaction; returns after the commit). outcome: STORED, or
 * DUPLICATE when (source, message_id) was stored before (nothing written). Returns 0,
 * HUREN_INDEX_EINVAL (a required value missing, or a value longer than 4096 bytes (1 MiB for
 * observation values), named in huren_index_errmsg(); nothing stored), HUREN_INDEX_ENOTFOUND (merge
 * of an unknown patient), or an I/O/database error (nothing stored). */
int huren_index_records_put(huren_index *idx, const huren_index_records *recs,
                            huren_index_put_outcome *outcome);

/* A list of reports returned by the queries below; every string belongs to the list. */
typedef struct huren_index_report_list {
    huren_index_report *items;
    size_t n;
    void *arena_; /* private */
} huren_index_report_list;
void huren_index_report_list_free(huren_index_report_list *list); /* NULL-safe */

/* Filter for huren_index_reports_find (NULL/"" = any). */
typedef struct huren_index_report_filter {
    int kind;              /* -1 any, else a huren_index_report_kind */
    const char *item_code; /* exact */
    const char *since;     /* YYYYMMDD: observed (or stored) on or after this day */
    size_t limit;          /* 0: no limit */
} huren_index_report_filter;

/* Reports of the patient whose local id or national id is `id` (a merged patient's id finds
 * the survivor's reports), newest first by observation time, each with its observations.
 * Returns the number of reports (0 when none or the patient is unknown: check
 * huren_index_rec_patient_exists) or a negative code; *out is filled on success. */
int huren_index_reports_find(huren_index *idx, const char *id,
                             const huren_index_report_filter *filter, huren_index_report_list *out);

/* huren_index_reports_find restricted to the reports of visit `visit_number` (claims). */
int huren_index_visit_reports_find(huren_index *idx, const char *id, const char *visit_number,
                                   const huren_index_report_filter *filter,
                                   huren_index_report_list *out);

/* One report by id: items[0] is the current version, items[1..] the earlier versions, newest
 * first. HUREN_INDEX_ENOTFOUND for an unknown id. */
int huren_index_report_get(huren_index *idx, int64_t id, huren_index_report_list *out);

/* 1 when a record patient with that local or national id exists, 0 when not, < 0 on error.
 * When found and patient_id is not NULL, the surviving local id is copied there. */
int huren_index_rec_patient_exists(huren_index *idx, const char *id, char *patient_id, size_t len);

/* One visit with its diagnoses and charges. Strings belong to the struct. */
typedef struct huren_index_visit_record {
    huren_index_visit visit;
    huren_index_rec_patient patient;
    huren_index_diagnosis *diagnoses;
    size_t ndiagnoses;
    huren_index_charge *charges;
    size_t ncharges;
    int64_t total_fen; /* sum of the charges' amounts */
    void *arena_;      /* private */
} huren_index_visit_record;

/* The visit `visit_number` of the patient with local or national id `patient` (merges
 * followed). HUREN_INDEX_ENOTFOUND when either is unknown or the visit is another patient's.
 */
int huren_index_visit_get(huren_index *idx, const char *patient, const char *visit_number,
                          huren_index_visit_record *out);
void huren_index_visit_record_free(huren_index_visit_record *v); /* NULL-safe */

/* ---- consents and claims (schema 6, index/consents.c) ----
 * A consent is the patient's authorisation, recorded by hospital staff from a signed form:
 * for one purpose, to one grantee, for some visits, between two instants. A claim is the
 * signed bundle given to an insurer for one request; the index keeps its bytes as they were
 * sent. Times are Unix seconds (UTC). The rules that decide whether a consent allows an
 * access live in the gateway (gateway/consent.c); the index only stores and finds. */

typedef enum huren_index_consent_purpose {
    HUREN_INDEX_CONSENT_CLAIM = 0,  /* an insurer reads the claim data of the visits */
    HUREN_INDEX_CONSENT_RECOGNITION /* hospitals of the scope read results for recognition */
} huren_index_consent_purpose;

#define HUREN_INDEX_CONSENT_MAX_VISITS 64

typedef struct huren_index_consent {
    int64_t id;              /* filled on put and read */
    const char *patient_id;  /* required: the patient's local id (the surviving one) */
    const char *national_id; /* resident id, if known */
    const char *policy_ref;  /* the insurer's policy reference, if given */
    huren_index_consent_purpose purpose;
    const char *grantee;       /* required: institution code; "*" = any (recognition only) */
    const char *const *visits; /* visit numbers covered; nvisits 0 = any visit */
    size_t nvisits;
    int64_t valid_from, expires_at; /* in force for valid_from <= t < expires_at */
    const char *form_ref;           /* required: reference of the signed consent form */
    const char *created_by;         /* required: who recorded it (audit actor) */
    int64_t created_at;             /* set by put from the caller's value (0 = now) */
    int64_t revoked_at;             /* 0 = not revoked */
    const char *revoked_by;
} huren_index_consent;

/* Store a consent durably (its own transaction); *id gets its number. Returns 0 or
 * HUREN_INDEX_EINVAL (a required value missing or too long, more than
 * HUREN_INDEX_CONSENT_MAX_VISITS visits, expires_at <= valid_from), or a database error. */
int huren_index_consent_put(huren_index *idx, const huren_index_consent *c, int64_t *id);

/* Revoke consent id at time `at` by `by`. A consent already revoked keeps its first
 * revocation (returns 0). HUREN_INDEX_ENOTFOUND for an unknown id. */
int huren_index_consent_revoke(huren_index *idx, int64_t id, const char *by, int64_t at);

/* Filter of huren_index_consents_find: NULL / -1 = any. At least patient or policy_ref. */
typedef struct huren_index_consent_filter {
    const char *patient;    /* local or national id (merges followed: a consent recorded for
                               a merged-away id is found by the survivor's ids) */
    int purpose;            /* -1 or a huren_index_consent_purpose */
    const char *grantee;    /* exact */
    const char *policy_ref; /* exact */
} huren_index_consent_filter;

typedef struct huren_index_consent_list {
    huren_index_consent *items;
    size_t n;
    void *arena_; /* private */
} huren_index_consent_list;

/* Consents matching the filter, newest first (revoked and expired ones included: the caller
 * decides). Returns the number found or a negative code. */
int huren_index_consents_find(huren_index *idx, const huren_index_consent_filter *f,
                              huren_index_consent_list *out);
/* One consent by id (out->n = 1), HUREN_INDEX_ENOTFOUND when unknown. */
int huren_index_consent_get(huren_index *idx, int64_t id, huren_index_consent_list *out);
void huren_index_consent_list_free(huren_index_consent_list *l); /* NULL-safe */

typedef struct huren_index_claim {
    const char *claim_id;     /* required: opaque public id */
    const char *insurer;      /* required: institution code of the insurer */
    const char *request_id;   /* required: the insurer's request id */
    const char *request_hash; /* required: digest of what was asked (visit and identifier) */
    int64_t consent_id;
    const char *patient_id, *visit_number; /* required */
    const char *jws;                       /* required: the signed bundle as sent */
    size_t jws_len;
    int64_t created_at;
    void *arena_; /* private (reads) */
} huren_index_claim;

/* Store a claim durably. When (insurer, request_id) was stored before nothing is written,
 * *existing is set to 1 and HUREN_INDEX_OK returned: read it with huren_index_claim_find. */
int huren_index_claim_put(huren_index *idx, const huren_index_claim *c, int *existing);
/* The claim with that public id (claim_id non-NULL) or that (insurer, request_id). Returns 0
 * with *out filled (free with huren_index_claim_free), HUREN_INDEX_ENOTFOUND, or an error. */
int huren_index_claim_find(huren_index *idx, const char *claim_id, const char *insurer,
                           const char *request_id, huren_index_claim *out);
void huren_index_claim_free(huren_index_claim *c); /* NULL-safe */

/* ---- the regional directory (schema 7, index/directory.c) ----
 * Role directory: where each patient's records are, keyed by a pseudonym (64 lowercase hex of
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
} huren_index_dir_entry;

typedef enum huren_index_dir_outcome {
    HUREN_INDEX_DIR_STORED = 0, /* new entry */
    HUREN_INDEX_DIR_REPLACED,   /* a higher version replaced the one held */
    HUREN_INDEX_DIR_IGNORED,    /* the version held is the same or newer: nothing changed */
    HUREN_INDEX_DIR_REFUSED     /* invalid entry (reason says why): nothing stored */
} huren_index_dir_outcome;

typedef struct huren_index_dir_result {
    huren_index_dir_outcome outcome;
    int64_t held_version; /* IGNORED: the version the directory holds */
    char reason[160];     /* REFUSED: what is wrong, naming the field */
} huren_index_dir_result;

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

/* ---- recognition prompts and decisions (index/recognition.c) ----
 * A prompt is one recognition query answered to a doctor: the patient's pseudonym (never the
 * id), the catalogue item, who asked, and the results it listed (result keys, with the
 * institution holding each). A decision is the doctor's verdict on one listed result; one per
 * (prompt, result). Times are Unix seconds; days YYYYMMDD (the node's local date). Text up to
 * 256 bytes. */

#define HUREN_INDEX_REC_MAX_SHOWN 1000

typedef struct huren_index_rec_prompt {
    const char *prompt_id;  /* required: opaque public id (of a new prompt) */
    /* The prompt's identity (<= 256 bytes; NULL: none, every put is a new prompt): asking
     * again with the same key reuses the prompt (its id, its decisions); the results listed
     * are added to those it showed, each counted once. */
    const char *prompt_key;
    const char *order_id, *visit_id; /* optional: the order or visit it was asked for */
    int listing; /* 1: a timeline listing (retrievals may refer to it; no decisions, and not
                  * counted in the statistics) */
    int64_t created_at;     /* 0 = now */
    const char *day;        /* required: YYYYMMDD of created_at */
    const char *pseudonym;  /* required */
    const char *item_code;  /* required */
    const char *doctor, *department, *actor; /* optional */
    const char *const *result_keys;          /* the results shown (nresults <= MAX_SHOWN) */
    const char *const *institutions;         /* the institution of each */
    const char *const *sources;              /* the gateway URL holding each (NULL: none) */
    size_t nresults;
    /* the patient asked for (schema 9; optional): this hospital's local id when known, the
     * resident id and its type; a study retrieved from the prompt is indexed under them */
    const char *patient_id, *national_id, *national_id_type;
} huren_index_rec_prompt;

/* Store a prompt with its results in one transaction. Returns 0, HUREN_INDEX_EINVAL (a
 * required value missing, too long, too many results), or a database error. */
int huren_index_rec_prompt_put(huren_index *idx, const huren_index_rec_prompt *p);
/* The same, reusing the prompt of the same prompt_key when there is one: id_out (65 bytes)
 * gets the id of the prompt (p->prompt_id when new), *reused 1 when it was there before. */
int huren_index_rec_prompt_open(huren_index *idx, const huren_index_rec_prompt *p,
                                char id_out[65], int *reused);

typedef struct huren_index_rec_decision {
    const char *decision_id;          /* required: opaque public id (used when stored) */
    const char *prompt_id;            /* required */
    const char *result_key;           /* required */
    const char *decision;             /* required: "accepted" | "rejected" */
    const char *reason, *reason_text; /* rejected: the reason code (and text) */
    const char *doctor, *department, *order_id, *visit_id;
    int64_t created_at; /* 0 = now */
} huren_index_rec_decision;

typedef enum huren_index_rec_outcome {
    HUREN_INDEX_REC_STORED = 0, /* recorded */
    HUREN_INDEX_REC_SAME,       /* the same decision was recorded before: nothing written */
    HUREN_INDEX_REC_CONFLICT,   /* another decision is recorded for that result and prompt */
    HUREN_INDEX_REC_NO_PROMPT,  /* no such prompt (a timeline listing takes no decisions) */
    HUREN_INDEX_REC_NOT_SHOWN   /* the prompt did not list that result */
} huren_index_rec_outcome;

/* Record a decision. Returns 0 with *outcome set; for STORED, SAME and CONFLICT the id of the
 * decision held is copied to id_out (65 bytes). HUREN_INDEX_EINVAL for a bad value. */
int huren_index_rec_decision_put(huren_index *idx, const huren_index_rec_decision *d,
                                 huren_index_rec_outcome *outcome, char id_out[65]);

/* The decisions recorded for a prompt (strings belong to the list), oldest first. */
typedef struct huren_index_rec_decision_list {
    huren_index_rec_decision *items;
    size_t n;
    void *arena_; /* private */
} huren_index_rec_decision_list;
/* Returns the number of decisions (0 for an unknown prompt) or a negative code. */
int huren_index_rec_decisions_get(huren_index *idx, const char *prompt_id,
                                  huren_index_rec_decision_list *out);
void huren_index_rec_decision_list_free(huren_index_rec_decision_list *l); /* NULL-safe */

typedef enum huren_index_rec_group {
    HUREN_INDEX_REC_BY_ITEM = 0,
    HUREN_INDEX_REC_BY_DEPARTMENT,  /* the prompt's department ("" when not given) */
    HUREN_INDEX_REC_BY_INSTITUTION, /* the institution holding the result shown */
    HUREN_INDEX_REC_BY_MONTH        /* YYYYMM of the prompt's day */
} huren_index_rec_group;

typedef struct huren_index_rec_reason_count {
    const char *reason;
    int64_t n;
} huren_index_rec_reason_count;

typedef struct huren_index_rec_stats_row {
    const char *key;
    int64_t prompts;  /* prompts of the group (by institution: prompts listing one of its) */
    int64_t shown;    /* distinct results listed per prompt: the recognisable results */
    int64_t accepted, rejected;
    huren_index_rec_reason_count *reasons; /* rejections by reason code */
    size_t nreasons;
} huren_index_rec_stats_row;

typedef struct huren_index_rec_stats {
    huren_index_rec_stats_row *rows; /* by key */
    size_t n;
    void *arena_; /* private */
} huren_index_rec_stats;

/* Counts of the prompts made from day `from` to day `to` (YYYYMMDD, inclusive; NULL = open),
 * grouped. Decisions count with their prompt. Returns the number of rows or a negative code. */
int huren_index_rec_stats_get(huren_index *idx, const char *from, const char *to,
                              huren_index_rec_group by, huren_index_rec_stats *out);
void huren_index_rec_stats_free(huren_index_rec_stats *s); /* NULL-safe */

/* The gateway URL (source) of result `result_key` as prompt `prompt_id` listed it, into
 * source (len bytes). Returns 1 when the prompt listed it, 0 when not, < 0 on error. */
int huren_index_rec_shown_source(huren_index *idx, const char *prompt_id, const char *result_key,
                                 char *source, size_t len);

/* The source of the newest prompt that listed record `record_key` ("study:<uid>") of any
 * institution, into source (len bytes). Returns 1 when one did, 0 when none, < 0 on error. */
int huren_index_rec_record_source(huren_index *idx, const char *record_key, char *source,
                                  size_t len);

/* Where a listed result came from and whom its prompt was about (index/copies.c). */
typedef struct huren_index_rec_origin {
    char source[1024];     /* the gateway URL holding it */
    char institution[128]; /* the institution the prompt listed it under */
    char patient_id[128];  /* the prompt's local patient id, "" when not known */
    char national_id[64];  /* the prompt's resident id, "" when not known */
    char national_id_type[16];
} huren_index_rec_origin;

/* The origin of result `key` as prompt `prompt_id` listed it (key "<institution>/study:<uid>"),
 * or with prompt_id NULL of the newest prompt that listed record `key` ("study:<uid>") of any
 * institution with a source. Returns 1 with *out filled, 0 when none, < 0 on error. */
int huren_index_rec_origin_get(huren_index *idx, const char *prompt_id, const char *key,
                               huren_index_rec_origin *out);

/* The national id on file for the record patient with local id `patient_id` (merges followed)
 * into out (len bytes). Returns 1 when found, 0 when unknown or without one, < 0 on error. */
int huren_index_rec_patient_national(huren_index *idx, const char *patient_id, char *out,
                                     size_t len);

#ifdef __cplusplus
}
#endif

/* Transitional (issue 17): the audit log moved to audit/ (huren_audit.h). Until every gateway
 * file includes it itself (tools/s5-includes.sh), its old names resolve to the new ones. */
#ifndef HUREN_INDEX_NO_COMPAT
#if defined(__has_include)
#if __has_include("audit/huren_audit.h")
#include "audit/huren_audit.h"
#define huren_index_audit huren_audit
#define huren_index_audit_entry huren_audit_entry
#define huren_index_audit_open huren_audit_open
#define huren_index_audit_append huren_audit_append
#define huren_index_audit_head huren_audit_head
#define huren_index_audit_close huren_audit_close
#define huren_index_audit_check huren_audit_check
#define huren_index_audit_verify huren_audit_verify
#define huren_index_audit_line_cb huren_audit_line_cb
#define huren_index_audit_scan huren_audit_scan
#endif
#endif
#endif
#endif
