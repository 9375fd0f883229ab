/* index_shares.h: cloud film shares (云胶片, schema 16): a patient's link to one study, opened
 * on a phone by an opaque token, with an expiry, an optional PIN (kept only as a salted hash)
 * and a revocation. The index stores and finds; the rules (expiry, PIN tries) live in
 * gateway/share/. */
#ifndef HUREN_INDEX_SHARES_H
#define HUREN_INDEX_SHARES_H

#include "huren_index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct huren_index_share {
    int64_t id;           /* filled on put and read */
    char study_uid[65];   /* required */
    char patient_id[129]; /* the study's PatientID, for the audit trail */
    char token[64];       /* required: the share's credential (base64url) */
    char pin_hash[160];   /* "" = no PIN, else the gateway's salted hash */
    int pin_failures;     /* wrong PINs in a row */
    char created_by[257]; /* required: who made it (audit actor) */
    int64_t created_at;   /* 0 on put = now */
    int64_t expires_at;   /* required */
    int64_t revoked_at;   /* 0 = not revoked */
    char revoked_by[257];
    int64_t opened; /* how many times it was opened */
} huren_index_share;

/* Store a new share (its own transaction); *id gets its number. HUREN_INDEX_EINVAL when a
 * required value is missing or too long. */
int huren_index_share_put(huren_index *idx, const huren_index_share *s, int64_t *id);
/* One share by id, or by token (found by the token's SHA-256, then compared in constant
 * time). HUREN_INDEX_ENOTFOUND when unknown. */
int huren_index_share_get(huren_index *idx, int64_t id, huren_index_share *out);
int huren_index_share_by_token(huren_index *idx, const char *token, huren_index_share *out);
/* Revoke at `at` by `by`; a revoked share keeps its first revocation. ENOTFOUND if unknown. */
int huren_index_share_revoke(huren_index *idx, int64_t id, const char *by, int64_t at);
/* A wrong PIN (*failures gets the count in a row), a right one (count reset), an opening. */
int huren_index_share_pin_failed(huren_index *idx, int64_t id, int *failures);
int huren_index_share_pin_ok(huren_index *idx, int64_t id);
int huren_index_share_opened(huren_index *idx, int64_t id);
/* The shares of a study ("" or NULL: all), newest first, into a malloc'ed array (*out, *n;
 * free() it). Returns 0 or a negative code. */
int huren_index_shares_find(huren_index *idx, const char *study_uid, huren_index_share **out,
                            size_t *n);

#ifdef __cplusplus
}
#endif

#endif
