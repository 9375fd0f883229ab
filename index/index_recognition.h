/* index_recognition.h: mutual recognition: the prompts shown
 * to doctors (pseudonym, item, the results listed), their decisions and statistics, and the
 * retrieved copies of other hospitals' studies stored from a prompt (schema 9). */
#ifndef HUREN_INDEX_RECOGNITION_H
#define HUREN_INDEX_RECOGNITION_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A prompt is one recognition query answered to a doctor: the patient's pseudonym (never the
 * id), the catalogue item, who asked, and the results it listed (result keys, with the
 * institution holding each). A decision is the doctor's verdict on one listed result; one per
 * (prompt, result). Times are Unix seconds; days YYYYMMDD (the node's local date). Text up to
 * 256 bytes. */

#define HUREN_INDEX_REC_MAX_SHOWN 1000

typedef struct huren_index_rec_prompt {
    const char *prompt_id; /* required: opaque public id (of a new prompt) */
    /* The prompt's identity (<= 256 bytes; NULL: none, every put is a new prompt): asking
     * again with the same key reuses the prompt (its id, its decisions); the results listed
     * are added to those it showed, each counted once. */
    const char *prompt_key;
    const char *order_id, *visit_id; /* optional: the order or visit it was asked for */
    int listing;        /* 1: a timeline listing (retrievals may refer to it; no decisions, and not
                         * counted in the statistics) */
    int64_t created_at; /* 0 = now */
    const char *day;    /* required: YYYYMMDD of created_at */
    const char *pseudonym;                   /* required */
    const char *item_code;                   /* required */
    const char *doctor, *department, *actor; /* optional */
    const char *const *result_keys;          /* the results shown (nresults <= MAX_SHOWN) */
    const char *const *institutions;         /* the institution of each */
    const char *const *sources;              /* the gateway URL holding each (NULL: none) */
    const int *criticals;                    /* 1: shown as a critical value (NULL: none) */
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
int huren_index_rec_prompt_open(huren_index *idx, const huren_index_rec_prompt *p, char id_out[65],
                                int *reused);

typedef struct huren_index_rec_decision {
    const char *decision_id;          /* required: opaque public id (used when stored) */
    const char *prompt_id;            /* required */
    const char *result_key;           /* required */
    const char *decision;             /* required: "accepted" | "rejected" */
    const char *reason, *reason_text; /* rejected: the reason code (and text) */
    const char *doctor, *department, *order_id, *visit_id;
    const char *doctor_source; /* where doctor came from: request | certificate | session */
    int confirm_critical;      /* 1: the doctor confirmed recognising a critical value */
    int64_t created_at;        /* 0 = now */
    /* read back only (huren_index_rec_decisions_get): revoked_at 0 when not revoked */
    int64_t revoked_at;
    const char *revoked_by, *revoked_reason;
} huren_index_rec_decision;

typedef enum huren_index_rec_outcome {
    HUREN_INDEX_REC_STORED = 0, /* recorded */
    HUREN_INDEX_REC_SAME,       /* the same decision was recorded before: nothing written */
    HUREN_INDEX_REC_CONFLICT,   /* another decision is recorded for that result and prompt */
    HUREN_INDEX_REC_NO_PROMPT,  /* no such prompt (a timeline listing takes no decisions) */
    HUREN_INDEX_REC_NOT_SHOWN,  /* the prompt did not list that result */
    HUREN_INDEX_REC_UNCONFIRMED /* "accepted" for a critical result without confirm_critical */
} huren_index_rec_outcome;

/* Record a decision. Returns 0 with *outcome set; for STORED, SAME and CONFLICT the id of the
 * decision held is copied to id_out (65 bytes). HUREN_INDEX_EINVAL for a bad value. */
int huren_index_rec_decision_put(huren_index *idx, const huren_index_rec_decision *d,
                                 huren_index_rec_outcome *outcome, char id_out[65]);

/* Revoke decision `decision_id`: by (who), reason (required, <= 256 bytes), at (0 = now).
 * Returns 0 when revoked, HUREN_INDEX_ENOTFOUND for no such decision, 1 when it was revoked
 * before (nothing written), HUREN_INDEX_EINVAL for a bad value, or a database error. */
int huren_index_rec_decision_revoke(huren_index *idx, const char *decision_id, const char *by,
                                    const char *reason, int64_t at);

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
    int64_t prompts; /* prompts of the group (by institution: prompts listing one of its) */
    int64_t shown;   /* distinct results listed per prompt: the recognisable results */
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

/* An instance stored by retrieval from another hospital is a copy of that hospital's record:
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

#ifdef __cplusplus
}
#endif
#endif
