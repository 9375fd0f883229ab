/* audit_read.c: reading the audit log line by line in bounded memory, to scan its entries or
 * verify the whole hash chain. */
#include "audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- reading lines in bounded memory ---- */

typedef struct line_reader {
    int fd;
    char *buf;
    size_t start, len; /* unread bytes are buf[start .. start+len) */
    int eof;
} line_reader;

/* Next line into *line and *n (without newline). Returns 1, 0 at the end (*n > 0 then means a last
 * line without newline), -1 on a read error, -2 for a line longer than AUDIT_LINE_MAX_BYTES. */
static int next_line(line_reader *r, const char **line, size_t *n)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->len);
        if (nl) {
            *line = r->buf + r->start;
            *n = (size_t)(nl - *line);
            r->start += *n + 1;
            r->len -= *n + 1;
            return 1;
        }
        if (r->eof) {
            *line = r->buf + r->start;
            *n = r->len;
            return 0;
        }
        if (r->len == AUDIT_LINE_MAX_BYTES)
            return -2;
        memmove(r->buf, r->buf + r->start, r->len);
        r->start = 0;
        ssize_t got = read(r->fd, r->buf + r->len, AUDIT_LINE_MAX_BYTES - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
}

int huren_audit_scan(const char *path, huren_audit_line_cb cb, void *payload, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HUREN_AUDIT_EIO;
    }
    line_reader r = {fd, malloc(AUDIT_LINE_MAX_BYTES), 0, 0, 0};
    int rc = r.buf ? 0 : HUREN_AUDIT_ERROR;
    const char *line;
    size_t n;
    int got;
    while (rc == 0 && (got = next_line(&r, &line, &n)) == 1)
        if (cb(payload, line, n))
            rc = HUREN_AUDIT_ECANCEL;
    if (rc == 0 && got < 0) {
        snprintf(err, errlen, "%s: %s", path, got == -2 ? "line too long" : strerror(errno));
        rc = HUREN_AUDIT_EIO;
    }
    free(r.buf);
    close(fd);
    return rc;
}

int huren_audit_verify(const char *path, huren_audit_check *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    memcpy(out->head, huren_audit_zero_hash_, sizeof huren_audit_zero_hash_);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HUREN_AUDIT_EIO;
    }
    line_reader r = {fd, malloc(AUDIT_LINE_MAX_BYTES), 0, 0, 0};
    if (!r.buf) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return HUREN_AUDIT_ERROR;
    }
    const char *line;
    size_t n;
    int got, rc = 0;
    out->intact = 1;
    while (out->intact && (got = next_line(&r, &line, &n)) != 0) {
        uint64_t seq = 0;
        char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
        const char *why = NULL;
        if (got == -1) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = HUREN_AUDIT_EIO;
            break;
        }
        if (got == -2)
            why = "line too long to be an entry";
        else if (!(why = huren_audit_parse_line_(line, n, &seq, prev, hash)) &&
                 seq != out->entries + 1)
            why = "entry number out of sequence (an entry was removed, inserted or reordered)";
        else if (!why && strcmp(prev, out->head) != 0)
            why = "\"prev\" is not the hash of the entry before (an entry was removed, inserted, "
                  "reordered or rewritten)";
        if (why) {
            out->intact = 0;
            out->bad_line = out->entries + 1;
            snprintf(out->reason, sizeof out->reason, "%s", why);
            break;
        }
        out->entries++;
        memcpy(out->head, hash, sizeof hash);
    }
    if (rc == 0 && out->intact && r.len > 0) { /* a last line without its newline */
        out->intact = 0;
        out->bad_line = out->entries + 1;
        snprintf(out->reason, sizeof out->reason, "incomplete last line (no newline)");
    }
    free(r.buf);
    close(fd);
    return rc;
}

/* ---- the writer ---- */

/* Read the head (last seq and hash) of the file; drop a torn last line. Called under flock. */
