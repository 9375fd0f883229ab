/* compact.c: pack garbage and compaction. A pack's garbage is its size less the bytes its rows
 * still use (replaced instances, deleted studies, an interrupted batch's tail in a pack that is
 * no longer the last). Compaction rewrites a pack whose garbage passes a threshold, holding the
 * writer for that pack only:
 *   1. (the current pack is first closed and a new one started, so that it may be rewritten)
 *   2. each live instance is copied to the end of the current pack (bytes no row uses yet);
 *   3. the current pack is fdatasync'ed (when fsync is on);
 *   4. one transaction points the rows at their new place;
 *   5. the old pack is unlinked and the pack folder fsync'ed; or, with a grace period (a serving
 *      node, whose readers may have looked rows up before the commit), stamped and left: a
 *      run after the grace finds it without rows and unlinks it.
 * A crash before 4 leaves the copies past the last committed byte of the last pack, which the
 * next open cuts off (pack.c); after 4, the old pack has no row and the next run unlinks it.
 * After each step a hook the caller may set is called (huren_index_compact_steps_set): the
 * gateway's crash tests stop the process there (HUREN_TEST_CRASH_AT, node.c). */
#include "index_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void huren_index_compact_steps_set(huren_index *idx, huren_index_step_fn fn, void *ctx)
{
    idx->compact_step = fn;
    idx->compact_step_ctx = ctx;
}

static void step_done(huren_index *idx, const char *step)
{
    if (idx->compact_step)
        idx->compact_step(step, idx->compact_step_ctx);
}

typedef struct pack_list {
    char (*name)[32];
    size_t n, cap;
} pack_list;

static int names_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The packs on disk (blob names "pack/xxxxxxxx"), sorted. */
static int packs_list(huren_index *idx, pack_list *l)
{
    char dir[PATH_MAX];
    memset(l, 0, sizeof *l);
    snprintf(dir, sizeof dir, "%s/" HUREN_INDEX__PACK_DIR, idx->blob_dir);
    DIR *d = opendir(dir);
    if (!d) {
        huren_index__seterr(idx, "listing %s: %s", dir, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 8 || strspn(e->d_name, "0123456789abcdef") != 8)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            void *v = realloc(l->name, cap * sizeof *l->name);
            if (!v) {
                huren_index__seterr(idx, "out of memory");
                rc = HUREN_INDEX_ERROR;
                break;
            }
            l->name = v;
            l->cap = cap;
        }
        snprintf(l->name[l->n++], 32, HUREN_INDEX__PACK_DIR "/%.8s", e->d_name);
    }
    closedir(d);
    if (l->n)
        qsort(l->name, l->n, sizeof *l->name, names_cmp);
    return rc;
}

static int64_t file_size(huren_index *idx, const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    if (huren_index__blob_path(idx, name, path, sizeof path) < 0 || stat(path, &sb) < 0)
        return -1;
    return (int64_t)sb.st_size;
}

/* Bytes the rows of one pack use, and where its last instance ends, on connection db. */
static int pack_live(huren_index *idx, sqlite3 *db, const char *name, int64_t *live, int64_t *end)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT coalesce(sum(blob_size), 0),"
                                " coalesce(max(blob_offset + blob_size), 0) FROM instances"
                                " WHERE blob_name = ?1 AND blob_name LIKE 'pack/%'",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            *live = sqlite3_column_int64(s, 0);
            *end = sqlite3_column_int64(s, 1);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, rc, "measuring a pack");
}

