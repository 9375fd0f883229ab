/* pack.c: the append-only pack files where small instances are grouped. Creating one file per
 * small instance costs an inode allocation and an fsync each; a pack takes many instances and
 * one fdatasync per group commit. A pack is blobs/pack/<8 hex digits>; an instance row names the
 * pack, its offset and its size. Bytes appended by a batch that never committed are cut off the
 * end of the last pack when the archive is opened. Used by the group-commit leader only.
 *
 * The pack being filled is kept written with zeros a little past its end (PACK_AHEAD): an
 * append then overwrites bytes the file already has, and its fdatasync flushes data only. An
 * append past the end changes the file's size, and every such fdatasync also commits the file
 * system's journal: on this project's test disk 2,000-2,400 appends+syncs a second against
 * 3,400-4,600 overwrites+syncs. (fallocate does not help: its unwritten extents are converted by
 * the first write, a metadata change again.) A pack is cut to its last instance when it is
 * closed, and the committed end, not the file's size, is where the next append goes. */
#include "index_int.h"
#include "huren_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACK_DIR HUREN_INDEX__PACK_DIR
#define PACK_AHEAD ((off_t)1 << 20) /* zeros written ahead of the pack's end */

static void pack_name(int64_t seq, char *out, size_t outlen)
{
    snprintf(out, outlen, PACK_DIR "/%08llx", (long long)seq);
}

int huren_index__pack_is(const char *blob_name)
{
    return blob_name && strncmp(blob_name, PACK_DIR "/", sizeof(PACK_DIR)) == 0;
}

/* The highest pack number present, or -1. */
static int64_t pack_last(const char *dir)
{
    int64_t last = -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strlen(e->d_name) != 8)
            continue;
        long long v = strtoll(e->d_name, &end, 16);
        if (*end == 0 && v > last)
            last = v;
    }
    closedir(d);
    return last;
}

/* End of the committed bytes of a pack: past the last instance any row places in it. The
 * LIKE term repeats the partial index's condition so that SQLite uses it. */
static int committed_end(huren_index *idx, const char *name, off_t *end)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(idx->wdb,
                                "SELECT coalesce(max(blob_offset + blob_size), 0) FROM instances"
                                " WHERE blob_name = ?1 AND blob_name LIKE 'pack/%'",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *end = (off_t)sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, rc, "measuring pack");
}

/* Close the current pack, cut to its last instance (the zeros ahead go; should the cut not
 * reach the disk before a crash, they are bytes no row names and backup leaves out). */
static void pack_cut(huren_index *idx)
{
    if (idx->pack_zeroed > idx->pack_off && ftruncate(idx->pack_fd, idx->pack_off) < 0)
        huren_index__seterr(idx, "cutting pack %s: %s", idx->pack_name, strerror(errno));
    close(idx->pack_fd);
    idx->pack_fd = -1;
    atomic_store(&idx->pack_ahead, 0);
}

/* Have the pack written up to at least need: zeros in steps of PACK_AHEAD, never far past
 * pack_max_bytes. The zeros reach the disk with the next fdatasync. */
