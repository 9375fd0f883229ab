/* huren_audit.h: the audit trail, a leaf module (links only OpenSSL and threads; no SQLite).
 * The gateway records there every access to patient data; `huren audit verify` checks it. */
#ifndef HUREN_AUDIT_H
#define HUREN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 is success, failures negative (the same values as the index's codes). */
#define HUREN_AUDIT_OK 0
#define HUREN_AUDIT_ERROR (-1)   /* generic failure (out of memory, a damaged log); see err */
#define HUREN_AUDIT_EIO (-4)     /* disk: open, read, write or fsync failed */
#define HUREN_AUDIT_ECANCEL (-6) /* a line callback asked to stop */

/* An append-only file of JSON lines, one per access to patient data, each carrying the SHA-256
 * of the previous line, so that an edited, removed or reordered entry breaks the chain:
 *   {"seq":N,"prev":"<64 hex>","time":"...Z","actor":"...","role":"...","institution":"...",
 *    "action":"...","patient":"...","object":"...","outcome":"...","status":S,"remote":"...",
 *    "hash":"<64 hex>"}
 * hash = SHA-256 of the line's bytes before ,"hash"; the first entry's prev is 64 zeros. Knows
 * nothing of who calls it: the gateway fills the fields. */
typedef struct huren_audit huren_audit; /* opaque; safe to share between threads */

/* One entry. Strings are UTF-8 (invalid bytes are written as U+FFFD), NULL = "", each cut at
 * 1024 bytes. The time is stamped by the log, so entries are in time order in the file. */
typedef struct huren_audit_entry {
    const char *actor;       /* certificate subject, token name, calling AE title */
    const char *role;        /* clinician, peer, insurer, admin, dicom, ... */
    const char *institution; /* institution code of the actor */
    const char *action;      /* "dicomweb.read", "dimse.c-find", "hl7.store", ... */
    const char *patient;     /* patient id(s), '\'-separated */
    const char *object;      /* study UID, report id, request path, ... */
    const char *outcome;     /* "success", "refused", "failed", "error" */
    int status;              /* the protocol's status (HTTP status, DIMSE status), or 0 */
    const char *remote;      /* numeric address of the actor */
} huren_audit_entry;

/* Open (creating, mode 0640) the audit log at path and read its head (last sequence number and
 * hash). A last line cut short by a crash (never acknowledged) is removed and *repaired (if not
 * NULL) set to the number of bytes dropped. A damaged last entry, or a file another process
 * cannot share, is an error: returns a negative code, *out NULL, the reason in err. fsync = 1:
 * an append returns only after the entry is on disk (fdatasync; concurrent appends share one).
 * Other processes may append to the same file: appends hold an flock and follow their entries. */
int huren_audit_open(huren_audit **out, const char *path, int fsync, long *repaired, char *err,
                     size_t errlen);
/* Append one entry (thread-safe). Returns 0 and the entry's number in *seq (if not NULL), or
 * HUREN_AUDIT_EIO (nothing appended, or not durable; reason in err), HUREN_AUDIT_ERROR. */
int huren_audit_append(huren_audit *a, const huren_audit_entry *e, uint64_t *seq, char *err,
                       size_t errlen);
/* Number of entries and hash of the last one (65 bytes with NUL; zeros when empty). */
uint64_t huren_audit_head(huren_audit *a, char head[65]);
void huren_audit_close(huren_audit *a); /* NULL-safe */

/* Result of huren_audit_verify. */
typedef struct huren_audit_check {
    int intact;        /* 1: every link holds */
    uint64_t entries;  /* entries checked and intact */
    uint64_t bad_line; /* when !intact: 1-based line of the first broken link */
    char reason[256];  /* when !intact: what is wrong there */
    char head[65];     /* hash of the last intact entry */
} huren_audit_check;

/* Check the whole chain of the file at path. Returns 0 with *out filled (intact or not), or a
 * negative code when the file cannot be read (reason in err). */
int huren_audit_verify(const char *path, huren_audit_check *out, char *err, size_t errlen);

/* Called with each complete line (without its newline; borrowed for the call). Nonzero stops. */
typedef int (*huren_audit_line_cb)(void *payload, const char *line, size_t len);
/* Read the lines of the log at path in order. Returns 0, HUREN_AUDIT_ECANCEL if cb stopped, or
 * a negative code (reason in err). A missing file has no lines. */
int huren_audit_scan(const char *path, huren_audit_line_cb cb, void *payload, char *err,
                     size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
