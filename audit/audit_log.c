/* audit_log.c: the audit log writer. Appends are serialised by a mutex and, across processes,
 * an flock; with fsync on, concurrent appends share one fdatasync (group commit). */
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

struct huren_audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv;
    int fd;
    int fsync;
    uint64_t seq; /* last entry in the file */
    char head[AUDIT_HASH_HEX + 1];
    off_t end;       /* file size after the last entry we know of */
    uint64_t synced; /* entries known to be on disk */
    int syncing;     /* one thread is in fdatasync */
};

typedef huren_audit_buf_ buf;

static int load_head(huren_audit *a, long *repaired, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        return HUREN_AUDIT_EIO;
    }
    off_t size = st.st_size, from = size > AUDIT_LINE_MAX_BYTES ? size - AUDIT_LINE_MAX_BYTES : 0;
    char *tailbuf = malloc(AUDIT_LINE_MAX_BYTES + 1);
    if (!tailbuf) {
        snprintf(err, errlen, "out of memory");
        return HUREN_AUDIT_ERROR;
    }
    ssize_t got = size ? pread(a->fd, tailbuf, (size_t)(size - from), from) : 0;
    int rc = 0;
    if (got != size - from) {
        snprintf(err, errlen, "read: %s", got < 0 ? strerror(errno) : "short read");
        rc = HUREN_AUDIT_EIO;
        goto done;
    }
    size_t len = (size_t)got;
    size_t keep = len; /* bytes up to and including the last newline */
    while (keep > 0 && tailbuf[keep - 1] != '\n')
        keep--;
    if (keep < len) { /* a torn last line: it was never acknowledged */
        if (keep == 0 && from > 0) {
            snprintf(err, errlen, "last line of the audit log is longer than any entry");
            rc = HUREN_AUDIT_ERROR;
            goto done;
        }
        if (ftruncate(a->fd, from + (off_t)keep) != 0) {
            snprintf(err, errlen, "ftruncate: %s", strerror(errno));
            rc = HUREN_AUDIT_EIO;
            goto done;
        }
        if (repaired)
            *repaired += (long)(len - keep);
    }
    a->end = from + (off_t)keep;
    a->seq = 0;
    memcpy(a->head, huren_audit_zero_hash_, sizeof huren_audit_zero_hash_);
    if (keep == 0)
        goto done;
    size_t start = keep - 1;
    while (start > 0 && tailbuf[start - 1] != '\n')
        start--;
    char prev[AUDIT_HASH_HEX + 1];
    const char *why =
        huren_audit_parse_line_(tailbuf + start, keep - 1 - start, &a->seq, prev, a->head);
    if (why) {
        snprintf(err, errlen, "last entry of the audit log is damaged: %s (see huren audit verify)",
                 why);
        rc = HUREN_AUDIT_ERROR;
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

int huren_audit_open(huren_audit **out, const char *path, int fsync, long *repaired, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (repaired)
        *repaired = 0;
    huren_audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return HUREN_AUDIT_ERROR;
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
        huren_audit_close(a);
        return HUREN_AUDIT_EIO;
    }
    if (flock(a->fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "%s: flock: %s", path, strerror(errno));
        huren_audit_close(a);
        return HUREN_AUDIT_EIO;
    }
    char why[400];
    int rc = load_head(a, repaired, why, sizeof why);
    flock(a->fd, LOCK_UN);
    if (rc == 0 && fsync && !existed && sync_dir_of(path) != 0) {
        snprintf(why, sizeof why, "fsync of its folder: %s", strerror(errno));
        rc = HUREN_AUDIT_EIO;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        huren_audit_close(a);
        return rc;
    }
    a->synced = a->seq;
    *out = a;
    return 0;
}

/* Write one line at the end under the flock, following another process's entries. */
static int write_entry(huren_audit *a, const huren_audit_entry *e, char *err, size_t errlen)
{
    if (flock(a->fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "flock: %s", strerror(errno));
        return HUREN_AUDIT_EIO;
    }
    struct stat st;
    buf b = {0};
    char hash[AUDIT_HASH_HEX + 1];
    int rc = 0;
    if (fstat(a->fd, &st) != 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        rc = HUREN_AUDIT_EIO;
    } else if (st.st_size != a->end) {
        rc = load_head(a, NULL, err, errlen); /* another process appended */
    }
    if (rc == 0 && huren_audit_format_line_(&b, a->seq + 1, a->head, e, hash) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = HUREN_AUDIT_ERROR;
    }
    for (size_t done = 0; rc == 0 && done < b.len;) {
        ssize_t w = write(a->fd, b.data + done, b.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "write: %s", w < 0 ? strerror(errno) : "no progress");
            int t = ftruncate(a->fd, a->end); /* leave no partial line behind */
            (void)t;
            rc = HUREN_AUDIT_EIO;
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
    huren_buf_free(&b);
    return rc;
}

int huren_audit_append(huren_audit *a, const huren_audit_entry *e, uint64_t *seq, char *err,
                       size_t errlen)
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
            rc = HUREN_AUDIT_EIO;
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (rc == 0 && seq)
        *seq = mine;
    return rc;
}

uint64_t huren_audit_head(huren_audit *a, char head[65])
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->seq;
    memcpy(head, a->head, AUDIT_HASH_HEX + 1);
    pthread_mutex_unlock(&a->mu);
    return n;
}

void huren_audit_close(huren_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
