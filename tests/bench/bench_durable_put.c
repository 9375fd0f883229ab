/* bench_durable_put: what one acknowledged small instance costs in fsyncs, without DICOM or the
 * network. One thread (as one association) puts N small instances into a packed archive and
 * appends one audit entry per instance, as the C-STORE path does; once the classic way (the
 * put syncs the pack and the WAL, then the audit entry is synced) and once with
 * HUREN_INDEX_PUT_DEFER_SYNC (the WAL and the audit entry synced at the same time). The peer
 * is the disk itself: N appends + fdatasync of one file, the floor of any durable store.
 * Prints instances/s of each and their ratio to the floor.
 *   bench_durable_put DIR [N]      (DIR on the disk to measure; emptied first) */
#include "audit/huren_audit.h"
#include "huren_index.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char payload[10 * 1024];

static double disk_floor(const char *dir, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/floor", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd < 0)
        return 0;
    double t = now();
    for (int i = 0; i < n; i++)
        if (write(fd, payload, sizeof payload) != (ssize_t)sizeof payload || fdatasync(fd) < 0)
            break;
    t = now() - t;
    close(fd);
    unlink(path);
    return n / t;
}

static int put_one(huren_index *idx, huren_audit *audit, int i, unsigned flags, const char *tag)
{
    char tmp[4096], sop[64], study[64], series[64], err[256];
    snprintf(tmp, sizeof tmp, "%s/in", huren_index_tmp_dir(idx));
    snprintf(sop, sizeof sop, "1.2.826.0.1.3680043.99.%s.%d", tag, i);
    snprintf(study, sizeof study, "1.2.826.0.1.3680043.98.%s.%d", tag, i / 100);
    snprintf(series, sizeof series, "1.2.826.0.1.3680043.97.%s.%d", tag, i / 100);
    const char *v[HUREN_INDEX_F_COUNT] = {0};
    v[HUREN_INDEX_F_PATIENT_ID] = "BENCH1";
    v[HUREN_INDEX_F_STUDY_UID] = study;
    v[HUREN_INDEX_F_SERIES_UID] = series;
    v[HUREN_INDEX_F_SOP_INSTANCE_UID] = sop;
    v[HUREN_INDEX_F_SOP_CLASS_UID] = "1.2.840.10008.5.1.4.1.1.7";
    v[HUREN_INDEX_F_MODALITY] = "OT";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, payload, sizeof payload) != (ssize_t)sizeof payload)
        return -1;
    close(fd);
    huren_index_put_outcome o;
    if (huren_index_instance_put_ex(idx, v, tmp, flags | HUREN_INDEX_PUT_KEEP_TMP, &o) < 0)
        return -1;
    huren_audit_entry e = {.actor = "BENCH",
                           .role = "dicom",
                           .action = "dimse.c-store",
                           .patient = "BENCH1",
                           .object = study,
                           .outcome = "success"};
    if (huren_audit_append(audit, &e, NULL, err, sizeof err) < 0)
        return -1;
    return huren_index_durable_wait(idx);
}

typedef struct archive {
    huren_index *idx;
    huren_audit *audit;
    int next;
} archive;

static void archive_open(archive *a, const char *dir, const char *name)
{
    char data[4096], log[4096], err[256];
    snprintf(data, sizeof data, "%s/%s", dir, name);
    snprintf(log, sizeof log, "%s/%s.audit", dir, name);
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    o.data_dir = data;
    o.pack_max_instance = 64 * 1024;
    a->next = 0;
    if (huren_index_open(&a->idx, &o, err, sizeof err) < 0 ||
        huren_audit_open(&a->audit, log, 1, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "bench_durable_put: %s\n", err);
        exit(1);
    }
}

/* n puts; instances per second */
static double rounds(archive *a, unsigned flags, int n, const char *tag)
{
    double t = now();
    for (int i = 0; i < n; i++, a->next++)
        if (put_one(a->idx, a->audit, a->next, flags, tag) < 0) {
            fprintf(stderr, "bench_durable_put: put %d: %s\n", i, huren_index_errmsg(a->idx));
            exit(1);
        }
    return n / (now() - t);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_durable_put DIR [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    mkdir(argv[1], 0700);
    memset(payload, 0x5a, sizeof payload);
    /* the two ways alternate in rounds of 100 puts, so that a busy disk or CPU weighs on both
     * alike; the medians of the rounds are compared */
    int nr = n / 100 > 3 ? n / 100 : 3;
    double *fl = calloc((size_t)nr, sizeof *fl), *sq = calloc((size_t)nr, sizeof *sq),
           *ov = calloc((size_t)nr, sizeof *ov);
    archive as, ao;
    archive_open(&as, argv[1], "sequential");
    archive_open(&ao, argv[1], "overlapped");
    rounds(&as, 0, 50, "warm");
    rounds(&ao, HUREN_INDEX_PUT_DEFER_SYNC, 50, "warm");
    for (int r = 0; r < nr; r++) {
        fl[r] = disk_floor(argv[1], 100);
        sq[r] = rounds(&as, 0, 100, "s");
        ov[r] = rounds(&ao, HUREN_INDEX_PUT_DEFER_SYNC, 100, "o");
    }
    qsort(fl, (size_t)nr, sizeof *fl, cmp_double);
    qsort(sq, (size_t)nr, sizeof *sq, cmp_double);
    qsort(ov, (size_t)nr, sizeof *ov, cmp_double);
    double f = fl[nr / 2], seq = sq[nr / 2], par = ov[nr / 2];
    printf("medians of %d rounds of 100, alternating:\n", nr);
    printf("disk append+fdatasync  %8.0f /s  (the floor: one fsync per instance)\n", f);
    printf("put+audit sequential   %8.0f /s  %.2f x floor\n", seq, seq / f);
    printf("put+audit overlapped   %8.0f /s  %.2f x floor  %.2f x sequential\n", par, par / f,
           par / seq);
    huren_audit_close(as.audit);
    huren_audit_close(ao.audit);
    huren_index_close(as.idx);
    huren_index_close(ao.idx);
    free(fl);
    free(sq);
    free(ov);
    return 0;
}
