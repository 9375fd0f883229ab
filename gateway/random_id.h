/* random_id.h: the one source of identifiers and tokens that must not be guessed (claim,
 * decision, prompt and retrieval ids, multipart boundaries): bytes from the kernel's CSPRNG
 * (getrandom(2)). It fails closed: when the kernel cannot give random bytes, the caller gets
 * an error and refuses the request (503), never a weaker id from rand() or the clock. */
#ifndef HUREN_GATEWAY_RANDOM_ID_H
#define HUREN_GATEWAY_RANDOM_ID_H

#include <stddef.h>

#define RANDOM_ID_BYTES 16                      /* 128 bits */
#define RANDOM_ID_LEN (2 * RANDOM_ID_BYTES + 1) /* lowercase hex and its NUL */

/* Fill buf with n bytes from the CSPRNG. Returns 0, or -1 (errno set; buf then unspecified
 * and must not be used). Thread-safe. */
int random_bytes(void *buf, size_t n);

/* A new id: RANDOM_ID_BYTES random bytes as lowercase hex into out (RANDOM_ID_LEN bytes).
 * Returns 0, or -1 with out set to "" when no random bytes could be had. */
int random_id(char out[RANDOM_ID_LEN]);

/* Tests only: replace the byte source (NULL restores getrandom(2)) to check that callers fail
 * closed. The source returns 0 or -1 like random_bytes. Not thread-safe. */
void random_id__set_source(int (*source)(void *buf, size_t n));

#endif
