/* rules.h: the rules of mutual recognition (鲁医互认), pure and unit-tested: whether a directory
 * entry is recognisable for an item at a date (validity window counted back from that date,
 * the HR mark, its scope and the holder's qualification), and what a decision must carry
 * (accepted, or rejected with a standard reason code). No I/O here. */
#ifndef HUREN_GATEWAY_RECOGNITION_RULES_H
#define HUREN_GATEWAY_RECOGNITION_RULES_H

#include <stddef.h>

/* What the rules need of a directory entry (borrowed strings; NULL or "" = absent). */
typedef struct rec_entry {
    const char *institution;    /* the holder's code, e.g. H37010002 */
    const char *date;           /* YYYYMMDD the result was made */
    int hr;                     /* carries the HR (互认) mark */
    const char *hr_scope;       /* national | province | city */
    const char *qualified_from; /* YYYYMMDD: the holder's HR qualification */
    const char *qualified_to;
    int deleted;
} rec_entry;

typedef enum rec_verdict {
    REC_OK = 0,        /* recognisable */
    REC_BAD_DATE,      /* the entry has no valid date */
    REC_FUTURE,        /* made after the reference date */
    REC_EXPIRED,       /* past the item's validity window */
    REC_NOT_HR,        /* no HR mark, or the item is not an HR item */
    REC_NOT_QUALIFIED, /* the holder was not HR-qualified on the result's date */
    REC_OUT_OF_SCOPE,  /* the mark's scope does not reach the asking institution */
    REC_DELETED,       /* withdrawn at its source */
} rec_verdict;

/* Is entry e recognisable for an item with window_days and hr_scope (the catalogue's), at
 * reference day `at` (YYYYMMDD), by institution `asker`? valid_until (9 bytes) gets the last
 * day of the window (date + window_days) when the date is valid. Scope: national and province
 * reach every institution of the province (the same first two digits of the region); city
 * only those of the holder's city (the same first four digits of the region, the 6 digits
 * following the code's letter prefix). */
rec_verdict rec_entry_check(const rec_entry *e, int window_days, const char *item_scope,
                            const char *at, const char *asker, char valid_until[9]);
const char *rec_verdict_text(rec_verdict v);

/* YYYYMMDD (a real date) to days since 1970-01-01 and back. Returns 0, or -1 when malformed. */
int rec_day_parse(const char *s, long *days);
void rec_day_format(long days, char out[9]);

/* Is code one of the standard rejection reasons? */
int rec_reason_valid(const char *code);
/* The reason codes, NULL-terminated, in their documented order: the national default list
 * (conf/recognition-reasons.csv ships the same), used when no [recognition] reasons is set. */
extern const char *const rec_reasons[];
/* Is code one of codes (NULL-terminated)? */
int rec_reason_in(const char *const *codes, const char *code);

/* Check a decision's fields: decision "accepted" (no reason) or "rejected" with a valid
 * reason, reason_text required (<= 500 bytes) for "other". Returns 0, or -1 with why. */
int rec_decision_check(const char *decision, const char *reason, const char *reason_text, char *why,
                       size_t whylen);
/* The same with the platform's reason codes (NULL-terminated) instead of rec_reasons. */
int rec_decision_check_codes(const char *const *codes, const char *decision, const char *reason,
                             const char *reason_text, char *why, size_t whylen);

/* A prompt is one (patient, ordered item, order or visit, day): asking again for the same
 * returns the same prompt. key (65 bytes) gets the hex SHA-256 of those parts, each
 * length-prefixed (no two different tuples give one key): the pseudonym, the catalogue code,
 * "o" and the order id when there is one, else "v" and the visit id, else "-" (one prompt
 * per patient, item and day), and the day YYYYMMDD. Returns 0, or -1 when a required part
 * (pseudonym, item, day) is missing or hashing fails. */
int rec_prompt_key(const char *pseudonym, const char *item_code, const char *order_id,
                   const char *visit_id, const char *day, char key[65]);

/* The recognition rate (national definition): results recognised ÷ the prior recognisable
 * results the patient had when the item was ordered, i.e. accepted ÷ the distinct results the
 * prompts listed. 0 when nothing was recognisable. */
double rec_rate(long long recognised, long long recognisable);

/* ---- the province's rules (reference data: catalogue, registry, QC register) ---- */

/* Why a result is not offered as recognisable, as the API and the page say it. */
typedef enum rec_exclusion {
    REC_X_NONE = 0,
    REC_X_WINDOW,   /* the item not in the catalogue on the order date, or the result too old */
    REC_X_QC,       /* the issuer's QC did not cover the item (or its group) on the result date */
    REC_X_SCOPE,    /* the scope (by the registry's cities) or the issuer's class does not reach */
    REC_X_CRITICAL, /* a critical value: shown with a warning, never pre-selected */
    REC_X_UNAVAILABLE, /* its source did not answer */
} rec_exclusion;

/* A catalogue item as the province's catalogue gives it (borrowed strings, "" = open). */
typedef struct rec_ref_item {
    const char *code, *group;
    const char *valid_from, *valid_to; /* YYYYMMDD the item is in the catalogue */
    int window_days;
    const char *scope;   /* city | province | national */
    const char *issuers; /* '|'-separated institution classes, "" any */
} rec_ref_item;

/* An institution as the registry gives it; NULL when it is not in the registry. */
typedef struct rec_ref_inst {
    const char *city, *klass;
} rec_ref_inst;

/* One QC pass of the issuing institution: item or group code, passed from/to YYYYMMDD. */
typedef struct rec_qc_pass {
    const char *item, *from, *to;
} rec_qc_pass;

/* Is a result of `holder` made on result_date recognisable for item `it` ordered on
 * order_date by `asker`? In order: window (the item in the catalogue on the order date, the
 * result made no later than the order date and at most window_days before it), QC (a pass of
 * the holder for the item or its group covering the result date), scope (national: anyone;
 * province: both in the registry; city: the same city; and the holder's class one of the
 * item's issuers). A holder or asker missing from the registry is out of scope. */
rec_exclusion rec_reference_check(const rec_ref_item *it, const char *order_date,
                                  const char *result_date, const rec_ref_inst *holder,
                                  const rec_ref_inst *asker, const rec_qc_pass *qc, size_t nqc);
const char *rec_exclusion_code(rec_exclusion x); /* "window", "qc", ... ("" for none) */
const char *rec_exclusion_zh(rec_exclusion x);   /* 超出有效期, 质控未覆盖, ... */

/* Do HL7 abnormal flags (OBX-8, '~'-separated) mark a critical value (HH, LL or AA)? */
int rec_flags_critical(const char *flags);

#endif
