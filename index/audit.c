/* audit.c: the audit trail, an append-only file of hash-chained JSON lines (format in
 * huren_index.h). Appends are serialised by a mutex and, across processes, an flock; with fsync
 * on, concurrent appends share one fdatasync (group commit). Verification and scanning read
 * the file line by line in bounded memory. */
#include "huren_index.h"

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

#define FIELD_MAX 1024       /* bytes of one field's value, before escaping */
#define LINE_MAX_BYTES 65536 /* longer lines are not ours: a broken link */
#define HASH_HEX 64
static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct huren_index_audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv;
    int fd;
    int fsync;
    uint64_t seq; /* last entry in the file */
    char head[HASH_HEX + 1];
    off_t end;       /* file size after the last entry we know of */
    uint64_t synced; /* entries known to be on disk */
    int syncing;     /* one thread is in fdatasync */
};

/* ---- the line format ---- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_add(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xE0) == 0xC0 ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    uint32_t cp = len == 1   ? s[0]
                  : len == 2 ? s[0] & 0x1Fu
                  : len == 3 ? s[0] & 0x0Fu
                             : s[0] & 0x07u;
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range, surrogate */
    return len;
}

/* "key":"value" with JSON escapes; invalid UTF-8 becomes U+FFFD; cut at FIELD_MAX bytes. */
static int add_field(buf *b, const char *key, const char *value)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":\"", key);
    if (buf_add(b, tmp, (size_t)n) < 0)
        return -1;
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    size_t left = strnlen((const char *)s, FIELD_MAX);
    while (left > 0) {
        size_t len = utf8_len(s, left);
        int rc;
        if (len == 0) {
            rc = buf_add(b, "\\ufffd", 6);
            len = 1;
        } else if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s};
            rc = buf_add(b, esc, 2);
        } else if (*s < 0x20 || *s == 0x7f) {
            n = snprintf(tmp, sizeof tmp, "\\u%04x", *s);
            rc = buf_add(b, tmp, (size_t)n);
        } else {
            rc = buf_add(b, (const char *)s, len);
        }
        if (rc < 0)
            return -1;
        s += len;
        left -= len;
    }
    return buf_add(b, "\"", 1);
}

