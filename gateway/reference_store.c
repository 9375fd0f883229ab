/* reference_store.c: the folder the reference tables are kept in (reference.h), on the
 * directory (what operators imported) and on a hospital (the last good copy it pulled): one
 * file per kind, replaced atomically, its first line the version. */
#include "reference.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void path_of(const char *dir, ref_kind k, const char *suffix, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.csv%s", dir, ref_kind_name(k), suffix);
}

int ref_store_read(const char *dir, ref_kind k, char **data, size_t *len, char *err, size_t errlen)
{
    char path[4200];
    *data = NULL;
    *len = 0;
    path_of(dir, k, "", path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(REF_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, REF_MAX_BYTES + 1, fp) : 0;
    int bad = !buf || ferror(fp) || n > REF_MAX_BYTES;
    fclose(fp);
    if (bad) {
        snprintf(err, errlen, "%s: %s", path,
                 !buf                ? "out of memory"
                 : n > REF_MAX_BYTES ? "too large"
                                     : "read error");
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int ref_store_write(const char *dir, ref_kind k, const char *data, size_t len, char *err,
                    size_t errlen)
{
    char path[4200], tmp[4200];
    char parent[4200];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        (void)mkdir(parent, 0750); /* a data folder not made yet */
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    path_of(dir, k, "", path, sizeof path);
    path_of(dir, k, ".tmp", tmp, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", ok ? path : tmp, strerror(ok ? errno : saved));
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    return 0;
}

int ref_import(const char *dir, ref_kind k, const char *csv, size_t len, long *version, char *err,
               size_t errlen)
{
    ref_table *t = NULL, *old = NULL;
    char *prev = NULL, *text = NULL;
    size_t prevlen = 0;
    int rc = -1;
    if (ref_table_parse(k, csv, len, &t, err, errlen) < 0)
        return -1;
    int have = ref_store_read(dir, k, &prev, &prevlen, err, errlen);
    if (have < 0)
        goto done;
    if (have == 0 && ref_table_parse(k, prev, prevlen, &old, err, errlen) < 0)
        old = NULL; /* a damaged stored copy: start its versions again from what it said */
    long next = (old ? ref_table_version(old) : 0) + 1;
    if (!(text = malloc(len + 64))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    int head = snprintf(text, 64, "# version: %ld\n", next);
    size_t n = (size_t)head;
    /* the operator's own version lines are not kept: the directory numbers them */
    size_t start = len >= 3 && !memcmp(csv, "\xEF\xBB\xBF", 3) ? 3 : 0; /* nor a BOM */
    for (size_t pos = start; pos < len;) {
        const char *nl = memchr(csv + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (csv + pos)) + 1 : len - pos;
        if (strncmp(csv + pos, "# version:", l < 10 ? l : 10) || l < 10) {
            memcpy(text + n, csv + pos, l);
            n += l;
        }
        pos += l;
    }
    if (n && text[n - 1] != '\n')
        text[n++] = '\n';
    if (ref_store_write(dir, k, text, n, err, errlen) < 0)
        goto done;
    *version = next;
    rc = 0;
done:
    ref_table_free(t);
    ref_table_free(old);
    free(prev);
    free(text);
    return rc;
}

void ref_store_describe(const char *dir, void (*line)(void *ctx, const char *text), void *ctx)
{
    for (int k = 0; k < REF_NKINDS; k++) {
        char *data = NULL, err[2048], text[2200];
        size_t len = 0;
        ref_table *t = NULL;
        int r = ref_store_read(dir, (ref_kind)k, &data, &len, err, sizeof err);
        if (r == 0 && ref_table_parse((ref_kind)k, data, len, &t, err, sizeof err) == 0)
            snprintf(text, sizeof text, "reference %s: version %ld, %zu rows",
                     ref_kind_name((ref_kind)k), ref_table_version(t), ref_table_rows(t));
        else
            snprintf(text, sizeof text, "reference %s: %s", ref_kind_name((ref_kind)k),
                     r > 0 ? "none held" : err);
        line(ctx, text);
        ref_table_free(t);
        free(data);
    }
}
