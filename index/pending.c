/* pending.c: the journal of blob files in flight. Before the leader renames a file into the
 * blob store (or leaves an old one for removal after a REPLACE) it appends "name uid" here; after
 * the batch it empties the file. At open, every listed file that no committed row points to is
 * removed, so a killed process leaves no unreferenced blob behind. */
#include "index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journal is not fsync'ed: it guards against a crash of the process, whose writes the kernel
 * keeps. After a power loss a listed file may survive unreferenced; it is never visible. */
#define PENDING_MAX (4 * 1024 * 1024)

int huren_index__pending_add(huren_index *idx, const char *name, const char *uid)
{
    char line[HUREN_INDEX__BLOB_NAME_MAX + 80];
    int n = snprintf(line, sizeof(line), "%s %s\n", name, uid);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -ENAMETOOLONG;
    ssize_t w = pwrite(idx->pending_fd, line, (size_t)n, idx->pending_off);
    if (w != n)
        return w < 0 ? -errno : -ENOSPC;
    idx->pending_off += n;
    return 0;
}

void huren_index__pending_clear(huren_index *idx)
{
    if (idx->pending_off > 0 && ftruncate(idx->pending_fd, 0) == 0)
        idx->pending_off = 0;
}

/* A journal line is trusted only if its name is exactly the one we derive from its UID. */
static int line_parse(char *line, const char **name, const char **uid)
{
    char *sp = strchr(line, ' ');
    char expect[HUREN_INDEX__BLOB_NAME_MAX];
    long long gen = 0;
    if (!sp)
        return -1;
    *sp = '\0';
    *name = line;
    *uid = sp + 1;
    size_t ulen = strlen(*uid);
    if (ulen == 0 || ulen > 64 || strlen(*name) < 6 + HUREN_INDEX__HASH_HEX)
        return -1;
    const char *dash = strchr(*name, '-');
    if (dash) {
        char *end = NULL;
        gen = strtoll(dash + 1, &end, 10);
        if (gen <= 0 || !end || *end)
            return -1;
    }
    if (huren_index__blob_name(*uid, gen, expect, sizeof(expect)) < 0)
        return -1;
    return strcmp(expect, *name) == 0 ? 0 : -1;
}

static void pending_recover(huren_index *idx, char *buf)
{
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *name, *uid;
        huren_index__existing ex;
        char path[PATH_MAX];
        if (line_parse(line, &name, &uid) < 0)
            continue;
        if (huren_index__rows_lookup(idx->rows, uid, &ex) < 0)
            continue; /* cannot tell: keep the file */
        if (ex.found && strcmp(ex.blob_name, name) == 0)
            continue;
        if (huren_index__blob_path(idx, name, path, sizeof(path)) == 0)
            unlink(path);
    }
}

int huren_index__pending_open(huren_index *idx, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat sb;
    char *buf = NULL;
    int rc = HUREN_INDEX_EIO;
    snprintf(path, sizeof(path), "%s/pending", idx->data_dir);
    idx->pending_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (idx->pending_fd < 0 || fstat(idx->pending_fd, &sb) < 0) {
        snprintf(err, errlen, "opening the pending-blob journal: %s", strerror(errno));
        goto done;
    }
    if (sb.st_size > 0 && sb.st_size <= PENDING_MAX) {
        buf = malloc((size_t)sb.st_size + 1);
        ssize_t n = buf ? pread(idx->pending_fd, buf, (size_t)sb.st_size, 0) : -1;
        if (n < 0) {
            snprintf(err, errlen, "reading the pending-blob journal: %s", strerror(errno));
            goto done;
        }
        buf[n] = '\0';
        pending_recover(idx, buf);
    }
    idx->pending_off = sb.st_size;
    huren_index__pending_clear(idx);
    rc = 0;
done:
    free(buf);
    return rc;
}