int huren_index_pack_usage(huren_index *idx, huren_index_pack_stats *out)
{
    pack_list l;
    sqlite3 *db = NULL;
    memset(out, 0, sizeof *out);
    int rc = packs_list(idx, &l);
    if (rc == 0)
        rc = huren_index__reader_get(idx, &db);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        int64_t size = file_size(idx, l.name[i]), live = 0, end = 0;
        if (size < 0 || (rc = pack_live(idx, db, l.name[i], &live, &end)) < 0)
            continue;       /* gone meanwhile (compacted) */
        if (i + 1 == l.n) { /* the pack being filled: zeros written ahead of its end */
            int64_t ahead = atomic_load(&idx->pack_ahead);
            ahead = ahead < size - end ? ahead : size - end;
            if (ahead > 0) {
                size -= ahead;
                out->ahead_bytes += ahead;
            }
        }
        out->packs++;
        out->bytes += size;
        out->garbage_bytes += size > live ? size - live : 0;
    }
    if (db)
        huren_index__reader_put(idx, db);
    free(l.name);
    return rc;
}

typedef struct moved {
    int64_t pk, old_off, size, new_off;
    char new_name[32];
} moved;

typedef struct moves {
    moved *v;
    size_t n, cap;
} moves;

static int rows_of(huren_index *idx, const char *name, moves *m)
{
    sqlite3_stmt *s = NULL;
    int rc = huren_index__wprep(idx,
                                "SELECT pk, blob_offset, blob_size FROM instances WHERE"
                                " blob_name = ?1 AND blob_name LIKE 'pack/%' ORDER BY blob_offset",
                                &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 64;
            void *v = realloc(m->v, cap * sizeof *m->v);
            if (!v) {
                sqlite3_finalize(s);
                huren_index__seterr(idx, "out of memory");
                return HUREN_INDEX_ERROR;
            }
            m->v = v;
            m->cap = cap;
        }
        moved *x = &m->v[m->n++];
        x->pk = sqlite3_column_int64(s, 0);
        x->old_off = sqlite3_column_int64(s, 1);
        x->size = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, "listing a pack");
}

