/* identity.h: one person across hospitals. Normalises and validates mainland resident ID
 * numbers (GB 11643: 18 characters with an ISO 7064 MOD 11-2 check character; 15-digit legacy
 * numbers upgraded to 18) and foreign permanent-residence IDs, and derives the pseudonym the
 * regional directory sees instead: HMAC-SHA256(region key, type "|" normalised number). */
#ifndef HUREN_GATEWAY_IDENTITY_H
#define HUREN_GATEWAY_IDENTITY_H

#include <stddef.h>

#define IDENTITY_ID_LEN 18
#define IDENTITY_PSEUDONYM_HEX 64

typedef enum identity_type {
    IDENTITY_RESIDENT = 0, /* 居民身份证 */
    IDENTITY_FOREIGN,      /* 外国人永久居留身份证 (18 characters, starts with 9) */
} identity_type;

/* Normalise `in` (full-width digits and letters to ASCII, lowercase x to X, spaces and hyphens
 * dropped; a valid 15-digit number is upgraded to 18 with its check character) into out
 * (IDENTITY_ID_LEN + 1 bytes) and validate it: 6-digit region, a real birth date not in the
 * future, 3-digit sequence, check character. Returns 0 with *type set, or -1 with a message in
 * err naming what is wrong ("check character is 5, expected X"). Never logs the number. */
int identity_normalise(const char *in, char out[IDENTITY_ID_LEN + 1], identity_type *type,
                       char *err, size_t errlen);

/* The ISO 7064 MOD 11-2 check character of the first 17 digits. */
char identity_check_char(const char first17[17]);

/* pseudonym = lowercase hex of HMAC-SHA256(key, "<type>|<normalised number>"), type "CN-ID"
 * or "CN-FPR". out has IDENTITY_PSEUDONYM_HEX + 1 bytes. Returns 0, or -1. */
int identity_pseudonym(const unsigned char *key, size_t keylen, identity_type type,
                       const char normalised[IDENTITY_ID_LEN + 1],
                       char out[IDENTITY_PSEUDONYM_HEX + 1]);

#endif
