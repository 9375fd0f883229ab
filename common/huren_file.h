/* huren_file.h: copying files for backups, restores and compaction: a byte range copied fd to
 * fd, a whole file copied or hard-linked by path (with the folders it needs), a tree removed.
 * Errors are returned as -errno; nothing is printed. */
#ifndef HUREN_FILE_H
#define HUREN_FILE_H

#include <stdint.h>
#include <sys/types.h>

/* Copy size bytes of src from src_off to dst at dst_off (pread/pwrite; EINTR retried).
 * Returns 0, -errno, or -EIO if src ends early. */
int huren_file_copy_range(int src, off_t src_off, int dst, off_t dst_off, int64_t size);
/* Create dst (O_EXCL, mode 0640) holding the first len bytes of src_fd (len < 0: all of it),
 * fsync'ed when sync is set. Returns 0 or -errno. */
int huren_file_copy_fd(int src_fd, int64_t len, const char *dst, int sync);
/* Hard-link src as dst when both are on one file system, else copy it (as huren_file_copy_fd).
 * *linked (if not NULL) says which. Returns 0 or -errno (-ENOENT: src is gone). */
int huren_file_link_or_copy(const char *src, const char *dst, int sync, int *linked);
/* mkdir -p of the folder holding path (mode 0750). Returns 0 or -errno. */
int huren_file_mkdirs_for(const char *path);
/* Remove path and everything under it (no symlink is followed). Returns 0 or -errno. */
int huren_file_remove_tree(const char *path);

#endif
