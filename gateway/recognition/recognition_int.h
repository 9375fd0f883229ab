/* recognition_int.h: the recognition feature's state and its HTTP client calls, shared by the
 * files of gateway/recognition/ only. */
#ifndef HUREN_GATEWAY_RECOGNITION_INT_H
#define HUREN_GATEWAY_RECOGNITION_INT_H

#include "http/client.h"
#include "huren_err.h"
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "reference.h"
#include "config.h"
#include "ingest/ingest_dicom.h"
#include "http/http.h"
#include "identity.h"
#include "node.h"

#include <jansson.h>

#include <pthread.h>
#include <stdatomic.h>

#define REC_BODY_MAX (4 << 20)   /* bytes of one answer from the directory or a peer */
#define REC_PEER_TIMEOUT_MS 5000 /* one peer's metadata; a slower peer is "unavailable" */

#define REC_REF_RETIRED_MAX 256 /* replaced reference tables kept until stop */
#define REC_JOBS_MAX 64         /* background retrievals remembered (running or finished) */

/* A background retrieval (jobs.c): written by its thread, read by GET /api/v1/retrievals/{id}. */
typedef struct rec_job {
    char id[33];
    char study[65];
    char source[1024];
    char error[HUREN_ERRLEN]; /* set before state leaves "running" */
    atomic_int state;         /* 0 free, 1 running, 2 complete, 3 incomplete */
    atomic_size_t stored, held, refused, failed, bytes;
    pthread_t thread;
    int joinable;
    struct recognition *rec;
    node *n;
} rec_job;

typedef struct recognition {
    const config *cfg;
    catalogue *_Atomic cat; /* owned; replaced by recognition_catalogue_reload */
    unsigned char key[CONFIG_REGION_KEY_MAX];
    size_t keylen;
    const char *cert, *key_file, *ca; /* client certificate towards directory and peers */
    atomic_int stopping;              /* node shutting down: transfers abort */
    pthread_mutex_t jobs_mu;          /* guards the jobs table (not the counters) */
    rec_job jobs[REC_JOBS_MAX];
    /* the province's reference data (reference_pull.c), guarded by ref_mu */
    pthread_mutex_t ref_mu;
    pthread_cond_t ref_cond;
    pthread_t ref_thread;
    int ref_running, ref_stop;
    ref_table *refs[REF_NKINDS];
    ref_table *retired[REC_REF_RETIRED_MAX];
    size_t nretired;
    long ref_status[REF_NKINDS]; /* the directory's last answer (0: none) */
    long long ref_checked[REF_NKINDS];
    /* the platform's reasons for not recognising (reasons.c): codes NULL-terminated */
    char **reason_codes, **reason_zh, **reason_en;
    size_t nreasons;
    /* the price list (prices.c): item codes and their prices in fen */
    char **price_items;
    int64_t *price_fen;
    size_t nprices;
} recognition;

/* [recognition] prices (path, "" = none) into rec; -1 with err (the file's line). */
int rec_prices_load(recognition *rec, const char *path, char *err, size_t errlen);
void rec_prices_free(recognition *rec);
/* The price of item in fen, -1 when the list has none. */
int64_t rec_price_fen(const recognition *rec, const char *item);
/* "178.50" (yuan, two decimals, no floating point) to 17850 fen: 0, or -1 when malformed. */
int rec_fen_parse(const char *s, int64_t *fen);
void rec_fen_format(int64_t fen, char out[32]); /* 17850 -> "178.50" */

/* [recognition] reasons (path, "" = the national default list) into rec; -1 with err (the
 * file's line). rec_reasons_free is NULL-safe on an empty table. */
int rec_reasons_load(recognition *rec, const char *path, char *err, size_t errlen);
void rec_reasons_free(recognition *rec);

/* ---- the province's reference data (reference_pull.c) ---- */
/* Load the last good copy and start pulling; -1 when the thread cannot start. */
int rec_reference_start(recognition *rec);
void rec_reference_stop(recognition *rec);
/* The table of kind k now, or NULL; borrowed until stop. */
const ref_table *rec_reference(recognition *rec, ref_kind k);
/* {"catalogue": {"version", "rows", "last_status"}, ...} into o (for health). */
void rec_reference_json(recognition *rec, json_t *o);

/* ---- the reference data applied to a prompt (province.c) ---- */
#include "rules.h"
/* Item `code` as the province's catalogue gives it: 1 with *it (borrowed), 0 when the
 * province's catalogue (or the item in it) is not held. */
int rec_province_item(recognition *rec, const char *code, rec_ref_item *it);
/* rules.c's rec_reference_check with holder's and asker's registry entries and QC passes. */
rec_exclusion rec_province_check(recognition *rec, const rec_ref_item *it, const char *order_date,
                                 const char *holder, const char *asker, const char *result_date);
/* The registry's name, short name, class and city of institution code onto o, when known. */
void rec_province_institution(recognition *rec, const char *code, json_t *o);

/* Whom a retrieved study belongs to here (copy.c): the ids it is indexed under and its
 * source, for ingest_dicom_copy (in points into the buffers). */
