/* import.c: `huren import PATH...`: walks files and folders, stores every DICOM file through
 * the same ingest path as C-STORE (copy into the archive's tmp dir, then a durable put) and
 * every file of HL7 messages through import_hl7.c, skips other files with a counted warning,
 * and prints a summary. Safe to run twice. */
#define LOG_COMPONENT "import"
#include "commands.h"
#include "huren_err.h"
#include "records/import_hl7.h"
#include "ingest/ingest_dicom.h"
#include "log.h"
#include "node.h"
#include "directory/publisher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASONS 20

typedef struct import_run {
    node *n;
    size_t total, done;
    size_t stored, duplicates, replaced, skipped, rejected, failed;
    int progress; /* stderr is a terminal */
    struct timespec last_progress;
    int counting;               /* first pass: only count files */
    char *reasons[MAX_REASONS]; /* the first rejections, for the summary */
    size_t nreasons;
    import_hl7_counts hl7; /* files of HL7 messages */
} import_run;

/* Remember why a file was refused, for the summary; later ones are only counted. */
static void note_reason(import_run *r, const char *path, const char *why)
{
    if (r->nreasons == MAX_REASONS)
        return;
    size_t len = strlen(path) + strlen(why) + 3;
    char *line = malloc(len);
    if (!line)
        return;
    snprintf(line, len, "%s: %s", path, why);
    r->reasons[r->nreasons++] = line;
}

static void show_progress(import_run *r, int force)
{
    if (!r->progress)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - r->last_progress.tv_sec) * 1000 +
              (now.tv_nsec - r->last_progress.tv_nsec) / 1000000;
    if (!force && ms < 200)
        return;
    r->last_progress = now;
    fprintf(stderr, "\rimport: %zu/%zu files, %zu stored, %zu duplicates, %zu rejected   ", r->done,
            r->total, r->stored, r->duplicates, r->rejected + r->failed);
    if (force)
        fputc('\n', stderr);
}

/* Copy src into a new temp file in the archive's tmp dir; the archive fsyncs it on put. */
static int copy_to_tmp(const char *src, const char *tmp_dir, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    int in = -1, fd = -1, rc = -1;
    snprintf(out, outlen, "%s/import-XXXXXX", tmp_dir);
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 || (fd = mkstemp(out)) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        goto done;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "read: %s", strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(err, errlen, "write: %s", strerror(errno));
                goto done;
            }
            off += w;
        }
    }
    rc = 0;
done:
    if (in >= 0)
        close(in);
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "close: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0 && fd >= 0)
        unlink(out);
    return rc;
}

static void import_file(import_run *r, const char *path)
{
    if (r->counting) {
        r->total++;
        return;
    }
    r->done++;
    char err[HUREN_ERRLEN];
    huren_dicom_file *f = NULL;
    if (import_hl7_sniff(path)) {
        import_hl7_file(r->n, path, &r->hl7);
        goto done;
    }
    int rc = huren_dicom_file_parse(path, &f, err, sizeof err);
    if (rc == HUREN_DICOM_ENOTDICOM) {
        log_warnx("%s: not a DICOM file, skipped", path);
        r->skipped++;
        goto done;
    }
    if (rc < 0) {
        log_warnx("%s: rejected: %s", path, err);
        note_reason(r, path, err);
        r->rejected++;
        goto done;
    }
    char tmp[4096];
    if (copy_to_tmp(path, huren_index_tmp_dir(r->n->index), tmp, sizeof tmp, err, sizeof err) < 0) {
        log_error("%s: cannot copy into the archive: %s", path, err);
        note_reason(r, path, err);
        r->failed++;
        goto done;
    }
    size_t nel;
    const huren_dicom_element *el = huren_dicom_file_elements(f, &nel);
    huren_index_put_outcome outcome;
    ingest_result ir = ingest_dicom_instance(r->n, el, nel, huren_dicom_file_transfer_syntax(f),
                                             tmp, 0, &outcome, err, sizeof err);
    if (ir == INGEST_INVALID) {
        log_warnx("%s: rejected: %s", path, err);
        note_reason(r, path, err);
        r->rejected++;
    } else if (ir == INGEST_FAILED) {
        log_error("%s: not stored: %s", path, err);
        note_reason(r, path, err);
        r->failed++;
    } else if (outcome == HUREN_INDEX_PUT_STORED) {
        r->stored++;
    } else if (outcome == HUREN_INDEX_PUT_DUPLICATE) {
        r->duplicates++;
    } else {
        r->replaced++;
    }
done:
    huren_dicom_file_free(f);
    show_progress(r, 0);
}

static void walk(import_run *r, const char *path, int depth)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (!r->counting) {
            log_warn("%s", path);
            r->failed++;
        }
        return;
    }
    if (S_ISREG(st.st_mode)) {
        import_file(r, path);
        return;
    }
    if (!S_ISDIR(st.st_mode) || depth > 64) /* symlinks, devices: not followed */
        return;
    /* Sorted order, so that progress and logs read the same on every run. */
    struct dirent **names = NULL;
    int count = scandir(path, &names, NULL, alphasort);
    if (count < 0) {
        if (!r->counting) {
            log_warn("%s", path);
            r->failed++;
        }
        return;
    }
    for (int i = 0; i < count; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char child[4096];
            if (snprintf(child, sizeof child, "%s/%s", path, name) < (int)sizeof child)
                walk(r, child, depth + 1);
        }
        free(names[i]);
    }
    free(names);
}

int cmd_import(const config *cfg, int npaths, char *const paths[])
{
    node n = {.cfg = cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN];
    huren_dicom_max_sequence_depth_set((unsigned)cfg->max_sequence_depth);
    if (node_open_index(&n, err, sizeof err) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (publisher_attach(&n, err, sizeof err) < 0) { /* imported records are published too */
        log_error("directory: %s", err);
        huren_index_close(n.index);
        return 1;
    }
    import_run r = {.n = &n, .progress = isatty(STDERR_FILENO), .counting = 1};
    for (int i = 0; i < npaths; i++)
        walk(&r, paths[i], 0);
    r.counting = 0;
    for (int i = 0; i < npaths; i++)
        walk(&r, paths[i], 0);
    show_progress(&r, 1);
    publisher_stop(&n);
    huren_index_close(n.index);
    printf("imported %zu files: %zu stored, %zu duplicates, %zu replaced, %zu skipped (not "
           "DICOM), %zu rejected, %zu failed\n",
           r.done, r.stored, r.duplicates, r.replaced, r.skipped, r.rejected, r.failed);
    if (r.hl7.files)
        printf("HL7: %zu files, %zu messages: %zu stored, %zu duplicates, %zu refused, %zu "
               "failed\n",
               r.hl7.files, r.hl7.messages, r.hl7.stored, r.hl7.duplicates, r.hl7.refused,
               r.hl7.failed);
    for (size_t i = 0; i < r.nreasons; i++) {
        printf("  refused %s\n", r.reasons[i]);
        free(r.reasons[i]);
    }
    if (r.rejected + r.failed > r.nreasons)
        printf("  ... and %zu more (see the log)\n", r.rejected + r.failed - r.nreasons);
    return (r.rejected || r.failed || r.hl7.refused || r.hl7.failed) ? 1 : 0;
}
