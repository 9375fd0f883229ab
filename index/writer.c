/* writer.c: the one write queue. Writes from many threads queue up; whichever thread finds no
 * leader becomes one, runs every queued write (up to group_commit_max) in one transaction with
 * a savepoint each, commits once and wakes the others with their own results. A write is an
 * instance (file + rows), a message's clinical records (rows only, records.c) or a batch of
 * directory entries (directory.c): every writer of the archive shares this queue and its
 * fsyncs. */
#include "index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct huren_index__put {
    const huren_index_records *records;       /* set: a records put */
    const huren_index_dir_entry *dir_entries; /* set: a directory batch of dir_n entries */
    size_t dir_n;
    huren_index_dir_result *dir_results;
    /* neither set: an instance put */
    const char *const *values;
    const huren_index_copy *copy; /* a retrieved copy, or NULL */
    const char *tmp_path;
    int64_t size;
    unsigned flags;
    /* results, written by the leader */
    int rc;
    uint64_t ticket; /* a deferred WAL sync to wait for (durable.c), or 0 */
    huren_index_put_outcome outcome;
    int done;
    pthread_cond_t cond; /* signalled when done, or when this put may lead the next batch */
    char err[HUREN_INDEX__ERR_MAX];
    /* the leader's work state */
    char final_path[PATH_MAX];
    char old_path[PATH_MAX];
    int renamed, unlink_old, unlink_tmp, packed;
    huren_index__put *next;
};

static int sync_full(huren_index *idx);

void huren_index__writer_acquire(huren_index *idx)
{
    pthread_mutex_lock(&idx->qlock);
    while (idx->leader_active)
        pthread_cond_wait(&idx->qcond, &idx->qlock);
    idx->leader_active = 1;
    pthread_mutex_unlock(&idx->qlock);
    sync_full(idx); /* should it fail, the next writer tries again */
}

void huren_index__writer_release(huren_index *idx)
{
    pthread_mutex_lock(&idx->qlock);
    idx->leader_active = 0;
    if (idx->qhead)
        pthread_cond_signal(&idx->qhead->cond);
    pthread_cond_broadcast(&idx->qcond);
    pthread_mutex_unlock(&idx->qlock);
}

static int exec(huren_index *idx, const char *sql)
{
    int rc = sqlite3_exec(idx->wdb, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, rc, sql);
}

static void put_fail(huren_index *idx, huren_index__put *p, int rc)
{
    p->rc = rc;
    snprintf(p->err, sizeof(p->err), "%s", huren_index_errmsg(idx));
}

/* A small instance: its bytes go to the end of the current pack. A replaced instance's old bytes
 * stay in their pack unreferenced; an old file of its own is removed after the commit. */
static int put_packed(huren_index *idx, huren_index__put *p, const huren_index__existing *ex)
{
    char name[32];
    int64_t offset;
    int rc = huren_index__pack_append(idx, p->tmp_path, p->size, name, &offset);
    if (rc < 0)
        return rc;
    p->packed = 1;
    p->unlink_tmp = !(p->flags & HUREN_INDEX_PUT_KEEP_TMP);
    p->outcome = HUREN_INDEX_PUT_STORED;
    if (ex->found) {
        if (ex->blob_name[0] && !huren_index__pack_is(ex->blob_name)) {
            if ((rc = huren_index__pending_add(idx, ex->blob_name,
                                               p->values[HUREN_INDEX_F_SOP_INSTANCE_UID])) < 0) {
                huren_index__seterr(idx, "writing the pending-blob journal: %s", strerror(-rc));
                return HUREN_INDEX_EIO;
            }
            if (huren_index__blob_path(idx, ex->blob_name, p->old_path, sizeof(p->old_path)) == 0)
                p->unlink_old = 1;
        }
        if ((rc = huren_index__rows_remove(idx->rows, ex->pk)) < 0)
            return rc;
        p->outcome = HUREN_INDEX_PUT_REPLACED;
    }
    return huren_index__rows_insert(idx->rows, p->values, name, ex->found ? ex->gen + 1 : 0, offset,
                                    p->size, p->copy);
}

