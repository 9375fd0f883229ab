/* backup_cmd.c: `huren backup DEST` (online, beside a serving node: the index from one SQLite
 * snapshot, the blobs it references, the audit log up to its last whole entry, then a MANIFEST
 * of every file), `huren backup --verify DEST` and `huren restore SRC --data DIR` (node
 * stopped). */
#include "audit_trail.h"
#include "cli.h"
#include "commands.h"
#include "huren_err.h"
#include "huren_file.h"
#include "huren_index.h"
#include "datacare/datacare.h"
#include "datacare/manifest.h"
#include "audit/huren_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_FLAGS                                                                                 \
    "  -c, --config FILE   read FILE ([node] data_dir, [audit] file, [archive] fsync)\n"           \
    "  --data DIR          archive folder (default ./var)\n"                                       \
    "  -h, --help          this help\n"

static const char usage_backup[] =
    "usage: huren backup DEST [-c FILE] [--data DIR]\n"
    "       huren backup --verify DEST\n"
    "\n"
    "Back up the archive into the new folder DEST while the node runs: index.db from one\n"
    "consistent SQLite snapshot, blobs/ (files hard-linked on the same file system, else\n"
    "copied; packs copied up to the last byte that snapshot uses), audit.log up to its last\n"
    "whole entry (its hash chain checked), and MANIFEST (SHA-256 and size of each file),\n"
    "written last. --verify checks every file against the manifest and the audit chain.\n"
    "Exit status 0 when the backup is complete and verified, 1 otherwise.\n\n" DATA_FLAGS;

static const char usage_restore[] =
    "usage: huren restore SRC --data DIR [--force] [-c FILE]\n"
    "\n"
    "Restore the backup SRC (checked against its MANIFEST first) into the data folder DIR,\n"
    "with the node stopped. DIR must be empty or absent; --force replaces an archive there\n"
    "(index.db, blobs/, pending, tmp/, the audit log). The audit log goes where the\n"
    "configuration puts it ([audit] file, else DIR/audit.log).\n\n" DATA_FLAGS;

/* Copy the audit log, holding its flock so that no append is half-written, then check it. */
static int audit_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0; /* no access recorded yet */
    if (fd < 0) {
        snprintf(err, errlen, "%.300s: %s", src, strerror(errno));
        return -1;
    }
    int rc = flock(fd, LOCK_SH) == 0 ? huren_file_copy_fd(fd, -1, dst, 1) : -errno;
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "copying %.300s: %s", src, strerror(-rc));
        return -1;
    }
    huren_audit_check c;
    if (huren_audit_verify(dst, &c, err, errlen) < 0)
        return -1;
    if (!c.intact) {
        snprintf(err, errlen, "the audit log copy is broken at line %llu: %s",
                 (unsigned long long)c.bad_line, c.reason);
        return -1;
    }
    printf("audit log: %llu entries, last hash %s\n", (unsigned long long)c.entries, c.head);
    return 0;
}

static int backup(const config *cfg, const char *dest)
{
    char err[HUREN_ERRLEN], apath[PATH_MAX], adst[PATH_MAX];
    huren_index_backup_stats st;
    int64_t bytes = 0;
    if (huren_index_backup(cfg->data_dir, dest, cfg->fsync, &st, err, sizeof err) < 0) {
        fprintf(stderr, "huren backup: %s\n", err);
        return 1;
    }
    printf("index: %lld instances; %lld files (%lld hard links), %lld packs, %lld bytes%s\n",
           (long long)st.instances, (long long)st.files, (long long)st.linked, (long long)st.packs,
           (long long)st.bytes, st.attempts > 1 ? " (snapshot retaken)" : "");
    snprintf(adst, sizeof adst, "%s/audit.log", dest);
    if (audit_path(cfg, apath, sizeof apath) < 0 || audit_copy(apath, adst, err, sizeof err) < 0) {
        fprintf(stderr, "huren backup: %s\n", err);
        return 1;
    }
    long n = manifest_write(dest, &bytes, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "huren backup: %s\n", err);
        return 1;
    }
    printf("backup complete: %s: %ld files, %lld bytes\n", dest, n, (long long)bytes);
    return 0;
}

static int verify(const char *dest)
{
    char err[HUREN_ERRLEN], apath[PATH_MAX];
    int64_t bytes = 0;
    long n = manifest_verify(dest, &bytes, NULL, NULL, err, sizeof err);
    if (n < 0) {
        printf("backup BROKEN: %s\n", err);
        return 1;
    }
    huren_audit_check c = {0};
    snprintf(apath, sizeof apath, "%s/audit.log", dest);
    if (access(apath, F_OK) == 0 &&
        (huren_audit_verify(apath, &c, err, sizeof err) < 0 || !c.intact)) {
        printf("backup BROKEN: %s: %s\n", apath, c.intact ? err : c.reason);
        return 1;
    }
    printf("backup OK: %s: %ld files, %lld bytes, audit log %llu entries\n", dest, n,
           (long long)bytes, (unsigned long long)c.entries);
    return 0;
}

/* Is a an option of cli_parse that takes the next argument as its value? */
static int takes_value(const char *a)
{
    return a[0] == '-' && strcmp(a, "-h") != 0 && strcmp(a, "--help") != 0 && !strchr(a, '=');
}

/* argv without the flags only this command knows, its operand moved after the options (so
 * that `backup DEST --data DIR` parses too); *dest = the one operand. */
