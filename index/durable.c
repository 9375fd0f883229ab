/* durable.c: commits whose WAL fsync is deferred. A C-STORE must have its rows and its audit
 * entry on disk before it is answered: two fsyncs of two files. Done one after the other they
 * cost twice the disk's latency; started together (the disk and the file system's journal
 * take both in one flush) they cost little more than one. So a put may ask
 * (HUREN_INDEX_PUT_DEFER_SYNC) to return once its transaction is committed with SQLite's
 * synchronous=NORMAL (no fsync) while this file's syncer thread fdatasyncs the WAL behind
 * it; the caller writes its audit entry meanwhile and calls huren_index_durable_wait() before
 * it acknowledges. NORMAL followed by an fsync of the WAL is FULL's guarantee: a commit is
 * durable once its WAL frames are synced, and a checkpoint still syncs the WAL first. Every
 * other write keeps synchronous=FULL; its own WAL sync covers the deferred commits before it. */
#include "index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The calling thread's latest deferred write: which archive, which commit. */
static _Thread_local struct {
    const huren_index *idx;
    uint64_t seq;
} mine;

static int wal_sync(huren_index *idx)
{
    if (idx->wal_fd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s-wal", idx->db_path);
        idx->wal_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (idx->wal_fd < 0)
            return -errno;
    }
    /* fdatasync flushes the file, whichever descriptor names it */
    return fdatasync(idx->wal_fd) < 0 ? -errno : 0;
}

static void *syncer_main(void *arg)
{
    huren_index *idx = arg;
    pthread_mutex_lock(&idx->slock);
    for (;;) {
        while (!idx->syncer_stop && idx->synced_seq >= idx->deferred_seq)
            pthread_cond_wait(&idx->scond, &idx->slock);
        if (idx->synced_seq >= idx->deferred_seq)
            break; /* stopping, nothing outstanding */
        uint64_t target = idx->deferred_seq;
        pthread_mutex_unlock(&idx->slock);
        int rc = wal_sync(idx);
        pthread_mutex_lock(&idx->slock);
        idx->syncs++;
        if (rc < 0)
            idx->sync_errno = -rc; /* pages may be gone from the cache: never trust them again */
        else if (target > idx->synced_seq)
            idx->synced_seq = target;
        pthread_cond_broadcast(&idx->dcond);
        if (rc < 0)
            break;
    }
    pthread_mutex_unlock(&idx->slock);
    return NULL;
}

int huren_index__durable_open(huren_index *idx, char *err, size_t errlen)
{
    if (!idx->opts.fsync)
        return 0;
    int rc = pthread_create(&idx->syncer, NULL, syncer_main, idx);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the WAL syncer: %s", strerror(rc));
        return HUREN_INDEX_ERROR;
    }
    idx->syncer_running = 1;
    return 0;
}

void huren_index__durable_close(huren_index *idx)
{
    if (!idx->syncer_running)
        return;
    pthread_mutex_lock(&idx->slock);
    idx->syncer_stop = 1;
    pthread_cond_signal(&idx->scond);
    pthread_mutex_unlock(&idx->slock);
    pthread_join(idx->syncer, NULL);
    idx->syncer_running = 0;
    if (idx->wal_fd >= 0)
        close(idx->wal_fd);
    idx->wal_fd = -1;
}

int huren_index__durable_can_defer(huren_index *idx)
{
    pthread_mutex_lock(&idx->slock);
    int ok = idx->syncer_running && !idx->sync_errno;
    pthread_mutex_unlock(&idx->slock);
    return ok;
}

uint64_t huren_index__durable_committed(huren_index *idx, int deferred)
{
    pthread_mutex_lock(&idx->slock);
    uint64_t seq = 0;
    if (deferred) {
        seq = ++idx->deferred_seq;
        idx->deferred_commits++;
        pthread_cond_signal(&idx->scond);
    } else if (idx->synced_seq < idx->deferred_seq) {
        /* a FULL commit synced the WAL, and with it every deferred commit before it */
        idx->synced_seq = idx->deferred_seq;
        pthread_cond_broadcast(&idx->dcond);
    }
    pthread_mutex_unlock(&idx->slock);
    return seq;
}

void huren_index__durable_note(huren_index *idx, uint64_t ticket)
{
    if (ticket) {
        mine.idx = idx;
        mine.seq = ticket;
    }
}

int huren_index_durable_wait(huren_index *idx)
{
    if (!idx)
        return HUREN_INDEX_EINVAL;
    pthread_mutex_lock(&idx->slock);
    uint64_t seq = mine.idx == idx ? mine.seq : idx->deferred_seq;
    while (idx->synced_seq < seq && !idx->sync_errno)
        pthread_cond_wait(&idx->dcond, &idx->slock);
    int failed = idx->synced_seq < seq;
    int e = idx->sync_errno;
    pthread_mutex_unlock(&idx->slock);
    if (mine.idx == idx)
        mine.seq = 0;
    if (failed) {
        huren_index__seterr(idx, "fdatasync of the index's WAL: %s", strerror(e));
        return HUREN_INDEX_EIO;
    }
    return 0;
}

void huren_index__durable_stats(huren_index *idx, int64_t *deferred_commits, int64_t *syncs)
{
    pthread_mutex_lock(&idx->slock);
    *deferred_commits = idx->deferred_commits;
    *syncs = idx->syncs;
    pthread_mutex_unlock(&idx->slock);
}