/* One put inside the open transaction, under its own savepoint. */
static void put_one(huren_index *idx, huren_index__put *p)
{
    const char *uid = p->values[HUREN_INDEX_F_SOP_INSTANCE_UID];
    huren_index__existing ex;
    char name[HUREN_INDEX__BLOB_NAME_MAX];
    int rc;

    if ((rc = exec(idx, "SAVEPOINT put")) < 0) {
        put_fail(idx, p, rc);
        unlink(p->tmp_path);
        return;
    }
    if ((rc = huren_index__rows_lookup(idx->rows, uid, &ex)) < 0)
        goto done;
    if (ex.found && idx->opts.dup_policy == HUREN_INDEX_DUP_KEEP) {
        p->outcome = HUREN_INDEX_PUT_DUPLICATE;
        /* after the commit, so that a failed batch can report it */
        p->unlink_tmp = !(p->flags & HUREN_INDEX_PUT_KEEP_TMP);
        goto done;
    }
    if (p->size <= idx->opts.pack_max_instance) {
        rc = put_packed(idx, p, &ex);
        goto done;
    }
    /* a replacement gets a new name: the old file stays until the new row is committed */
    int64_t gen = ex.found ? ex.gen + 1 : 0;
    if (huren_index__blob_name(uid, gen, name, sizeof(name)) < 0 ||
        huren_index__blob_path(idx, name, p->final_path, sizeof(p->final_path)) < 0) {
        huren_index__seterr(idx, "cannot derive blob name");
        rc = HUREN_INDEX_ERROR;
        goto done;
    }
    int old_file = ex.found && ex.blob_name[0] && !huren_index__pack_is(ex.blob_name);
    if ((rc = huren_index__pending_add(idx, name, uid)) < 0 ||
        (old_file && (rc = huren_index__pending_add(idx, ex.blob_name, uid)) < 0)) {
        huren_index__seterr(idx, "writing the pending-blob journal: %s", strerror(-rc));
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    if ((rc = huren_index__blob_mkdirs(idx, name)) < 0) {
        huren_index__seterr(idx, "creating blob folder: %s", strerror(-rc));
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    if (rename(p->tmp_path, p->final_path) < 0) {
        huren_index__seterr(idx, "moving file into the blob store: %s", strerror(errno));
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    p->renamed = 1;
    if (ex.found) {
        if ((rc = huren_index__rows_remove(idx->rows, ex.pk)) < 0)
            goto done;
        if (old_file &&
            huren_index__blob_path(idx, ex.blob_name, p->old_path, sizeof(p->old_path)) == 0)
            p->unlink_old = 1;
        p->outcome = HUREN_INDEX_PUT_REPLACED;
    } else {
        p->outcome = HUREN_INDEX_PUT_STORED;
    }
    rc = huren_index__rows_insert(idx->rows, p->values, name, gen, 0, p->size, p->copy);
done:
    /* the directory hears of the study in the same transaction (outbox.c) */
    if (rc == 0 && p->outcome != HUREN_INDEX_PUT_DUPLICATE)
        rc = huren_index__outbox_study(idx, p->values[HUREN_INDEX_F_STUDY_UID]);
    if (rc == 0 && (rc = exec(idx, "RELEASE put")) == 0)
        return;
    put_fail(idx, p, rc);
    if (!sqlite3_get_autocommit(idx->wdb)) {
        sqlite3_exec(idx->wdb, "ROLLBACK TO put", NULL, NULL, NULL);
        sqlite3_exec(idx->wdb, "RELEASE put", NULL, NULL, NULL);
    }
    unlink(p->renamed ? p->final_path : p->tmp_path);
    p->renamed = p->unlink_old = p->unlink_tmp = p->packed = 0;
}

/* One message's records inside the open transaction, under their own savepoint: either all
 * of them are committed with the batch, or none. */
static void records_one(huren_index *idx, huren_index__put *p)
{
    int duplicate = 0;
    int rc = exec(idx, "SAVEPOINT rec");
    if (rc < 0) {
        put_fail(idx, p, rc);
        return;
    }
    rc = huren_index__records_write(idx, p->records, &duplicate);
    if (rc == 0 && !duplicate)
        rc = huren_index__outbox_records(idx, p->records);
    if (rc == 0 && (rc = exec(idx, "RELEASE rec")) == 0) {
        p->outcome = duplicate ? HUREN_INDEX_PUT_DUPLICATE : HUREN_INDEX_PUT_STORED;
        return;
    }
    put_fail(idx, p, rc);
    if (!sqlite3_get_autocommit(idx->wdb)) {
        sqlite3_exec(idx->wdb, "ROLLBACK TO rec", NULL, NULL, NULL);
        sqlite3_exec(idx->wdb, "RELEASE rec", NULL, NULL, NULL);
    }
}

/* A batch of directory entries inside the open transaction, under its own savepoint. */
static void dir_one(huren_index *idx, huren_index__put *p)
{
    int rc = exec(idx, "SAVEPOINT dir");
    if (rc == 0)
        rc = huren_index__dir_write(idx, p->dir_entries, p->dir_n, p->dir_results);
    if (rc == 0 && (rc = exec(idx, "RELEASE dir")) == 0) {
        p->outcome = HUREN_INDEX_PUT_STORED;
        return;
    }
    put_fail(idx, p, rc);
    if (!sqlite3_get_autocommit(idx->wdb)) {
        sqlite3_exec(idx->wdb, "ROLLBACK TO dir", NULL, NULL, NULL);
        sqlite3_exec(idx->wdb, "RELEASE dir", NULL, NULL, NULL);
    }
}

/* fsync each blob folder that received a file in this batch, once. */
static int dirs_sync(huren_index *idx, huren_index__put **batch, int n)
{
    for (int i = 0; i < n; i++) {
        if (batch[i]->rc < 0 || !batch[i]->renamed)
            continue;
        const char *slash = strrchr(batch[i]->final_path, '/');
        size_t dlen = (size_t)(slash - batch[i]->final_path);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = batch[j]->rc == 0 && batch[j]->renamed &&
                   strncmp(batch[j]->final_path, batch[i]->final_path, dlen + 1) == 0;
        if (seen)
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)dlen, batch[i]->final_path);
        int rc = huren_index__fsync_path(dir, 1);
        if (rc < 0) {
            huren_index__seterr(idx, "fsync of blob folder: %s", strerror(-rc));
            return HUREN_INDEX_EIO;
        }
    }
    return 0;
}

/* A batch defers its WAL sync only when every put in it asked to (their callers wait for it
 * before they answer); any other write is synced by SQLite at its commit. */
static int batch_defers(huren_index *idx, huren_index__put **batch, int n)
{
    for (int i = 0; i < n; i++)
        if (!(batch[i]->flags & HUREN_INDEX_PUT_DEFER_SYNC) || batch[i]->records ||
            batch[i]->dir_entries)
            return 0;
    return huren_index__durable_can_defer(idx);
}

/* Back to synchronous=FULL after a deferred batch (0, or the error if it could not be: then
 * every later writer tries again before it writes). */
static int sync_full(huren_index *idx)
{
    if (!idx->sync_normal)
        return 0;
    int rc = sqlite3_exec(idx->wdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return huren_index__sqlerr(idx, idx->wdb, rc, "PRAGMA synchronous");
    idx->sync_normal = 0;
    return 0;
}

static void batch_run(huren_index *idx, huren_index__put **batch, int n)
{
    /* NORMAL for this one transaction only: every other writer of the connection stays FULL */
    int defer = idx->opts.fsync && batch_defers(idx, batch, n);
    int rc = defer ? exec(idx, "PRAGMA synchronous=NORMAL") : sync_full(idx);
    idx->sync_normal |= defer && rc == 0;
    if (rc == 0)
        rc = exec(idx, "BEGIN IMMEDIATE");
    for (int i = 0; i < n; i++) {
        if (rc < 0) {
            put_fail(idx, batch[i], rc);
            if (batch[i]->tmp_path)
                unlink(batch[i]->tmp_path);
        } else if (batch[i]->records) {
            records_one(idx, batch[i]);
        } else if (batch[i]->dir_entries) {
            dir_one(idx, batch[i]);
        } else {
            put_one(idx, batch[i]);
        }
    }
    if (rc == 0 && sqlite3_get_autocommit(idx->wdb)) {
        /* an I/O error made SQLite abandon the whole transaction */
        huren_index__seterr(idx, "transaction rolled back: %s", sqlite3_errmsg(idx->wdb));
        rc = HUREN_INDEX_EIO;
    }
    if (rc == 0 && idx->opts.fsync)
        rc = dirs_sync(idx, batch, n);
    if (rc == 0)
        rc = huren_index__pack_sync(idx); /* one fdatasync for every packed put of the batch */
    if (rc == 0)
        rc = exec(idx, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    if (defer)
        sync_full(idx);
    uint64_t ticket = rc == 0 && idx->opts.fsync ? huren_index__durable_committed(idx, defer) : 0;
    for (int i = 0; i < n; i++) {
        huren_index__put *p = batch[i];
        if (p->rc < 0)
            continue;
        p->ticket = ticket;
        if (rc < 0) {
            put_fail(idx, p, rc);
            if (p->renamed)
                unlink(p->final_path);
            if (!p->renamed) /* the failed put's temp file goes, as promised */
                p->unlink_tmp = 1;
            p->unlink_old = 0;
        }
        /* once committed, a crash here only leaves an unreferenced file behind */
        if (p->unlink_old)
            unlink(p->old_path);
        if (p->unlink_tmp)
            unlink(p->tmp_path);
    }
    huren_index__pending_clear(idx);
}

/* Queue p and wait until a leader (possibly this thread) has run it. idx->batch belongs to
 * whichever thread is leader. Each waiter sleeps on a condition of its own: the leader wakes
 * exactly the puts it finished and the next one in the queue (to lead the next batch), not
 * every waiter at every commit, which with many senders cost more than the commits. */
static void put_wait(huren_index *idx, huren_index__put *p)
{
    pthread_cond_init(&p->cond, NULL);
    pthread_mutex_lock(&idx->qlock);
    p->next = NULL;
    if (idx->qtail)
        idx->qtail->next = p;
    else
        idx->qhead = p;
    idx->qtail = p;
    while (!p->done) {
        if (idx->leader_active) {
            pthread_cond_wait(&p->cond, &idx->qlock);
            continue;
        }
        int n = 0;
        while (idx->qhead && n < idx->batch_max) {
            idx->batch[n++] = idx->qhead;
            idx->qhead = idx->qhead->next;
        }
        if (!idx->qhead)
            idx->qtail = NULL;
        idx->leader_active = 1;
        pthread_mutex_unlock(&idx->qlock);
        batch_run(idx, idx->batch, n);
        pthread_mutex_lock(&idx->qlock);
        for (int i = 0; i < n; i++) {
            idx->batch[i]->done = 1;
            pthread_cond_signal(&idx->batch[i]->cond);
        }
        idx->commits++;
        idx->committed_puts += n;
        idx->leader_active = 0;
        if (idx->qhead)
            pthread_cond_signal(&idx->qhead->cond); /* the next leader */
        pthread_cond_broadcast(&idx->qcond);        /* writer_acquire() waiters */
    }
    pthread_mutex_unlock(&idx->qlock);
    pthread_cond_destroy(&p->cond);
}

static const huren_index_field required[] = {HUREN_INDEX_F_STUDY_UID, HUREN_INDEX_F_SERIES_UID,
                                             HUREN_INDEX_F_SOP_INSTANCE_UID,
                                             HUREN_INDEX_F_SOP_CLASS_UID};

static int values_check(huren_index *idx, const char *const values[])
{
    if (!values) {
        huren_index__seterr(idx, "no values");
        return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = values[required[i]];
        if (!v || !*v) {
            huren_index__seterr(idx, "%s is required", huren_index_field_name(required[i]));
            return HUREN_INDEX_EINVAL;
        }
    }
    for (int f = 0; f < HUREN_INDEX_F_COUNT; f++) {
        if (values[f] && strlen(values[f]) > HUREN_INDEX__VALUE_MAX) {
            huren_index__seterr(idx, "%s is longer than %d bytes", huren_index_field_name(f),
                                HUREN_INDEX__VALUE_MAX);
            return HUREN_INDEX_EINVAL;
        }
    }
    return 0;
}

/* tmp_path must name a file directly inside our tmp/: we rename and unlink it, so a path
 * elsewhere is refused (and left alone). */
static int tmp_path_inside(const huren_index *idx, const char *tmp_path)
{
    size_t n = strlen(idx->tmp_dir);
    if (!tmp_path || strncmp(tmp_path, idx->tmp_dir, n) != 0 || tmp_path[n] != '/')
        return 0;
    const char *base = tmp_path + n + 1;
    return *base && !strchr(base, '/') && strcmp(base, ".") != 0 && strcmp(base, "..") != 0;
}

/* fsync the temp file before it is queued, so that concurrent puts sync their data in
 * parallel and the leader only syncs folders and the commit. */
static int tmp_prepare(huren_index *idx, const char *tmp_path, int64_t *size)
{
    struct stat sb;
    int fd = open(tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        huren_index__seterr(idx, "opening temp file: %s", strerror(errno));
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        huren_index__seterr(idx, "temp file is not a regular file");
        rc = HUREN_INDEX_EINVAL;
        goto done;
    }
    /* a small instance is copied into a pack that is synced with its batch: no fsync here */
    if (idx->opts.fsync && (int64_t)sb.st_size > idx->opts.pack_max_instance && fsync(fd) < 0) {
        huren_index__seterr(idx, "fsync of temp file: %s", strerror(errno));
        rc = HUREN_INDEX_EIO;
        goto done;
    }
    *size = (int64_t)sb.st_size;
done:
    if (fd >= 0)
        close(fd);
    return rc;
}

int huren_index_instance_put(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                             const char *tmp_path, huren_index_put_outcome *outcome)
{
    return huren_index_instance_put_ex(idx, values, tmp_path, 0, outcome);
}

int huren_index_instance_put_ex(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                                const char *tmp_path, unsigned flags,
                                huren_index_put_outcome *outcome)
{
    return huren_index__instance_put(idx, values, tmp_path, flags, NULL, outcome);
}

int huren_index__instance_put(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                              const char *tmp_path, unsigned flags, const huren_index_copy *copy,
                              huren_index_put_outcome *outcome)
{
    huren_index__put *p = NULL;
    int rc;
    if (!idx)
        return HUREN_INDEX_EINVAL;
    if (!tmp_path_inside(idx, tmp_path)) {
        huren_index__seterr(idx, "temp file must be directly inside %s", idx->tmp_dir);
        return HUREN_INDEX_EINVAL;
    }
    if ((rc = values_check(idx, values)) < 0 ||
        (copy && (rc = huren_index__copy_check(idx, copy)) < 0))
        goto done;
    p = calloc(1, sizeof(*p));
    if (!p) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
        goto done;
    }
    p->values = values;
    p->copy = copy;
    p->tmp_path = tmp_path;
    p->flags = flags;
    if ((rc = tmp_prepare(idx, tmp_path, &p->size)) < 0)
        goto done;
    put_wait(idx, p);
    rc = p->rc;
    if (rc < 0) {
        huren_index__seterr(idx, "%s", p->err);
        free(p);
        return rc; /* the leader already removed the file */
    }
    if (outcome)
        *outcome = p->outcome;
    huren_index__durable_note(idx, p->ticket);
done:
    if (rc < 0)
        unlink(tmp_path);
    free(p);
    return rc;
}

int huren_index_records_put(huren_index *idx, const huren_index_records *recs,
                            huren_index_put_outcome *outcome)
{
    huren_index__put *p;
    int rc;
    if (!idx)
        return HUREN_INDEX_EINVAL;
    if ((rc = huren_index__records_check(idx, recs)) < 0)
        return rc;
    if (!(p = calloc(1, sizeof(*p)))) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    p->records = recs;
    put_wait(idx, p);
    rc = p->rc;
    if (rc < 0)
        huren_index__seterr(idx, "%s", p->err);
    else if (outcome)
        *outcome = p->outcome;
    free(p);
    return rc;
}

/* ---- bulk seeding (benchmarks, tests) ---- */

static int seed_one(huren_index *idx, const char *const values[])
{
    huren_index__existing ex;
    int rc = values_check(idx, values);
    if (rc == 0)
        rc = huren_index__rows_lookup(idx->rows, values[HUREN_INDEX_F_SOP_INSTANCE_UID], &ex);
    if (rc == 0 && !ex.found)
        rc = huren_index__rows_insert(idx->rows, values, NULL, 0, 0, 0, NULL);
    return rc;
}

int huren_index_seed(huren_index *idx, size_t n, huren_index_seed_cb cb, void *payload)
{
    const char *values[HUREN_INDEX_F_COUNT];
    int rc;
    if (!idx || !cb)
        return HUREN_INDEX_EINVAL;
    huren_index__writer_acquire(idx);
    rc = exec(idx, "BEGIN IMMEDIATE");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        memset(values, 0, sizeof(values));
        if (cb(payload, i, values) != 0) {
            huren_index__seterr(idx, "seed callback stopped at row %zu", i);
            rc = HUREN_INDEX_ECANCEL;
            break;
        }
        rc = seed_one(idx, values);
        if (rc == 0 && (i + 1) % 10000 == 0 && (rc = exec(idx, "COMMIT")) == 0)
            rc = exec(idx, "BEGIN IMMEDIATE");
    }
    if (rc == 0)
        rc = exec(idx, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    if (rc == 0)
        rc = exec(idx, "ANALYZE");
    huren_index__writer_release(idx);
    return rc;
}

/* A transaction of its own on the writer connection (outside group commit), for the record
 * kinds written one call at a time: begin holds the writer; end commits (rc == 0) or rolls
 * back, releases the writer and returns rc or the commit's error. */
int huren_index__txn_begin(huren_index *idx)
{
    huren_index__writer_acquire(idx);
    int rc = sqlite3_exec(idx->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = huren_index__sqlerr(idx, idx->wdb, rc, "BEGIN");
        huren_index__writer_release(idx);
        return rc;
    }
    return 0;
}

int huren_index__txn_end(huren_index *idx, int rc)
{
    if (rc == 0) {
        int src = sqlite3_exec(idx->wdb, "COMMIT", NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = huren_index__sqlerr(idx, idx->wdb, src, "COMMIT");
    }
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    huren_index__writer_release(idx);
    return rc;
}

int huren_index__dir_put_queued(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                                huren_index_dir_result *results)
{
    huren_index__put *p = calloc(1, sizeof(*p));
    if (!p) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    p->dir_entries = entries;
    p->dir_n = n;
    p->dir_results = results;
    put_wait(idx, p);
    int rc = p->rc;
    if (rc < 0)
        huren_index__seterr(idx, "%s", p->err);
    free(p);
    return rc;
}
