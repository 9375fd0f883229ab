/* share.h: cloud film (云胶片): staff share one study with its patient by an opaque token shown
 * as a QR code on a printable slip; the patient opens it on a phone (no certificate, no login:
 * the token is the credential, with an optional PIN) and sees that study's images and report
 * only. Every creation, revocation, slip and opening is audited (routes.c). */
#ifndef HUREN_GATEWAY_SHARE_H
#define HUREN_GATEWAY_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

#define SHARE_TOKEN_BYTES 24 /* 192 bits */
#define SHARE_TOKEN_LEN 33   /* base64url of 24 bytes and its NUL */
#define SHARE_PIN_TRIES 5    /* wrong PINs in a row, then the share is locked */
#define SHARE_DAYS_DEFAULT 30
#define SHARE_DAYS_MAX 365

/* api_shares.c (staff): POST /api/v1/shares, GET /api/v1/shares?study_uid=, DELETE
 * /api/v1/shares/{id}; slip.c: GET /api/v1/shares/{id}/slip (the printable slip, HTML). */
int api_share_create(http_request *req, http_response *res);
int api_shares_list(http_request *req, http_response *res);
int api_share_revoke(http_request *req, http_response *res);
int api_share_slip(http_request *req, http_response *res);

/* share_page.c (anyone, the token is the credential): GET /s/{token} (the phone viewer, or the
 * PIN form), POST /s/{token} (pin=NNNNNN). A revoked or expired share answers 410. */
int share_open(http_request *req, http_response *res);
int share_pin(http_request *req, http_response *res);
/* For the share-scoped image routes /s/{token}/studies/{uid}/...: 1 when the token (captures[0])
 * names a live share of that study and its PIN (if any) was given in this browser; else 0 with
 * the refusal in res. -1 on an internal error. */
int share_guard(http_request *req, http_response *res);

/* share_token.c: a new token (RAND_bytes, base64url) and PIN (6 digits); a PIN's salted hash
 * ("pbkdf2-sha256$ITER$SALT$HASH") and its check (constant time); the hash prefix of a token
 * for logs and the audit trail (never the token itself). 0 / -1; share_pin_check 1 or 0. */
int share_token_new(char out[SHARE_TOKEN_LEN]);
int share_pin_new(char out[7]);
int share_pin_hash(const char *pin, char *out, size_t outlen);
int share_pin_check(const char *pin, const char *hash);
void share_token_tag(const char *token, char out[13]);
/* The value of the cookie that proves the PIN was given for token (hex, 64 chars). */
void share_pin_cookie(const char *token, const char *pin_hash, char out[65]);

/* share_qr.c: the QR code of text as an inline SVG (caller frees), or NULL. */
char *share_qr_svg(const char *text);

#endif
