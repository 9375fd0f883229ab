/* blob.c: the blob store on disk. An instance's Part-10 file lives at
 * blobs/xx/yy/<hex SHA-256 of its SOP Instance UID>[-generation]: names come from a hash, never
 * from input text. Also the fsync helpers and the clean-up of tmp/ at open. */
#include "index_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sha256_hex(const char *s, char out[HUREN_INDEX__HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * mdlen] = '\0';
    return 0;
}

int huren_index__blob_name(const char *sop_uid, int64_t gen, char *out, size_t outlen)
{
    char h[HUREN_INDEX__HASH_HEX + 1];
    int n;
    if (sha256_hex(sop_uid, h) < 0)
        return -1;
    if (gen > 0)
        n = snprintf(out, outlen, "%.2s/%.2s/%s-%lld", h, h + 2, h, (long long)gen);
    else
        n = snprintf(out, outlen, "%.2s/%.2s/%s", h, h + 2, h);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int huren_index__blob_path(const huren_index *idx, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", idx->blob_dir, name);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int huren_index__fsync_path(const char *path, int is_dir)
{
    int fd = open(path, (is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* mkdir that treats an existing folder as success; *created tells whether it was new. */
static int mkdir_one(const char *path, int *created)
{
    *created = 0;
    if (mkdir(path, 0750) == 0) {
        *created = 1;
        return 0;
    }
    return errno == EEXIST ? 0 : -errno;
}

static int hexval(char c)
{
    return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* bit number of the folder xx/yy in idx->dir_known, or -1 */
static int dir_bit(const char *name)
{
    int v = 0;
    for (int i = 0; i < 5; i++) {
        if (i == 2)
            continue; /* the '/' */
        int h = hexval(name[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

int huren_index__blob_mkdirs(huren_index *idx, const char *name)
{
    char xx[4096], yy[4096];
    int c1 = 0, c2 = 0, rc;
    int bit = dir_bit(name);
    if (bit >= 0 && (idx->dir_known[bit / 8] & (1u << (bit % 8))))
        return 0;
    if (snprintf(xx, sizeof(xx), "%s/%.2s", idx->blob_dir, name) >= (int)sizeof(xx) ||
        snprintf(yy, sizeof(yy), "%s/%.5s", idx->blob_dir, name) >= (int)sizeof(yy))
        return -ENAMETOOLONG;
    if ((rc = mkdir_one(xx, &c1)) < 0 || (rc = mkdir_one(yy, &c2)) < 0)
        return rc;
    /* a new folder's entry must itself be durable before a file in it is acknowledged */
    if (idx->opts.fsync) {
        if (c1 && (rc = huren_index__fsync_path(idx->blob_dir, 1)) < 0)
            return rc;
        if (c2 && (rc = huren_index__fsync_path(xx, 1)) < 0)
            return rc;
    }
    if (bit >= 0)
        idx->dir_known[bit / 8] |= (unsigned char)(1u << (bit % 8));
    return 0;
}

int huren_index__tmp_clean(const huren_index *idx)
{
    int rc = 0;
    DIR *d = opendir(idx->tmp_dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            continue; /* only files are ours; "." and ".." land here too */
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = -errno;
    }
    closedir(d);
    return rc;
}
