/* share_int.h: what the files of share/ share among themselves (private). */
#ifndef HUREN_GATEWAY_SHARE_INT_H
#define HUREN_GATEWAY_SHARE_INT_H

#include "share.h"
#include "huren_buf.h"
#include "index/index_shares.h"

#include <time.h>

/* The study a share shows, as the index has it ("" when absent). */
typedef struct share_study {
    char patient_id[129], patient_name[200], date[16], modality[64], description[200];
} share_study;
/* 1 found, 0 not in the index, -1 error. */
int share_study_get(http_request *req, const char *study_uid, share_study *out);

/* "active", "revoked", "expired" or "locked" (too many wrong PINs) at now. */
const char *share_status(const huren_index_share *s, time_t now);
/* The URL a patient opens: [share] base_url or this node's own, then /s/{token}. */
void share_url(const http_request *req, const char *token, char *out, size_t len);
/* Append s HTML-escaped. */
void share_html(huren_buf *b, const char *s);
/* "2026-12-03" (the node's local date) from Unix seconds; "20261203" as "2026-12-03". */
void share_day(time_t t, char out[16]);
void share_dicom_date(const char *da, char out[16]);
/* Answer an HTML page (takes b), with no-store, no-referrer and a self-only policy. */
int share_reply_html(http_response *res, int status, huren_buf *b);
/* The page head and foot of the patient's pages and of the slip (style inline by hash-less
 * 'unsafe-inline' for styles only; no script at all). */
void share_page_head(huren_buf *b, const char *title);
void share_page_foot(huren_buf *b);

/* captures[0] as a share id (api_shares.c); 0 when malformed. */
int64_t share_id_arg(const http_request *req);

#endif
