/* migrate_cmd.c: `huren migrate`: brings the archive's SQLite schema (--data) and, with
 * [directory] store = postgresql, the directory's PostgreSQL schema up to date, and says from
 * which version to which. serve runs the same migrations at start; this runs them alone, e.g.
 * before starting several directory nodes on one database, or to see where a database is.
 * It also fingerprints the pixel data of instances stored before provenance (schema 15),
 * which serve does not do at start (it reads every such instance once). */
#include "commands.h"
#include "directory/store.h"
#include "huren_err.h"
#include "node.h"

#include "huren_dicom.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(const char *what, int from, int to)
{
    if (from == to)
        printf("%s: schema version %d, up to date\n", what, to);
    else
        printf("%s: schema version %d -> %d\n", what, from, to);
}

/* The instance's bytes into a file of their own when they lie inside a pack. */
static int range_copy(const char *path, int64_t offset, int64_t size, const char *out)
{
    char buf[65536];
    int in = open(path, O_RDONLY | O_CLOEXEC), fd = -1, rc = -1;
    if (in < 0 || lseek(in, (off_t)offset, SEEK_SET) < 0)
        goto done;
    if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        goto done;
    for (int64_t left = size; left > 0;) {
        ssize_t n = read(in, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf);
        if (n <= 0 || write(fd, buf, (size_t)n) != n)
            goto done;
        left -= n;
    }
    rc = 0;
done:
    if (in >= 0)
        close(in);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int digest(const char *path, int64_t offset, int64_t size, char hex[65], void *payload)
{
    const config *cfg = payload;
    char err[HUREN_ERRLEN], tmp[1200];
    const char *file = path;
    if (offset > 0) {
        snprintf(tmp, sizeof tmp, "%s/tmp/backfill-%ld.dcm", cfg->data_dir, (long)getpid());
        if (range_copy(path, offset, size, tmp) < 0) {
            unlink(tmp);
            return -1;
        }
        file = tmp;
    }
    int rc = huren_dicom_file_pixel_digest(file, hex, err, sizeof err);
    if (file != path)
        unlink(tmp);
    return rc == 0 ? 0 : rc == HUREN_DICOM_ENOTSUP ? 1 : -1;
}

static int backfill(huren_index *idx, const config *cfg)
{
    huren_index_backfill_stats st;
    if (huren_index_provenance_backfill(idx, digest, (void *)cfg, &st) < 0) {
        fprintf(stderr, "huren migrate: pixel fingerprints: %s\n", huren_index_errmsg(idx));
        return -1;
    }
    if (st.fingerprinted || st.without_pixels || st.failed)
        printf("pixel fingerprints: %lld instances fingerprinted, %lld without pixel data,"
               " %lld unreadable\n",
               (long long)st.fingerprinted, (long long)st.without_pixels, (long long)st.failed);
    return 0;
}

int cmd_migrate(const config *cfg)
{
    char err[HUREN_ERRLEN];
    node n = {.cfg = cfg};
    if (node_open_index(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren migrate: %s\n", err);
        return 1;
    }
    char what[600];
    snprintf(what, sizeof what, "archive %s/index.db (sqlite)", cfg->data_dir);
    say(what, huren_index_schema_version_opened(n.index), huren_index_schema_version(n.index));
    int brc = backfill(n.index, cfg);
    huren_index_close(n.index);
    if (brc < 0)
        return 1;
    if (cfg->dir_store != CONFIG_DIR_STORE_POSTGRESQL)
        return 0;
    directory_store_options o;
    directory_store_options_from_config(&o, cfg, NULL);
    int from = 0, to = 0;
    if (directory_store_migrate(&o, &from, &to, err, sizeof err) < 0) {
        fprintf(stderr, "huren migrate: directory (postgresql): %s\n", err);
        return 1;
    }
    say("directory (postgresql, [directory] dsn)", from, to);
    return 0;
}
