/* index_records.h: clinical records (schema 4), the
 * patients, visits, reports (with observations), diagnoses and charges that hospital systems
 * send over HL7 v2, stored per message in one transaction and read back by patient or visit. */
#ifndef HUREN_INDEX_RECORDS_H
#define HUREN_INDEX_RECORDS_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Records that hospital systems send (the gateway maps HL7 v2 onto them; the index knows no
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

/* A diagnosis with the day it counts for (its own time, else the visit's admission or
 * discharge; YYYYMMDD) and its visit (diagnoses.c). */
typedef struct huren_index_dated_diagnosis {
    const char *code, *code_system, *type, *visit_number, *day;
} huren_index_dated_diagnosis;

typedef struct huren_index_diagnosis_list {
    huren_index_dated_diagnosis *items;
    size_t n;
    void *arena_; /* private */
} huren_index_diagnosis_list;

/* The diagnoses of the patient with local or national id `patient` (merges followed) whose
 * day is from_day <= day < to_day (YYYYMMDD), oldest first; diagnoses without any date are
 * left out. Returns the number found (free the list with huren_index_diagnosis_list_free) or a
 * negative code. */
int huren_index_patient_diagnoses(huren_index *idx, const char *patient, const char *from_day,
                                  const char *to_day, huren_index_diagnosis_list *out);
void huren_index_diagnosis_list_free(huren_index_diagnosis_list *l); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
