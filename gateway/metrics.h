/* metrics.h: the node's counters (lock-free atomics), rendered as Prometheus text at /metrics. */
#ifndef HUREN_GATEWAY_METRICS_H
#define HUREN_GATEWAY_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct metrics {
    atomic_uint_fast64_t instances_stored;    /* new instances (C-STORE, import) */
    atomic_uint_fast64_t instances_duplicate; /* re-sent instances kept once */
    atomic_uint_fast64_t instances_replaced;
    atomic_uint_fast64_t instances_rejected; /* refused: bad data */
    atomic_uint_fast64_t store_failures;     /* could not store: disk, database */
    atomic_uint_fast64_t dimse_echo, dimse_find, dimse_move, dimse_get, dimse_store;
    atomic_uint_fast64_t dimse_failures; /* any DIMSE operation answered with a failure */
    atomic_uint_fast64_t errors;         /* everything logged at error level */
    atomic_uint_fast64_t hl7_stored, hl7_duplicate; /* HL7 messages stored / re-sent, kept once */
    atomic_uint_fast64_t hl7_refused;               /* refused: unsupported or invalid (AE/AR) */
    atomic_uint_fast64_t hl7_failures;              /* the archive could not store them */
    /* role directory: entries received by outcome, lookups (directory_api.c) */
    atomic_uint_fast64_t dir_stored, dir_replaced, dir_ignored, dir_refused;
    atomic_uint_fast64_t dir_batches_refused; /* whole POSTs refused (malformed, too big) */
    atomic_uint_fast64_t dir_lookups;
    /* recognition (recognition/): prompts answered and the results they showed, decisions
     * recorded by kind, retrievals of listed studies by outcome, their instances and bytes */
    atomic_uint_fast64_t rec_prompts, rec_results_shown;
    atomic_uint_fast64_t rec_accepted, rec_rejected;
    atomic_uint_fast64_t rec_retrievals_complete, rec_retrievals_incomplete;
    atomic_uint_fast64_t rec_retrieved_instances, rec_retrieved_bytes;
    /* the audit trail (audit_trail.c): entries appended, and appends that failed */
    atomic_uint_fast64_t audit_appends, audit_failures;
} metrics;

#endif
