/* backup.c: huren_index_backup, an online copy of the archive: SQLite's backup API copies the
 * index from one read snapshot, then every blob file that snapshot references is hard-linked or
 * copied (packs up to the last referenced byte). Works on a folder, not a handle, because it runs
 * in its own process beside a serving node and must change nothing there. */
#include "index_int.h"
#include "huren_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKUP_ATTEMPTS 5
#define STALE 1 /* a referenced file went away after the snapshot: take another */

static int db_snapshot(const char *src_path, const char *dst_path, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(src, 10000);
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            /* one step: the whole copy under one read transaction, i.e. one snapshot */
            do
                rc = sqlite3_backup_step(b, -1);
            while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
            int frc = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? frc : rc;
        }
    }
    /* a copy is one file: no -wal or -shm beside it (the archive turns WAL on at open) */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "backing up %s: %s", src_path,
                 dst   ? sqlite3_errmsg(dst)
                 : src ? sqlite3_errmsg(src)
                       : "out of memory");
    sqlite3_close(src);
    sqlite3_close(dst);
    return rc == SQLITE_OK ? 0 : HUREN_INDEX_ERROR;
}

typedef struct blob_ctx {
    const char *src_blobs, *dst_blobs;
    int fsync;
    huren_index_backup_stats *st;
    char *err;
    size_t errlen;
} blob_ctx;

/* One referenced blob: a file of its own (size = its rows' bytes) or a pack cut at end. */
static int blob_one(blob_ctx *c, const char *name, int64_t end, int64_t size)
{
    char src[PATH_MAX], dst[PATH_MAX];
    if (snprintf(src, sizeof(src), "%s/%s", c->src_blobs, name) >= (int)sizeof(src) ||
        snprintf(dst, sizeof(dst), "%s/%s", c->dst_blobs, name) >= (int)sizeof(dst) ||
        strstr(name, "..")) {
        snprintf(c->err, c->errlen, "bad blob name %s", name);
        return HUREN_INDEX_ERROR;
    }
    int rc = huren_file_mkdirs_for(dst);
    if (rc == 0 && huren_index__pack_is(name)) {
        int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (fd < 0)
            rc = -errno;
        else if (fstat(fd, &sb) < 0)
            rc = -errno;
        else if ((int64_t)sb.st_size < end)
            rc = -ENOENT; /* not this pack any more */
        else
            rc = huren_file_copy_fd(fd, end, dst, c->fsync);
        if (fd >= 0)
            close(fd);
        c->st->packs++;
        c->st->bytes += end;
    } else if (rc == 0) {
        int linked = 0;
        struct stat sb;
        rc = huren_file_link_or_copy(src, dst, c->fsync, &linked);
        if (rc == 0 && (stat(dst, &sb) < 0 || (int64_t)sb.st_size != size))
            rc = -ENOENT; /* a new file under an old name: a study deleted and stored again */
        c->st->files++;
        c->st->linked += linked;
        c->st->bytes += size;
    }
    if (rc == -ENOENT)
        return STALE;
    if (rc < 0) {
        snprintf(c->err, c->errlen, "copying %s: %s", src, strerror(-rc));
        return HUREN_INDEX_EIO;
    }
    return 0;
}

static int blobs_copy(const char *db_path, blob_ctx *c)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT blob_name, max(blob_offset + blob_size), sum(blob_size),"
                                " count(*) FROM instances WHERE blob_name IS NOT NULL AND"
                                " blob_name <> '' GROUP BY blob_name",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        snprintf(c->err, c->errlen, "reading the backed-up index: %s",
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return HUREN_INDEX_ERROR;
    }
    int r = 0;
    while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        c->st->instances += sqlite3_column_int64(s, 3);
        r = blob_one(c, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
                     sqlite3_column_int64(s, 2));
    }
    if (r == 0 && rc != SQLITE_DONE) {
        snprintf(c->err, c->errlen, "reading the backed-up index: %s", sqlite3_errmsg(db));
        r = HUREN_INDEX_ERROR;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return r;
}

static int attempt(const char *data_dir, const char *dest_dir, int fsync,
                   huren_index_backup_stats *st, char *err, size_t errlen)
{
    char src_db[PATH_MAX], dst_db[PATH_MAX], src_blobs[PATH_MAX], dst_blobs[PATH_MAX];
    snprintf(src_db, sizeof(src_db), "%s/index.db", data_dir);
    snprintf(dst_db, sizeof(dst_db), "%s/index.db", dest_dir);
    snprintf(src_blobs, sizeof(src_blobs), "%s/blobs", data_dir);
    snprintf(dst_blobs, sizeof(dst_blobs), "%s/blobs", dest_dir);
    huren_file_remove_tree(dst_blobs);
    unlink(dst_db);
    int64_t tries = st->attempts;
    memset(st, 0, sizeof(*st));
    st->attempts = (int)tries + 1;
    int rc = db_snapshot(src_db, dst_db, err, errlen);
    if (rc < 0)
        return rc;
    if (mkdir(dst_blobs, 0750) < 0) {
        snprintf(err, errlen, "creating %s: %s", dst_blobs, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    blob_ctx c = {src_blobs, dst_blobs, fsync, st, err, errlen};
    return blobs_copy(dst_db, &c);
}

int huren_index_backup(const char *data_dir, const char *dest_dir, int fsync,
                       huren_index_backup_stats *out, char *err, size_t errlen)
{
    huren_index_backup_stats st = {0};
    char probe[PATH_MAX];
    struct stat sb;
    if (!data_dir || !dest_dir || strlen(dest_dir) > PATH_MAX / 2 ||
        strlen(data_dir) > PATH_MAX / 2) {
        snprintf(err, errlen, "backup: no or too long folder names");
        return HUREN_INDEX_EINVAL;
    }
    snprintf(probe, sizeof(probe), "%s/index.db", data_dir);
    if (stat(probe, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", probe, strerror(errno));
        return HUREN_INDEX_ENOTFOUND;
    }
    if (mkdir(dest_dir, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "creating %s: %s", dest_dir, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    snprintf(probe, sizeof(probe), "%s/index.db", dest_dir);
    if (stat(probe, &sb) == 0) {
        snprintf(err, errlen, "%s already holds a backup", dest_dir);
        return HUREN_INDEX_EINVAL;
    }
    int rc = STALE;
    while (rc == STALE && st.attempts < BACKUP_ATTEMPTS)
        rc = attempt(data_dir, dest_dir, fsync, &st, err, errlen);
    if (rc == STALE) {
        snprintf(err, errlen, "files kept changing under %d snapshots; try again", st.attempts);
        rc = HUREN_INDEX_EBUSY;
    }
    if (rc == 0 && fsync) {
        int fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || syncfs(fd) < 0) {
            snprintf(err, errlen, "syncing %s: %s", dest_dir, strerror(errno));
            rc = HUREN_INDEX_EIO;
        }
        if (fd >= 0)
            close(fd);
    }
    if (out)
        *out = st;
    return rc;
}