typedef struct rec_copy {
    ingest_copy in;
    char patient_id[128], issuer[128], other_ids[64], institution[128], source[1024];
} rec_copy;
/* Prepare *c for result `key` of prompt `prompt_id` ("<institution>/study:<uid>"), or with
 * prompt_id NULL for record `key` ("study:<uid>") as the newest prompt listed it. Returns 0,
 * or -1 with err (the archive failed). */
int rec_copy_prepare(node *n, const char *prompt_id, const char *key, rec_copy *c, char *err,
                     size_t errlen);

/* One study's retrieval over WADO-RS into the archive (retrieval.c); job, when not NULL, gets
 * the progress. Returns the source's HTTP status (0: no answer); counters and err in *out. */
typedef struct rec_retrieve_out {
    size_t stored, held, refused, failed;
    int local_error; /* 500: the archive or a temp file failed */
    char err[HUREN_ERRLEN];
} rec_retrieve_out;
long rec_retrieve(node *n, const char *study, const char *source, rec_job *job,
                  rec_retrieve_out *out);

/* Start a background retrieval (jobs.c): returns the job (id filled), or NULL when the table
 * is full of running ones. */
rec_job *rec_job_start(node *n, const char *study, const char *source);
rec_job *rec_job_find(recognition *rec, const char *id); /* NULL when unknown */
void rec_jobs_stop(recognition *rec);                    /* abort and join them all */

/* One GET: url in, status/body/error out. */
typedef struct rec_fetch {
    const char *url;
    long status;              /* HTTP status, 0 when no answer */
    huren_buf body;           /* the answer, bounded by REC_BODY_MAX (free with rec_fetch_clear) */
    char error[HUREN_ERRLEN]; /* why there is no answer */
} rec_fetch;

/* Run the n GETs in parallel (libcurl multi, mTLS with rec's certificate), each bounded by
 * timeout_ms and REC_BODY_MAX. Returns 0 (each fetch has its own outcome), -1 when libcurl
 * cannot start. */
int rec_fetch_all(const recognition *rec, rec_fetch *f, size_t n, long timeout_ms);
void rec_fetch_clear(rec_fetch *f);

/* A query-string value escaped for a URL (caller frees), NULL when out of memory. */
char *rec_url_escape(const char *s);

/* ---- the steps of a consent-checked query across hospitals (lookup.c) ----
 * Each answers the request (res) and returns -1 (NULL) when the query cannot go on. */
typedef struct rec_patient {
    char nid[IDENTITY_ID_LEN + 1]; /* the national id (wiped once the pseudonym is made) */
    identity_type type;
    char local[128]; /* this hospital's patient id, "" when given a national id */
    char pseudonym[IDENTITY_PSEUDONYM_HEX + 1];
} rec_patient;

/* The patient's national id from `patient` (a resident ID, or a local id with one on file):
 * 400 malformed resident ID, 404 unknown, 422 none on file, 503 archive. */
int rec_patient_resolve(node *n, const char *patient, rec_patient *p, http_response *res);
/* The patient's recognition consent for this institution in force now: 403 with the reason. */
int rec_consent_require(node *n, const rec_patient *p, http_response *res);
/* The order check (api_order_check.c): a patient and the draft orders (strings borrowed). */
#define REC_ORDERS_MAX 32
typedef struct rec_order_query {
    const char *patient, *doctor, *department, *visit;
    const char *codes[REC_ORDERS_MAX], *ids[REC_ORDERS_MAX]; /* ids[i] may be NULL */
    size_t norders;
} rec_order_query;
/* Per order {"id", "code", "status" (the query's HTTP status), "recognisable" (results
 * listed), "prompt" (the query's answer), "error"}: a new array, or NULL if out of memory. */
json_t *rec_order_check(http_request *req, const rec_order_query *q);

/* A request of a HIS-launched session (req->session) about result key of prompt prompt_id:
 * 0 when the prompt is about the session's patient (res->audit_patient then names it) or the
 * request has no session; -1 after answering 403 (another patient) or 503. Before anything
 * is done: a decision or retrieval for another patient must not happen at all. */
int rec_session_bind(http_request *req, const char *prompt_id, const char *key, http_response *res);
/* p->pseudonym from p->nid with the region key; the caller wipes p->nid when done (a prompt
 * keeps it: a study retrieved from it is indexed under it). */
int rec_patient_pseudonym(const recognition *rec, rec_patient *p, http_response *res);
/* The directory's answer for the pseudonym (kind, item and since optional): the JSON object
 * with its "records" array (caller decrefs), or NULL after answering 502. */
json_t *rec_directory_lookup(const recognition *rec, const char *pseudonym, const char *kind,
                             const char *item_code, const char *since, http_response *res);
/* Is the directory entry e a report described by another entry of records (its study's)? */
int rec_entry_folded(json_t *records, json_t *e);
/* Copy what the exam of directory entry e has onto the result o: "images", "report" (booleans)
 * and "report_key" (the report folded into a study's entry). */
void rec_exam_parts(json_t *o, json_t *e);
void rec_today(char out[9]);     /* YYYYMMDD, local time */
int rec_random_id(char out[33]); /* 32 hex characters from the CSPRNG; -1 (logged) when none */

#include "index/index_recognition.h"
/* The deciding doctor's identity: the request's doctor, else the client certificate's
 * subject; sets d->doctor_source (api_decisions.c). */
void rec_doctor_identity(const http_request *req, huren_index_rec_decision *d);

#endif
