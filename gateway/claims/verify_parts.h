/* verify_parts.h: `huren verify-claim` on an underwriting bundle (docs/api/underwriting.md):
 * each part the bundle holds (a Binary of type application/jose) is a hospital's own compact
 * JWS, verified like the bundle itself. */
#ifndef HUREN_GATEWAY_VERIFY_PARTS_H
#define HUREN_GATEWAY_VERIFY_PARTS_H

#include <stddef.h>
#include <stdio.h>

/* Verify every part of the verified bundle payload (JSON, len bytes) against ca (NULL: the
 * signatures only), one line per part on out: "part N (INSTITUTION) signature OK: signed by
 * ..." or "... BAD: why". A part whose signer certificate does not name its institution
 * (OU=code) is bad. Returns the number of parts (0: not an underwriting bundle), or -1 when
 * a part is bad. */
int verify_parts(const unsigned char *payload, size_t len, const char *ca, FILE *out);

#endif