/* Steps 2 and 3: the live instances appended to the current pack, synced. */
static int copy_live(huren_index *idx, const char *name, moves *m)
{
    char path[PATH_MAX];
    if (huren_index__blob_path(idx, name, path, sizeof path) < 0)
        return HUREN_INDEX_ERROR;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        huren_index__seterr(idx, "opening pack %s: %s", name, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = huren_index__pack_append_fd(idx, fd, m->v[i].old_off, m->v[i].size, m->v[i].new_name,
                                         &m->v[i].new_off);
    close(fd);
    step_done(idx, "copied");
    if (rc == 0)
        rc = huren_index__pack_sync(idx);
    step_done(idx, "synced");
    return rc;
}

static int exec(huren_index *idx, const char *sql)
{
    int rc = sqlite3_exec(idx->wdb, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, rc, sql);
}

/* Step 4: one transaction repoints every row. */
static int repoint(huren_index *idx, const char *old_name, const moves *m)
{
    sqlite3_stmt *s = NULL;
    int rc = exec(idx, "BEGIN IMMEDIATE");
    if (rc == 0)
        rc = huren_index__wprep(idx,
                                "UPDATE instances SET blob_name = ?1, blob_offset = ?2"
                                " WHERE pk = ?3 AND blob_name = ?4 AND blob_offset = ?5",
                                &s);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, m->v[i].new_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, m->v[i].new_off);
        sqlite3_bind_int64(s, 3, m->v[i].pk);
        sqlite3_bind_text(s, 4, old_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, m->v[i].old_off);
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE || sqlite3_changes(idx->wdb) != 1)
            rc = huren_index__sqlerr(idx, idx->wdb, src == SQLITE_DONE ? SQLITE_ERROR : src,
                                     "repointing an instance");
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = exec(idx, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(idx->wdb))
        sqlite3_exec(idx->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Step 5. */
static int pack_unlink(huren_index *idx, const char *name)
{
    char path[PATH_MAX], dir[PATH_MAX];
    if (huren_index__blob_path(idx, name, path, sizeof path) < 0)
        return HUREN_INDEX_ERROR;
    if (unlink(path) < 0 && errno != ENOENT) {
        huren_index__seterr(idx, "removing pack %s: %s", name, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    snprintf(dir, sizeof dir, "%s/" HUREN_INDEX__PACK_DIR, idx->blob_dir);
    if (idx->opts.fsync && huren_index__fsync_path(dir, 1) < 0) {
        huren_index__seterr(idx, "syncing %s: %s", dir, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    step_done(idx, "unlinked");
    return 0;
}

/* A pack no row uses any more, left for readers that found it before the commit: stamped
 * now, removed by a run grace_s after. */
static int pack_retire(huren_index *idx, const char *name)
{
    char path[PATH_MAX];
    if (huren_index__blob_path(idx, name, path, sizeof path) < 0)
        return HUREN_INDEX_ERROR;
    if (utimensat(AT_FDCWD, path, NULL, 0) < 0 && errno != ENOENT) {
        huren_index__seterr(idx, "stamping pack %s: %s", name, strerror(errno));
        return HUREN_INDEX_EIO;
    }
    return 0;
}

/* Was the pack at name modified less than grace_s seconds ago? */
static int pack_recent(huren_index *idx, const char *name, int grace_s)
{
    char path[PATH_MAX];
    struct stat sb;
    if (grace_s <= 0 || huren_index__blob_path(idx, name, path, sizeof path) < 0 ||
        stat(path, &sb) < 0)
        return 0;
    return sb.st_mtime > time(NULL) - grace_s;
}

/* One pack, writer held. Returns 1 when rewritten, 0 when left, or a negative code. */
static int compact_one(huren_index *idx, const char *name, double threshold, int grace_s,
                       huren_index_compact_stats *st)
{
    moves m = {0};
    int64_t size = file_size(idx, name), live = 0;
    if (size < 0)
        return 0;
    if (!strcmp(name, idx->pack_name) && size > (int64_t)idx->pack_off)
        size = (int64_t)idx->pack_off; /* the rest are zeros written ahead (pack.c) */
    int rc = rows_of(idx, name, &m);
    for (size_t i = 0; i < m.n; i++)
        live += m.v[i].size;
    int64_t garbage = size > live ? size - live : 0;
    if (rc < 0 || garbage == 0 || (double)garbage < threshold * (double)size ||
        (m.n == 0 && pack_recent(idx, name, grace_s) && strcmp(name, idx->pack_name) != 0)) {
        if (rc == 0 && m.n == 0 && garbage > 0)
            st->packs_retired++; /* retired by an earlier run: removed after the grace */
        free(m.v);
        return rc;
    }
    if (!strcmp(name, idx->pack_name) && (rc = huren_index__pack_roll(idx)) < 0) {
        free(m.v);
        return rc;
    }
    int64_t seq = idx->pack_seq;
    off_t off = idx->pack_off;
    rc = copy_live(idx, name, &m);
    if (rc == 0)
        rc = repoint(idx, name, &m);
    if (rc < 0 && idx->pack_seq == seq) {
        /* nothing points at the copies: the next batch writes over them */
        idx->pack_off = off;
    }
    int retire = rc == 0 && m.n > 0 && grace_s > 0;
    if (rc == 0) {
        step_done(idx, "committed");
        rc = retire ? pack_retire(idx, name) : pack_unlink(idx, name);
    }
    if (rc == 0) {
        st->packs_rewritten++;
        st->instances_moved += (int64_t)m.n;
        if (retire)
            st->packs_retired++;
        else
            st->bytes_freed += garbage;
    }
    free(m.v);
    return rc < 0 ? rc : 1;
}

int huren_index_compact(huren_index *idx, double threshold, int grace_s,
                        huren_index_compact_stats *out)
{
    huren_index_compact_stats st = {0};
    pack_list l;
    if (!idx || threshold < 0 || threshold > 1) {
        if (idx)
            huren_index__seterr(idx, "threshold must be between 0 and 1");
        return HUREN_INDEX_EINVAL;
    }
    int rc = packs_list(idx, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        huren_index__writer_acquire(idx);
        int r = compact_one(idx, l.name[i], threshold, grace_s, &st);
        huren_index__writer_release(idx);
        st.packs_seen++;
        rc = r < 0 ? r : 0;
    }
    free(l.name);
    if (out)
        *out = st;
    return rc;
}
