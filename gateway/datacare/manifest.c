/* manifest.c: writing and checking a backup's MANIFEST (manifest.h). */
#include "datacare/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* hex SHA-256 and size of the file at path */
static int file_hash(const char *path, char hex[65], int64_t *size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    char buf[1 << 16];
    ssize_t n;
    *size = 0;
    while (ok && (n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ok = 0;
            break;
        }
        ok = EVP_DigestUpdate(c, buf, (size_t)n) == 1;
        *size += n;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    ok = ok && EVP_DigestFinal_ex(c, md, &len) == 1 && len == 32;
    EVP_MD_CTX_free(c);
    close(fd);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -EIO;
}

typedef struct list {
    char **v;
    size_t n, cap;
    size_t root_len;
} list;

static list *walk_list; /* nftw has no context pointer; commands are single-threaded */

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    list *l = walk_list;
    if (flag != FTW_F)
        return flag == FTW_D || flag == FTW_DP ? 0 : -1; /* symlinks and the unreadable: refuse */
    const char *rel = path + l->root_len + 1;
    if (!strcmp(rel, MANIFEST_NAME) || !strncmp(rel, MANIFEST_NAME ".", sizeof MANIFEST_NAME))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(rel)))
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_free(list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* The regular files under dir, sorted, relative to dir. */
static int list_files(const char *dir, list *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->root_len = strlen(dir);
    walk_list = l;
    int rc = nftw(dir, walk_one, 16, FTW_PHYS);
    walk_list = NULL;
    if (rc != 0) {
        snprintf(err, errlen, "listing %s: %s", dir, errno ? strerror(errno) : "not a plain file");
        list_free(l);
        return -1;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    return 0;
}

static int write_entries(FILE *f, const char *dir, const list *l, int64_t *bytes, char *err,
                         size_t errlen)
{
    fprintf(f, "%s\n", MANIFEST_HEADER);
    for (size_t i = 0; i < l->n; i++) {
        char path[PATH_MAX], hex[65];
        int64_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, l->v[i]);
        int rc = file_hash(path, hex, &size);
        if (rc < 0) {
            snprintf(err, errlen, "hashing %s: %s", path, strerror(-rc));
            return -1;
        }
        fprintf(f, "%s %lld %s\n", hex, (long long)size, l->v[i]);
        *bytes += size;
    }
    return 0;
}

long manifest_write(const char *dir, int64_t *bytes, char *err, size_t errlen)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    list l;
    *bytes = 0;
    snprintf(tmp, sizeof tmp, "%s/" MANIFEST_NAME ".tmp", dir);
    snprintf(final, sizeof final, "%s/" MANIFEST_NAME, dir);
    if (list_files(dir, &l, err, errlen) < 0)
        return -1;
    FILE *f = fopen(tmp, "w");
    int rc = f ? write_entries(f, dir, &l, bytes, err, errlen) : -1;
    if (!f)
        snprintf(err, errlen, "creating %s: %s", tmp, strerror(errno));
    if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0) && rc == 0) {
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (f && fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, final) != 0) {
        snprintf(err, errlen, "renaming %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    long n = (long)l.n;
    list_free(&l);
    return rc < 0 ? -1 : n;
}

/* One manifest line: hex, size and a relative path that stays inside the folder. */
static int line_parse(char *line, char **hex, int64_t *size, char **rel)
{
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL, *end = NULL;
    if (!sp2 || sp1 - line != 64)
        return -1;
    *sp1 = *sp2 = 0;
    *hex = line;
    long long v = strtoll(sp1 + 1, &end, 10);
    *size = v;
    *rel = sp2 + 1;
    return *end || v < 0 || !**rel || **rel == '/' || strstr(*rel, "..") ? -1 : 0;
}

typedef struct check {
    const char *dir;
    int64_t bytes;
    long files;
    manifest_cb cb;
    void *ctx;
} check;

static int check_line(check *c, char *line, char *err, size_t errlen)
{
    char *hex, *rel, path[PATH_MAX], got[65];
    int64_t size, got_size = 0;
    if (line_parse(line, &hex, &size, &rel) < 0) {
        snprintf(err, errlen, "%s/" MANIFEST_NAME ": line %ld is not \"sha256 size path\"", c->dir,
                 c->files + 2);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", c->dir, rel);
    int rc = file_hash(path, got, &got_size);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return -1;
    }
    if (got_size != size || strcmp(got, hex) != 0) {
        snprintf(err, errlen, "%s: %s (manifest: %lld bytes, found %lld)", path,
                 got_size != size ? "size differs" : "SHA-256 differs", (long long)size,
                 (long long)got_size);
        return -1;
    }
    c->files++;
    c->bytes += size;
    if (c->cb && c->cb(c->ctx, rel, size) != 0) {
        snprintf(err, errlen, "%s: stopped", path);
        return -1;
    }
    return 0;
}

long manifest_verify(const char *dir, int64_t *bytes, manifest_cb cb, void *ctx, char *err,
                     size_t errlen)
{
    char path[PATH_MAX], line[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/" MANIFEST_NAME, dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s (not a complete backup)", path, strerror(errno));
        return -1;
    }
    check c = {dir, 0, 0, cb, ctx};
    int rc = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, MANIFEST_HEADER "\n") != 0) {
        snprintf(err, errlen, "%s: not a huren backup manifest", path);
        rc = -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        rc = check_line(&c, line, err, errlen);
    }
    fclose(f);
    list l;
    if (rc == 0 && list_files(dir, &l, err, errlen) == 0) {
        if ((long)l.n != c.files) {
            snprintf(err, errlen, "%s holds %zu files, the manifest lists %ld", dir, l.n, c.files);
            rc = -1;
        }
        list_free(&l);
    } else if (rc == 0) {
        rc = -1;
    }
    if (bytes)
        *bytes = c.bytes;
    return rc < 0 ? -1 : c.files;
}
