/* file.c: copying, hard-linking and removing files (huren_file.h), shared by the archive's
 * backup and compaction (index/) and the restore command (gateway/). */
#include "huren_file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int huren_file_copy_range(int src, off_t src_off, int dst, off_t dst_off, int64_t size)
{
    char buf[1 << 16];
    int64_t done = 0;
    while (done < size) {
        size_t want = size - done < (int64_t)sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
        ssize_t r = pread(src, buf, want, src_off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        for (ssize_t w = 0; w < r;) {
            ssize_t n = pwrite(dst, buf + w, (size_t)(r - w), dst_off + (off_t)done + w);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -errno;
            w += n;
        }
        done += r;
    }
    return 0;
}

int huren_file_copy_fd(int src_fd, int64_t len, const char *dst, int sync)
{
    struct stat sb;
    if (len < 0) {
        if (fstat(src_fd, &sb) < 0)
            return -errno;
        len = (int64_t)sb.st_size;
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = huren_file_copy_range(src_fd, 0, fd, 0, len);
    if (rc == 0 && sync && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        unlink(dst);
    return rc;
}

int huren_file_link_or_copy(const char *src, const char *dst, int sync, int *linked)
{
    if (linked)
        *linked = 0;
    if (link(src, dst) == 0) {
        if (linked)
            *linked = 1;
        return 0;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK)
        return -errno;
    int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = huren_file_copy_fd(fd, -1, dst, sync);
    close(fd);
    return rc;
}

int huren_file_mkdirs_for(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = 0;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int huren_file_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno ? -errno : -EIO;
    return 0;
}