static int pack_zero_ahead(huren_index *idx, off_t need)
{
    static const char zeros[65536];
    if (need <= idx->pack_zeroed)
        return 0;
    off_t to = need + PACK_AHEAD;
    if (to > (off_t)idx->opts.pack_max_bytes)
        to = need > (off_t)idx->opts.pack_max_bytes ? need : (off_t)idx->opts.pack_max_bytes;
    for (off_t at = idx->pack_zeroed > idx->pack_off ? idx->pack_zeroed : idx->pack_off; at < to;) {
        size_t n = (size_t)(to - at) < sizeof zeros ? (size_t)(to - at) : sizeof zeros;
        ssize_t w = pwrite(idx->pack_fd, zeros, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        at += w;
    }
    idx->pack_zeroed = to;
    return 0;
}

static void ahead_note(huren_index *idx)
{
    off_t a = idx->pack_zeroed > idx->pack_off ? idx->pack_zeroed - idx->pack_off : 0;
    atomic_store(&idx->pack_ahead, (int64_t)a);
}

/* Open (creating) pack number seq for appending at *off; a new pack's folder entry is fsync'ed. */
static int pack_start(huren_index *idx, int64_t seq, int create)
{
    char name[32], path[PATH_MAX];
    pack_name(seq, name, sizeof(name));
    if (huren_index__blob_path(idx, name, path, sizeof(path)) < 0)
        return HUREN_INDEX_ERROR;
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0640);
    if (fd < 0) {
        huren_index__seterr(idx, "opening pack %s: %s", name, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    if (create && idx->opts.fsync) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/" PACK_DIR, idx->blob_dir);
        if (fsync(fd) < 0 || huren_index__fsync_path(dir, 1) < 0) {
            huren_index__seterr(idx, "syncing new pack %s: %s", name, strerror(errno));
            close(fd);
            return HUREN_INDEX_EIO;
        }
    }
    if (idx->pack_fd >= 0)
        pack_cut(idx);
    idx->pack_fd = fd;
    idx->pack_seq = seq;
    snprintf(idx->pack_name, sizeof(idx->pack_name), "%s", name);
    idx->pack_off = 0;
    idx->pack_zeroed = 0;
    return 0;
}

int huren_index__pack_open(huren_index *idx, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    idx->pack_fd = -1;
    snprintf(dir, sizeof(dir), "%s/" PACK_DIR, idx->blob_dir);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "creating %s: %s", dir, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    int64_t last = pack_last(dir);
    int rc;
    if (last < 0) {
        rc = pack_start(idx, 0, 1);
    } else if ((rc = pack_start(idx, last, 0)) == 0) {
        off_t end = 0;
        /* cut what an interrupted batch appended after the last committed instance */
        if ((rc = committed_end(idx, idx->pack_name, &end)) == 0 &&
            ftruncate(idx->pack_fd, end) < 0) {
            huren_index__seterr(idx, "trimming pack %s: %s", idx->pack_name, strerror(errno));
            rc = HUREN_INDEX_EIO;
        }
        idx->pack_off = end;
        idx->pack_zeroed = end;
        if (rc == 0 && idx->opts.fsync && fdatasync(idx->pack_fd) < 0)
            rc = HUREN_INDEX_EIO;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", huren_index_errmsg(idx));
    return rc;
}

void huren_index__pack_close(huren_index *idx)
{
    if (idx->pack_fd >= 0)
        pack_cut(idx);
}

int huren_index__pack_append(huren_index *idx, const char *tmp_path, int64_t size, char name[32],
                             int64_t *offset)
{
    int rc;
    int src = open(tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0) {
        huren_index__seterr(idx, "opening temp file: %s", strerror(errno));
        return HUREN_INDEX_EIO;
    }
    rc = huren_index__pack_append_fd(idx, src, 0, size, name, offset);
    close(src);
    return rc;
}

/* pwrite at the offset, not O_APPEND: the pack is shared by the batch, so a failed copy is
 * undone by the offset alone. */
int huren_index__pack_append_fd(huren_index *idx, int src_fd, int64_t src_off, int64_t size,
                                char name[32], int64_t *offset)
{
    int rc;
    if (idx->pack_off > 0 && idx->pack_off + size > idx->opts.pack_max_bytes) {
        /* the full pack must be durable before the rows that point into it stop syncing it */
        if ((rc = huren_index__pack_sync(idx)) < 0 ||
            (rc = pack_start(idx, idx->pack_seq + 1, 1)) < 0)
            return rc;
    }
    rc = pack_zero_ahead(idx, idx->pack_off + (off_t)size);
    if (rc == 0)
        rc = huren_file_copy_range(src_fd, (off_t)src_off, idx->pack_fd, idx->pack_off, size);
    if (rc < 0) {
        huren_index__seterr(idx, "writing pack %s: %s", idx->pack_name, strerror(-rc));
        return HUREN_INDEX_EIO;
    }
    memcpy(name, idx->pack_name, sizeof(idx->pack_name));
    *offset = (int64_t)idx->pack_off;
    idx->pack_off += (off_t)size;
    idx->pack_dirty = 1;
    ahead_note(idx);
    return 0;
}

int huren_index__pack_roll(huren_index *idx)
{
    int rc = huren_index__pack_sync(idx);
    return rc < 0 ? rc : pack_start(idx, idx->pack_seq + 1, 1);
}

int huren_index__pack_sync(huren_index *idx)
{
    if (!idx->pack_dirty || !idx->opts.fsync)
        return 0;
    if (fdatasync(idx->pack_fd) < 0) {
        huren_index__seterr(idx, "fdatasync of pack %s: %s", idx->pack_name, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    idx->pack_dirty = 0;
    return 0;
}
