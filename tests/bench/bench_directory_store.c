/* bench_directory_store.c: the directory's two stores side by side through store.h (not a test).
 *   bench_directory_store sqlite DIR N B K [FSYNC]   the node's index in DIR (FSYNC 1: on)
 *   bench_directory_store postgresql DSN N B K       a PostgreSQL database (its own fsync)
 * publishes N entries (about 5 per patient, random pseudonyms) in batches of B, one thread,
 * and prints entries/s; then K lookups of published pseudonyms: p50 and p99 in ms. The same
 * entries in the same order on both, so the figures compare the stores, not the data. */
#include "huren_err.h"
#include "directory/store.h"

#include <inttypes.h>
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

static int publish(directory_store *s, long n, long batch)
{
    huren_index_dir_entry *e = calloc((size_t)batch, sizeof(*e));
    huren_index_dir_result *r = calloc((size_t)batch, sizeof(*r));
    char(*ps)[65] = calloc((size_t)batch, 65), (*keys)[40] = calloc((size_t)batch, 40);
    char inst[1500][16], err[HUREN_ERRLEN];
    for (int i = 0; i < 1500; i++)
        snprintf(inst[i], sizeof inst[i], "H%08d", 37000000 + i);
    double t0 = now_s();
    for (long done = 0; done < n;) {
        long m = n - done < batch ? n - done : batch;
        for (long i = 0; i < m; i++) {
            long k = done + i;
            pseudonym_of((uint64_t)(k / PER_PATIENT), ps[i]);
            snprintf(keys[i], 40, "report:%ld", k);
            e[i] = (huren_index_dir_entry){.pseudonym = ps[i],
                                           .institution = inst[mix((uint64_t)k) % 1500],
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
        if (directory_store_put(s, e, (size_t)m, r, err, sizeof err) < 0) {
            fprintf(stderr, "put: %s\n", err);
            return -1;
        }
        done += m;
    }
    double t = now_s() - t0;
    printf("publish: %ld entries in batches of %ld: %.2f s, %.0f entries/s\n", n, batch, t,
           (double)n / t);
    free(e);
    free(r);
    free(ps);
    free(keys);
    return 0;
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
        fprintf(stderr, "usage: %s sqlite DIR N B K [FSYNC] | postgresql DSN N B K\n", argv[0]);
        return 2;
    }
    long n = atol(argv[3]), batch = atol(argv[4]), k = atol(argv[5]);
    char err[HUREN_ERRLEN];
    huren_index *idx = NULL;
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    if (!strcmp(argv[1], "postgresql")) {
        o.kind = CONFIG_DIR_STORE_POSTGRESQL;
        o.dsn = argv[2];
        o.pool = 1;
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
    if (n < PER_PATIENT || batch < 1 || batch > HUREN_INDEX_DIR_BATCH_MAX ||
        directory_store_open(&o, &s, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", s ? "" : err);
        return 1;
    }
    int rc = publish(s, n, batch) < 0 || lookups(s, n, k) < 0;
    directory_store_close(s);
    huren_index_close(idx);
    return rc;
}
