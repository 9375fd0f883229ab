/* bench_audit.c: what an audit entry costs. Appends N entries from T threads to an audit log
 * in DIR, with fsync on and off, and prints entries per second. A figure, not a test.
 * usage: bench_index_audit [DIR [N [THREADS...]]] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "huren_audit.h"
#include "huren_err.h"
#include "audit/huren_audit.h"

typedef struct job {
    huren_audit *a;
    int n;
} job;

static void *run(void *p)
{
    job *j = p;
    char err[HUREN_ERRLEN];
    for (int i = 0; i < j->n; i++) {
        huren_audit_entry e = {"CN=clinician,O=Hospital A,C=CN",
                               "clinician",
                               "H37010001",
                               "dicomweb.read",
                               "P000123",
                               "1.2.840.113619.2.55.3.604688119.969.1234567890.123",
                               "success",
                               200,
                               "10.1.2.3"};
        if (huren_audit_append(j->a, &e, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "append: %s\n", err);
            exit(1);
        }
    }
    return NULL;
}

static double measure(const char *path, int fsync, int threads, int n)
{
    unlink(path);
    huren_audit *a;
    char err[HUREN_ERRLEN];
    if (huren_audit_open(&a, path, fsync, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        exit(1);
    }
    pthread_t t[64];
    job j = {a, n / threads};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    huren_audit_close(a);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return (double)(j.n * threads) / s;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-audit.log", dir);
    int threads[] = {1, 4, 16};
    printf("audit appends in %s, %d entries per run\n", dir, n);
    printf("%-8s %18s %18s\n", "threads", "fsync entries/s", "no-fsync entries/s");
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        double on = measure(path, 1, threads[i], n);
        double off = measure(path, 0, threads[i], n * 10);
        printf("%-8d %18.0f %18.0f\n", threads[i], on, off);
    }
    unlink(path);
    return 0;
}
