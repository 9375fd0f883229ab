/* bench_find.c: not a test (never asserts a time): seeds N instances without files and prints
 * the latency distribution of the hot C-FIND, STUDY level by exact PatientID, and of a few other
 * queries. Usage: bench_find DATA_DIR [instances, default 1000000] [writers]: with writers > 0,
 * that many threads put small files (fsync on) while the queries run. */
#include "huren_index.h"
#include "huren_err.h"
#include "index/index_sys.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 5 instances per series, 2 series per study, 2 studies per patient */
static int seed_cb(void *payload, size_t i, const char *values[HUREN_INDEX_F_COUNT])
{
    static char pid[32], name[96], study[64], series[96], sop[128], date[48], acc[32];
    (void)payload;
    size_t se = i / 5, st = se / 2, pt = st / 2;
    snprintf(pid, sizeof(pid), "PID%07zu", pt);
    snprintf(name, sizeof(name), "Name%zu^Given=名%zu", pt, pt % 1000);
    snprintf(study, sizeof(study), "1.2.826.0.1.%zu", st);
    snprintf(series, sizeof(series), "1.2.826.0.1.%zu.%zu", st, se);
    snprintf(sop, sizeof(sop), "1.2.826.0.1.%zu.%zu.%zu", st, se, i);
    snprintf(date, sizeof(date), "20%02zu%02zu%02zu", 10 + st % 15, 1 + st % 12, 1 + st % 28);
    snprintf(acc, sizeof(acc), "A%zu", st);
    values[HUREN_INDEX_F_PATIENT_ID] = pid;
    values[HUREN_INDEX_F_PATIENT_NAME] = name;
    values[HUREN_INDEX_F_STUDY_UID] = study;
    values[HUREN_INDEX_F_STUDY_DATE] = date;
    values[HUREN_INDEX_F_ACCESSION_NUMBER] = acc;
    values[HUREN_INDEX_F_SERIES_UID] = series;
    values[HUREN_INDEX_F_MODALITY] = (se % 2) ? "MR" : "CT";
    values[HUREN_INDEX_F_SOP_INSTANCE_UID] = sop;
    values[HUREN_INDEX_F_SOP_CLASS_UID] = "1.2.840.10008.5.1.4.1.1.2";
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int count_cb(void *payload, const huren_index_row *row)
{
    (void)row;
    ++*(size_t *)payload;
    return 0;
}

static void run(huren_index *idx, const char *label, huren_index_level level, huren_index_field f,
                const char *fmt, size_t npat, int reps)
{
    double *t = calloc((size_t)reps, sizeof(*t));
    size_t rows = 0;
    char v[64];
    for (int r = 0; r < reps; r++) {
        snprintf(v, sizeof(v), fmt, (size_t)rand() % npat);
        huren_index_match m = {f, v};
        huren_index_query q = {level, &m, 1, 0, 0};
        double t0 = now_ms();
        if (huren_index_find(idx, &q, count_cb, &rows) < 0) {
            fprintf(stderr, "%s: %s\n", label, huren_index_errmsg(idx));
            exit(1);
        }
        t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof(*t), cmp);
    printf("%-34s rows/query %5.1f  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", label,
           (double)rows / reps, t[reps / 2], t[reps * 99 / 100], t[reps - 1]);
    free(t);
}

static atomic_int stop_writers;
static atomic_long puts_done;

static void *writer_run(void *arg)
{
    huren_index *idx = arg;
    for (unsigned long i = 0; !atomic_load(&stop_writers); i++) {
        char sop[96], path[4200];
        const char *v[HUREN_INDEX_F_COUNT] = {0};
        snprintf(sop, sizeof(sop), "1.2.826.0.2.%lu.%lu", (unsigned long)pthread_self() % 100000,
                 i);
        v[HUREN_INDEX_F_PATIENT_ID] = "LOAD";
        v[HUREN_INDEX_F_STUDY_UID] = "1.2.826.0.2";
        v[HUREN_INDEX_F_SERIES_UID] = "1.2.826.0.2.1";
        v[HUREN_INDEX_F_SOP_INSTANCE_UID] = sop;
        v[HUREN_INDEX_F_SOP_CLASS_UID] = "1.2.840.10008.5.1.4.1.1.7";
        snprintf(path, sizeof(path), "%s/load-%s", huren_index_tmp_dir(idx), sop);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, sop, strlen(sop)) < 0)
            break;
        close(fd);
        huren_index_put_outcome out;
        if (huren_index_instance_put(idx, v, path, &out) == 0)
            atomic_fetch_add(&puts_done, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char err[HUREN_ERRLEN];
    huren_index *idx = NULL;
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_find DATA_DIR [instances]\n");
        return 2;
    }
    o.data_dir = argv[1];
    o.fsync = 1;
    if (huren_index_open(&idx, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    huren_index_stats s;
    huren_index_stats_get(idx, &s);
    if ((size_t)s.instances < n) {
        double t0 = now_ms();
        if (huren_index_seed(idx, n, seed_cb, NULL) < 0) {
            fprintf(stderr, "seed: %s\n", huren_index_errmsg(idx));
            return 1;
        }
        printf("seeded %zu instances in %.1f s\n", n, (now_ms() - t0) / 1e3);
    }
    huren_index_stats_get(idx, &s);
    printf("archive: %lld patients, %lld studies, %lld series, %lld instances\n",
           (long long)s.patients, (long long)s.studies, (long long)s.series,
           (long long)s.instances);
    size_t npat = (size_t)s.patients;
    int nwriters = argc > 3 ? atoi(argv[3]) : 0;
    pthread_t wt[16];
    nwriters = nwriters > 16 ? 16 : nwriters;
    for (int i = 0; i < nwriters; i++)
        pthread_create(&wt[i], NULL, writer_run, idx);
    double tw = now_ms();
    run(idx, "STUDY by PatientID (exact)", HUREN_INDEX_LEVEL_STUDY, HUREN_INDEX_F_PATIENT_ID,
        "PID%07zu", npat, 2000);
    run(idx, "STUDY by PatientName (prefix*)", HUREN_INDEX_LEVEL_STUDY, HUREN_INDEX_F_PATIENT_NAME,
        "name%zu^*", npat, 2000);
    run(idx, "STUDY by AccessionNumber", HUREN_INDEX_LEVEL_STUDY, HUREN_INDEX_F_ACCESSION_NUMBER,
        "A%zu", npat * 2, 2000);
    run(idx, "INSTANCE by StudyUID", HUREN_INDEX_LEVEL_INSTANCE, HUREN_INDEX_F_STUDY_UID,
        "1.2.826.0.1.%zu", npat * 2, 2000);
    atomic_store(&stop_writers, 1);
    for (int i = 0; i < nwriters; i++)
        pthread_join(wt[i], NULL);
    if (nwriters)
        printf("meanwhile %d writers stored %ld instances (%.0f/s, fsync on)\n", nwriters,
               atomic_load(&puts_done), atomic_load(&puts_done) / ((now_ms() - tw) / 1e3));
    double t0 = now_ms();
    huren_index_stats_get(idx, &s);
    printf("stats_get: %.1f ms\n", now_ms() - t0);
    huren_index_close(idx);
    return 0;
}
