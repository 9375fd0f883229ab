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
/* The reason codes, NULL-terminated, in their documented order. */
extern const char *const rec_reasons[];

/* Check a decision's fields: decision "accepted" (no reason) or "rejected" with a valid
 * reason, reason_text required (<= 500 bytes) for "other". Returns 0, or -1 with why. */
int rec_decision_check(const char *decision, const char *reason, const char *reason_text, char *why,
                       size_t whylen);

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

#endif
