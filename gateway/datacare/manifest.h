/* manifest.h: a backup's MANIFEST, the list of its files with their sizes and SHA-256, written
 * last (so that a backup without one is incomplete) and checked by `huren backup --verify` and
 * before `huren restore` copies anything. */
#ifndef HUREN_DATACARE_MANIFEST_H
#define HUREN_DATACARE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_HEADER "huren-backup 1"

/* Hash every regular file under dir (but MANIFEST) and write dir/MANIFEST ("huren-backup 1",
 * then "<sha256 hex> <size> <relative path>" a line, sorted), fsync'ed, through a temp file
 * and a rename. Returns the number of files, or -1 with err set. */
long manifest_write(const char *dir, int64_t *bytes, char *err, size_t errlen);

/* Called with each manifest entry (path relative to the backup folder). Nonzero stops. */
typedef int (*manifest_cb)(void *ctx, const char *rel, int64_t size);
/* Check every file of dir/MANIFEST: present, of its size and SHA-256; and no file under dir
 * that the manifest does not list. cb (may be NULL) sees each entry after its check. Returns
 * the number of files, or -1 with the first problem in err. */
long manifest_verify(const char *dir, int64_t *bytes, manifest_cb cb, void *ctx, char *err,
                     size_t errlen);

#endif