int datacare_parse(int argc, char **argv, const char *usage, const char *const *own, int *seen,
                   config *cfg, const char **dest)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char *operand = NULL;
    int nrest = 0, first = 0, operands = 0;
    if (!rest)
        return -1;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        int mine = 0;
        for (int k = 0; own[k]; k++)
            if (!strcmp(argv[i], own[k]))
                mine = seen[k] = 1;
        if (mine)
            continue;
        if (argv[i][0] != '-') {
            operand = argv[i];
            operands++;
            continue;
        }
        rest[nrest++] = argv[i];
        if (takes_value(argv[i]) && i + 1 < argc)
            rest[nrest++] = argv[++i];
    }
    int rc = cli_parse(nrest, rest, usage, cfg, &first);
    if (rc == 0 && (operands != (dest ? 1 : 0) || first != nrest)) {
        fprintf(stderr, "huren %s: expected one %s\n\n%s", argv[0],
                !dest                             ? "nothing but options"
                : strcmp(argv[0], "delete-study") ? "folder"
                                                  : "StudyInstanceUID",
                usage);
        rc = -1;
    }
    if (rc == 0 && dest)
        *dest = operand;
    free(rest);
    return rc;
}

int cmd_backup(int argc, char **argv)
{
    static const char *const own[] = {"--verify", NULL};
    int seen[1] = {0};
    const char *dest = NULL;
    config cfg;
    int rc = datacare_parse(argc, argv, usage_backup, own, seen, &cfg, &dest);
    if (rc == 0)
        rc = seen[0] ? verify(dest) : backup(&cfg, dest);
    else
        rc = rc > 0 ? 0 : EXIT_USAGE;
    config_free(&cfg);
    return rc;
}

/* ---- restore ---- */

typedef struct restore_ctx {
    const char *src, *data, *audit;
    char err[HUREN_ERRLEN];
} restore_ctx;

static int restore_one(void *p, const char *rel, int64_t size)
{
    restore_ctx *r = p;
    char from[PATH_MAX], to[PATH_MAX];
    (void)size;
    snprintf(from, sizeof from, "%s/%s", r->src, rel);
    if (!strcmp(rel, "audit.log"))
        snprintf(to, sizeof to, "%s", r->audit);
    else
        snprintf(to, sizeof to, "%s/%s", r->data, rel);
    int fd = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd < 0 ? -errno : huren_file_mkdirs_for(to);
    if (rc == 0)
        rc = huren_file_copy_fd(fd, -1, to, 1);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        snprintf(r->err, sizeof r->err, "restoring %.200s as %.200s: %s", from, to, strerror(-rc));
    return rc < 0;
}

/* DIR must hold nothing (or, with force, lose the archive it holds). */
static int data_clear(const char *data, const char *audit, int force, char *err, size_t errlen)
{
    static const char *const parts[] = {
        "index.db", "index.db-wal", "index.db-shm", "blobs", "pending", "tmp", NULL};
    char path[PATH_MAX];
    int empty = 1;
    struct stat sb;
    for (int i = 0; parts[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", data, parts[i]);
        if (lstat(path, &sb) == 0)
            empty = 0;
    }
    if (lstat(audit, &sb) == 0)
        empty = 0;
    if (!empty && !force) {
        snprintf(err, errlen, "%s already holds an archive (stop the node; --force replaces it)",
                 data);
        return -1;
    }
    for (int i = 0; parts[i] && !empty; i++) {
        snprintf(path, sizeof path, "%s/%s", data, parts[i]);
        int rc = huren_file_remove_tree(path);
        if (rc < 0) {
            snprintf(err, errlen, "removing %.300s: %s", path, strerror(-rc));
            return -1;
        }
    }
    if (!empty && unlink(audit) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "removing %.300s: %s", audit, strerror(errno));
        return -1;
    }
    return 0;
}

static int restore(const config *cfg, const char *src, int force)
{
    restore_ctx r = {src, cfg->data_dir, NULL, ""};
    char apath[PATH_MAX];
    int64_t bytes = 0;
    if (audit_path(cfg, apath, sizeof apath) < 0) {
        fprintf(stderr, "huren restore: path too long\n");
        return EXIT_USAGE;
    }
    r.audit = apath;
    /* check everything before anything is touched */
    if (verify(src) != 0)
        return 1;
    if (data_clear(cfg->data_dir, apath, force, r.err, sizeof r.err) < 0) {
        fprintf(stderr, "huren restore: %s\n", r.err);
        return 1;
    }
    long n = manifest_verify(src, &bytes, restore_one, &r, r.err, sizeof r.err);
    if (n < 0) {
        fprintf(stderr, "huren restore: %s\n", r.err);
        return 1;
    }
    int fd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) < 0) {
        fprintf(stderr, "huren restore: syncing %s: %s\n", cfg->data_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    close(fd);
    printf("restored %s into %s: %ld files, %lld bytes\n", src, cfg->data_dir, n, (long long)bytes);
    return 0;
}

int cmd_restore(int argc, char **argv)
{
    static const char *const own[] = {"--force", NULL};
    int seen[1] = {0};
    const char *src = NULL;
    config cfg;
    int rc = datacare_parse(argc, argv, usage_restore, own, seen, &cfg, &src);
    if (rc == 0)
        rc = restore(&cfg, src, seen[0]);
    else
        rc = rc > 0 ? 0 : EXIT_USAGE;
    config_free(&cfg);
    return rc;
}