static int sha256_hex(const char *data, size_t len, char out[HASH_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void utc_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Build the complete line (with its newline) of entry seq after prev; its hash in hash. */
static int format_line(buf *b, uint64_t seq, const char *prev, const huren_index_audit_entry *e,
                       char hash[HASH_HEX + 1])
{
    char head[128], now[40];
    utc_now(now, sizeof now);
    int n = snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"prev\":\"%s\"", seq, prev);
    char status[32];
    int sn = snprintf(status, sizeof status, ",\"status\":%d", e->status);
    if (buf_add(b, head, (size_t)n) < 0 || add_field(b, "time", now) < 0 ||
        add_field(b, "actor", e->actor) < 0 || add_field(b, "role", e->role) < 0 ||
        add_field(b, "institution", e->institution) < 0 || add_field(b, "action", e->action) < 0 ||
        add_field(b, "patient", e->patient) < 0 || add_field(b, "object", e->object) < 0 ||
        add_field(b, "outcome", e->outcome) < 0 || buf_add(b, status, (size_t)sn) < 0 ||
        add_field(b, "remote", e->remote) < 0)
        return -1;
    if (sha256_hex(b->p, b->len, hash) < 0)
        return -1;
    char tail[HASH_HEX + 16];
    n = snprintf(tail, sizeof tail, ",\"hash\":\"%s\"}\n", hash);
    return buf_add(b, tail, (size_t)n);
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < HASH_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Split a line (no newline) into its number, prev and hash, and check the hash against the
 * content. Returns NULL, or what is wrong. */
static const char *parse_line(const char *line, size_t len, uint64_t *seq, char prev[HASH_HEX + 1],
                              char hash[HASH_HEX + 1])
{
    static const char p1[] = "{\"seq\":", p2[] = ",\"prev\":\"", tail[] = ",\"hash\":\"";
    const size_t tail_len = sizeof tail - 1 + HASH_HEX + 2; /* ,"hash":"<hex>"} */
    if (len < sizeof p1 - 1 || memcmp(line, p1, sizeof p1 - 1) != 0)
        return "not an audit entry (no leading \"seq\")";
    const char *s = line + sizeof p1 - 1, *end = line + len;
    uint64_t n = 0;
    if (s == end || *s < '0' || *s > '9')
        return "bad \"seq\"";
    while (s < end && *s >= '0' && *s <= '9' && n < UINT64_MAX / 10)
        n = n * 10 + (uint64_t)(*s++ - '0');
    if ((size_t)(end - s) < sizeof p2 - 1 + HASH_HEX + 1 || memcmp(s, p2, sizeof p2 - 1) != 0)
        return "bad \"seq\" or no \"prev\"";
    s += sizeof p2 - 1;
    if (!is_hex64(s) || s[HASH_HEX] != '"')
        return "bad \"prev\" (not 64 hex digits)";
    memcpy(prev, s, HASH_HEX);
    prev[HASH_HEX] = 0;
    if ((size_t)(end - s) < HASH_HEX + 1 + tail_len ||
        memcmp(end - tail_len, tail, sizeof tail - 1) != 0 || end[-2] != '"' || end[-1] != '}' ||
        !is_hex64(end - HASH_HEX - 2))
        return "no \"hash\" at the end of the entry";
    char want[HASH_HEX + 1];
    if (sha256_hex(line, len - tail_len, want) < 0)
        return "cannot compute SHA-256";
    memcpy(hash, end - HASH_HEX - 2, HASH_HEX);
    hash[HASH_HEX] = 0;
    *seq = n;
    if (strcmp(want, hash) != 0)
        return "the entry's content does not match its hash (edited)";
    return NULL;
}

/* ---- reading lines in bounded memory ---- */

typedef struct line_reader {
    int fd;
    char *buf;
    size_t start, len; /* unread bytes are buf[start .. start+len) */
    int eof;
} line_reader;

/* Next line into *line and *n (without newline). Returns 1, 0 at the end (*n > 0 then means a last
 * line without newline), -1 on a read error, -2 for a line longer than LINE_MAX_BYTES. */
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
        if (r->len == LINE_MAX_BYTES)
            return -2;
        memmove(r->buf, r->buf + r->start, r->len);
        r->start = 0;
        ssize_t got = read(r->fd, r->buf + r->len, LINE_MAX_BYTES - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
}

int huren_index_audit_scan(const char *path, huren_index_audit_line_cb cb, void *payload, char *err,
                           size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    line_reader r = {fd, malloc(LINE_MAX_BYTES), 0, 0, 0};
    int rc = r.buf ? 0 : HUREN_INDEX_ERROR;
    const char *line;
    size_t n;
    int got;
    while (rc == 0 && (got = next_line(&r, &line, &n)) == 1)
        if (cb(payload, line, n))
            rc = HUREN_INDEX_ECANCEL;
    if (rc == 0 && got < 0) {
        snprintf(err, errlen, "%s: %s", path, got == -2 ? "line too long" : strerror(errno));
        rc = HUREN_INDEX_EIO;
    }
    free(r.buf);
    close(fd);
    return rc;
}

int huren_index_audit_verify(const char *path, huren_index_audit_check *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    memcpy(out->head, zero_hash, sizeof zero_hash);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    line_reader r = {fd, malloc(LINE_MAX_BYTES), 0, 0, 0};
    if (!r.buf) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    const char *line;
    size_t n;
    int got, rc = 0;
    out->intact = 1;
    while (out->intact && (got = next_line(&r, &line, &n)) != 0) {
        uint64_t seq = 0;
        char prev[HASH_HEX + 1], hash[HASH_HEX + 1];
        const char *why = NULL;
        if (got == -1) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = HUREN_INDEX_EIO;
            break;
        }
        if (got == -2)
            why = "line too long to be an entry";
        else if (!(why = parse_line(line, n, &seq, prev, hash)) && seq != out->entries + 1)
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
static int load_head(huren_index_audit *a, long *repaired, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        return HUREN_INDEX_EIO;
    }
    off_t size = st.st_size, from = size > LINE_MAX_BYTES ? size - LINE_MAX_BYTES : 0;
    char *tailbuf = malloc(LINE_MAX_BYTES + 1);
    if (!tailbuf) {
        snprintf(err, errlen, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    ssize_t got = size ? pread(a->fd, tailbuf, (size_t)(size - from), from) : 0;
    int rc = 0;
    if (got != size - from) {
        snprintf(err, errlen, "read: %s", got < 0 ? strerror(errno) : "short read");
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    size_t len = (size_t)got;
    size_t keep = len; /* bytes up to and including the last newline */
    while (keep > 0 && tailbuf[keep - 1] != '\n')
        keep--;
    if (keep < len) { /* a torn last line: it was never acknowledged */
        if (keep == 0 && from > 0) {
            snprintf(err, errlen, "last line of the audit log is longer than any entry");
            rc = HUREN_INDEX_ERROR;
            goto done;
        }
        if (ftruncate(a->fd, from + (off_t)keep) != 0) {
            snprintf(err, errlen, "ftruncate: %s", strerror(errno));
            rc = HUREN_INDEX_EIO;
            goto done;
        }
        if (repaired)
            *repaired += (long)(len - keep);
    }
    a->end = from + (off_t)keep;
    a->seq = 0;
    memcpy(a->head, zero_hash, sizeof zero_hash);
    if (keep == 0)
        goto done;
    size_t start = keep - 1;
    while (start > 0 && tailbuf[start - 1] != '\n')
        start--;
    char prev[HASH_HEX + 1];
    const char *why = parse_line(tailbuf + start, keep - 1 - start, &a->seq, prev, a->head);
    if (why) {
        snprintf(err, errlen, "last entry of the audit log is damaged: %s (see huren audit verify)",
                 why);
        rc = HUREN_INDEX_ERROR;
    }
done:
    free(tailbuf);
    return rc;
}

static int sync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int huren_index_audit_open(huren_index_audit **out, const char *path, int fsync, long *repaired,
                           char *err, size_t errlen)
{
    *out = NULL;
    if (repaired)
        *repaired = 0;
    huren_index_audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->synced_cv, NULL);
    a->fd = -1;
    a->fsync = fsync;
    struct stat st;
    int existed = stat(path, &st) == 0;
    a->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (a->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        huren_index_audit_close(a);
        return HUREN_INDEX_EIO;
    }
    if (flock(a->fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "%s: flock: %s", path, strerror(errno));
        huren_index_audit_close(a);
        return HUREN_INDEX_EIO;
    }
    char why[400];
    int rc = load_head(a, repaired, why, sizeof why);
    flock(a->fd, LOCK_UN);
    if (rc == 0 && fsync && !existed && sync_dir_of(path) != 0) {
        snprintf(why, sizeof why, "fsync of its folder: %s", strerror(errno));
        rc = HUREN_INDEX_EIO;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        huren_index_audit_close(a);
        return rc;
    }
    a->synced = a->seq;
    *out = a;
    return 0;
}

/* Write one line at the end under the flock, following another process's entries. */
static int write_entry(huren_index_audit *a, const huren_index_audit_entry *e, char *err,
                       size_t errlen)
{
    if (flock(a->fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "flock: %s", strerror(errno));
        return HUREN_INDEX_EIO;
    }
    struct stat st;
    buf b = {0};
    char hash[HASH_HEX + 1];
    int rc = 0;
    if (fstat(a->fd, &st) != 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        rc = HUREN_INDEX_EIO;
    } else if (st.st_size != a->end) {
        rc = load_head(a, NULL, err, errlen); /* another process appended */
    }
    if (rc == 0 && format_line(&b, a->seq + 1, a->head, e, hash) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    for (size_t done = 0; rc == 0 && done < b.len;) {
        ssize_t w = write(a->fd, b.p + done, b.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "write: %s", w < 0 ? strerror(errno) : "no progress");
            int t = ftruncate(a->fd, a->end); /* leave no partial line behind */
            (void)t;
            rc = HUREN_INDEX_EIO;
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0) {
        a->seq++;
        memcpy(a->head, hash, sizeof hash);
        a->end += (off_t)b.len;
    }
    flock(a->fd, LOCK_UN);
    free(b.p);
    return rc;
}

int huren_index_audit_append(huren_index_audit *a, const huren_index_audit_entry *e, uint64_t *seq,
                             char *err, size_t errlen)
{
    pthread_mutex_lock(&a->mu);
    int rc = write_entry(a, e, err, errlen);
    uint64_t mine = a->seq;
    /* Group commit: one thread syncs everything written so far; the others wait for it. */
    while (rc == 0 && a->fsync && a->synced < mine) {
        if (a->syncing) {
            pthread_cond_wait(&a->synced_cv, &a->mu);
            continue;
        }
        a->syncing = 1;
        uint64_t target = a->seq;
        pthread_mutex_unlock(&a->mu);
        int r = fdatasync(a->fd);
        int saved = errno;
        pthread_mutex_lock(&a->mu);
        a->syncing = 0;
        if (r == 0 && target > a->synced)
            a->synced = target;
        pthread_cond_broadcast(&a->synced_cv);
        if (r != 0) {
            snprintf(err, errlen, "fdatasync: %s", strerror(saved));
            rc = HUREN_INDEX_EIO;
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (rc == 0 && seq)
        *seq = mine;
    return rc;
}

uint64_t huren_index_audit_head(huren_index_audit *a, char head[65])
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->seq;
    memcpy(head, a->head, HASH_HEX + 1);
    pthread_mutex_unlock(&a->mu);
    return n;
}

void huren_index_audit_close(huren_index_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
