/* bench_directory_store.c: the directory's two stores side by side through store.h (not a test).
 *   bench_directory_store sqlite DIR N B K [FSYNC [T]]   the node's index in DIR (FSYNC 1: on)
 *   bench_directory_store postgresql DSN N B K [T]       a PostgreSQL database (its own fsync)
 * publishes N entries (about 5 per patient, random pseudonyms) in batches of B (each from one of
 * 1,500 institutions) from T threads
 * (default 1; PostgreSQL: a pool of T connections), printing entries/s for every tenth of N
 * and overall; then K lookups of published pseudonyms: p50 and p99 in ms. The same entries on
 * both, so the figures compare the stores, not the data. With N negative, publishes nothing
 * and looks up among the first -N entries (a store loaded by an earlier run). */
#include "huren_err.h"
#include "directory/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_PATIENT 5

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pseudonym_of(uint64_t patient, char out[65])
{
    for (int i = 0; i < 4; i++)
        snprintf(out + 16 * i, 17, "%016" PRIx64, mix(patient * 4 + (uint64_t)i));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct pub {
    directory_store *s;
    long n, batch;
    atomic_long next; /* the next batch's first entry, shared by the threads */
    atomic_long done;
    atomic_int failed;
    char inst[1500][16];
} pub;

static void fill(pub *p, long first, long m, huren_index_dir_entry *e, char (*ps)[65],
                 char (*keys)[40])
{
    /* a batch comes from one institution, as POST /api/v1/directory/entries takes it */
    const char *inst = p->inst[mix((uint64_t)(first / p->batch)) % 1500];
    for (long i = 0; i < m; i++) {
        long k = first + i;
        pseudonym_of((uint64_t)(k / PER_PATIENT), ps[i]);
        snprintf(keys[i], 40, "report:%ld", k);
        e[i] = (huren_index_dir_entry){.pseudonym = ps[i],
                                       .institution = inst,
                                       .record_key = keys[i],
                                       .version = 1,
                                       .kind = "lab",
                                       .item_code = "LAB-CBC",
                                       .item_name = "血常规",
                                       .date = "20240105",
                                       .hr = 1,
                                       .hr_scope = "province",
                                       .source_url = "https://gw.example:8443"};
    }
}

static void *publisher(void *arg)
{
    pub *p = arg;
    huren_index_dir_entry *e = calloc((size_t)p->batch, sizeof(*e));
    huren_index_dir_result *r = calloc((size_t)p->batch, sizeof(*r));
    char(*ps)[65] = calloc((size_t)p->batch, 65), (*keys)[40] = calloc((size_t)p->batch, 40);
    char err[HUREN_ERRLEN];
    for (;;) {
        long first = atomic_fetch_add(&p->next, p->batch);
        if (first >= p->n || atomic_load(&p->failed))
            break;
        long m = p->n - first < p->batch ? p->n - first : p->batch;
        fill(p, first, m, e, ps, keys);
        if (directory_store_put(p->s, e, (size_t)m, r, err, sizeof err) < 0) {
            fprintf(stderr, "put: %s\n", err);
            atomic_store(&p->failed, 1);
            break;
        }
        atomic_fetch_add(&p->done, m);
    }
    free(e);
    free(r);
    free(ps);
    free(keys);
    return NULL;
}

static int publish(directory_store *s, long n, long batch, int threads)
{
    pub *p = calloc(1, sizeof(*p));
    pthread_t t[64];
    p->s = s;
    p->n = n;
    p->batch = batch;
    for (int i = 0; i < 1500; i++)
        snprintf(p->inst[i], sizeof p->inst[i], "H%08d", 37000000 + i);
    double t0 = now_s(), tl = t0;
    long last = 0;
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, publisher, p);
    while (atomic_load(&p->done) < n && !atomic_load(&p->failed)) {
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL);
        long done = atomic_load(&p->done);
        if (done - last >= n / 10 || done == n) {
            double now = now_s();
            printf("  %ld entries: %.0f entries/s since %ld\n", done,
                   (double)(done - last) / (now - tl), last);
            fflush(stdout);
            last = done;
            tl = now;
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now_s() - t0;
    int rc = atomic_load(&p->failed) ? -1 : 0;
    if (!rc)
        printf("publish: %ld entries in batches of %ld, %d thread%s: %.2f s, %.0f entries/s\n", n,
               batch, threads, threads > 1 ? "s" : "", dt, (double)n / dt);
    free(p);
    return rc;
}

static int lookups(directory_store *s, long n, long k)
{
    double *lat = calloc((size_t)k, sizeof(*lat));
    char p[65], err[HUREN_ERRLEN];
    long found = 0;
    for (long i = 0; i < k; i++) {
        pseudonym_of(mix((uint64_t)i) % (uint64_t)(n / PER_PATIENT), p);
        huren_index_dir_list l;
        double t0 = now_s();
        int rc = directory_store_find(s, p, NULL, &l, err, sizeof err);
        lat[i] = (now_s() - t0) * 1000;
        if (rc < 0) {
            fprintf(stderr, "find: %s\n", err);
            return -1;
        }
        found += rc;
        directory_store_list_free(s, &l);
    }
    qsort(lat, (size_t)k, sizeof(*lat), cmp_double);
    printf("lookup: %ld lookups, %.1f entries each: p50 %.3f ms, p99 %.3f ms\n", k,
           (double)found / (double)k, lat[k / 2], lat[k * 99 / 100]);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s sqlite DIR N B K [FSYNC [T]] | postgresql DSN N B K [T]\n",
                argv[0]);
        return 2;
    }
    long n = atol(argv[3]), batch = atol(argv[4]), k = atol(argv[5]);
    int pg = !strcmp(argv[1], "postgresql");
    int threads = argc > (pg ? 6 : 7) ? atoi(argv[pg ? 6 : 7]) : 1;
    long loaded = n < 0 ? -n : n;
    char err[HUREN_ERRLEN];
    huren_index *idx = NULL;
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    if (pg) {
        o.kind = CONFIG_DIR_STORE_POSTGRESQL;
        o.dsn = argv[2];
        o.pool = threads;
    } else {
        huren_index_options io = HUREN_INDEX_OPTIONS_INIT;
        io.data_dir = argv[2];
        io.fsync = argc > 6 && atoi(argv[6]);
        if (huren_index_open(&idx, &io, err, sizeof err) < 0) {
            fprintf(stderr, "index: %s\n", err);
            return 1;
        }
        o.index = idx;
    }
    directory_store *s = NULL;
    if (loaded < PER_PATIENT || batch < 1 || batch > HUREN_INDEX_DIR_BATCH_MAX || threads < 1 ||
        threads > 64 || directory_store_open(&o, &s, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", s ? "" : err);
        return 1;
    }
    int rc = (n > 0 && publish(s, n, batch, threads) < 0) || lookups(s, loaded, k) < 0;
    directory_store_close(s);
    huren_index_close(idx);
    return rc;
}
