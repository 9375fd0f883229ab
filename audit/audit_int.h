/* audit_int.h: what the files of audit/ share (line format, hashing), never installed. */
#ifndef HUREN_AUDIT_INT_H
#define HUREN_AUDIT_INT_H

#include "huren_audit.h"
#include "huren_buf.h"

#include <stddef.h>
#include <stdint.h>

#define AUDIT_FIELD_MAX 1024       /* bytes of one field's value, before escaping */
#define AUDIT_LINE_MAX_BYTES 65536 /* longer lines are not ours: a broken link */
#define AUDIT_HASH_HEX 64
extern const char huren_audit_zero_hash_[AUDIT_HASH_HEX + 1];

/* A line is assembled in common/'s bounded buffer. */
typedef huren_buf huren_audit_buf_;

/* Format entry seq (after prev) as one line with its hash and newline into b; the line's
 * hash goes to hash. Returns 0 or -1 (out of memory). */
int huren_audit_format_line_(huren_audit_buf_ *b, uint64_t seq, const char *prev,
                             const huren_audit_entry *e, char hash[AUDIT_HASH_HEX + 1]);
/* Parse one line (without newline): its seq, prev and hash. NULL when well formed and its hash
 * holds, else what is wrong. */
const char *huren_audit_parse_line_(const char *line, size_t len, uint64_t *seq,
                                    char prev[AUDIT_HASH_HEX + 1], char hash[AUDIT_HASH_HEX + 1]);

#endif
