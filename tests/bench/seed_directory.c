/* seed_directory.c: bench_directory_seed, the directory benchmark's helper (not a test).
 *   seed DIR N        load N entries (about 5 per patient, 1,500 institutions) in pseudonym
 *                     order (random order with SEED_RANDOM=1), fsync off, and write
 *                     DIR/sample-pseudonyms.txt (10,000 of them)
 *   lookup DIR K      K lookups of sampled pseudonyms through huren_index_dir_find: p50/p99
 *   publish DIR K B   K new entries with random pseudonyms in batches of B, fsync on: entries/s
 * Pseudonyms are generated in ascending order so that seeding appends to the primary key;
 * they look random (a 64-bit hash fills the rest) like HMAC outputs. */
#include "huren_index.h"
#include "index/index_directory.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE 10000
#define PER_PATIENT_MAX 9

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Patient p of n: ascending in p (or in random order with SEED_RANDOM set: slower to load,
 * but the tree's pages are then as full as a directory that grew by publishing, ~70%). */
static void pseudonym_of(uint64_t p, uint64_t n, char out[65])
{
    uint64_t step = getenv("SEED_RANDOM") ? mix(p ^ 0x1234567) | 1 : UINT64_MAX / (n ? n : 1);
    snprintf(out, 65, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, p * step, mix(p),
             mix(p ^ 0x5555), mix(p ^ 0xaaaa));
}

static const char *const items[][3] = {{"LAB-CBC", "血常规", "lab"},
                                       {"LAB-LFT", "肝功能", "lab"},
                                       {"LAB-RFT", "肾功能", "lab"},
                                       {"LAB-GLU", "空腹血糖", "lab"},
                                       {"LAB-LIPID", "血脂四项", "lab"},
                                       {"CT-CHEST-PLAIN", "胸部CT平扫", "imaging"},
                                       {"CT-HEAD-PLAIN", "头颅CT平扫", "imaging"},
                                       {"MR-HEAD-PLAIN", "头颅MRI平扫", "imaging"},
                                       {"DX-CHEST", "胸部X线正位片", "imaging"},
                                       {"US-ABD", "腹部超声", "imaging"}};
#define NITEMS (sizeof items / sizeof items[0])

typedef struct strings {
    char pseudonym[65], institution[16], key[48], date[9], url[64];
} strings;

static void entry_fill(huren_index_dir_entry *e, strings *s, const char *pseudonym, uint64_t r,
                       uint64_t serial)
{
    const char *const *it = items[r % NITEMS];
    memcpy(s->pseudonym, pseudonym, 65);
    snprintf(s->institution, sizeof s->institution, "H3701%04d", (int)(r >> 8) % 1500);
    snprintf(s->key, sizeof s->key, "%s:%" PRIu64, it[2][0] == 'l' ? "report" : "study", serial);
    snprintf(s->date, sizeof s->date, "%04d%02d%02d", 2020 + (int)((r >> 20) % 6),
             1 + (int)((r >> 24) % 12), 1 + (int)((r >> 28) % 28));
    snprintf(s->url, sizeof s->url, "https://gw-%s.example:8443", s->institution);
    memset(e, 0, sizeof *e);
    e->pseudonym = s->pseudonym;
    e->institution = s->institution;
    e->record_key = s->key;
    e->version = 1;
    e->item_code = it[0];
    e->item_name = it[1];
    e->kind = it[2];
    e->modality = it[2][0] == 'i' ? "CT" : NULL;
    e->date = s->date;
    e->hr = 1;
    e->hr_scope = "province";
    e->qualified_from = "20230101";
    e->qualified_to = "20271231";
    e->source_url = s->url;
    e->status = it[2][0] == 'l' ? "final" : NULL;
}

static huren_index *open_dir(const char *dir, int fsync)
{
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    huren_index *idx = NULL;
    char err[512];
    o.data_dir = dir;
    o.fsync = fsync;
    if (huren_index_open(&idx, &o, err, sizeof err) < 0) {
        fprintf(stderr, "open %s: %s\n", dir, err);
        exit(1);
    }
    return idx;
}

static int put_batch(huren_index *idx, huren_index_dir_entry *e, size_t n,
                     huren_index_dir_result *r)
{
    if (huren_index_dir_put(idx, e, n, r) < 0) {
        fprintf(stderr, "put: %s\n", huren_index_errmsg(idx));
        return -1;
    }
    return 0;
}

static int cmd_seed(const char *dir, uint64_t n)
{
    enum { BATCH = 10000 };
    huren_index *idx = open_dir(dir, 0);
    huren_index_dir_entry *e = calloc(BATCH, sizeof *e);
    huren_index_dir_result *r = calloc(BATCH, sizeof *r);
    strings *s = calloc(BATCH, sizeof *s);
    char path[4200], pseud[65];
    snprintf(path, sizeof path, "%s/sample-pseudonyms.txt", dir);
    FILE *sample = fopen(path, "w");
    if (!e || !r || !s || !sample)
        return 1;
    uint64_t patients = n / 5 + 1, every = patients / SAMPLE + 1, done = 0, serial = 0;
    size_t k = 0;
    double t0 = now_s();
    for (uint64_t p = 0; done < n; p++) {
        pseudonym_of(p, patients, pseud);
        if (p % every == 0)
            fprintf(sample, "%s\n", pseud);
        uint64_t m = 1 + mix(p * 7) % PER_PATIENT_MAX;
        for (uint64_t j = 0; j < m && done < n; j++, done++) {
            entry_fill(&e[k], &s[k], pseud, mix(serial * 31 + 1), serial);
            serial++;
            if (++k == BATCH) {
                if (put_batch(idx, e, k, r) < 0)
                    return 1;
                k = 0;
            }
        }
        if (done / 1000000 != (done - m) / 1000000 && done < n)
            fprintf(stderr, "  %" PRIu64 " entries, %.0f/s\n", done, (double)done / (now_s() - t0));
    }
    if (k && put_batch(idx, e, k, r) < 0)
        return 1;
    double t = now_s() - t0;
    printf("seeded %" PRIu64 " entries (%" PRIu64 " patients) in %.1f s: %.0f entries/s\n", n,
           patients, t, (double)n / t);
    fclose(sample);
    huren_index_close(idx);
    free(e);
    free(r);
    free(s);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_lookup(const char *dir, int k)
{
    char path[4200], line[128];
    static char pseud[SAMPLE][65];
    int n = 0;
    snprintf(path, sizeof path, "%s/sample-pseudonyms.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && n < SAMPLE && fgets(line, sizeof line, f))
        if (strlen(line) >= 64)
            memcpy(pseud[n], line, 64), pseud[n++][64] = 0;
    if (f)
        fclose(f);
    if (!n) {
        fprintf(stderr, "no sample pseudonyms in %s\n", dir);
        return 1;
    }
    huren_index *idx = open_dir(dir, 1);
    double *lat = calloc((size_t)k, sizeof *lat);
    long found = 0;
    for (int i = 0; i < k; i++) {
        huren_index_dir_list l;
        double t0 = now_s();
        int rc = huren_index_dir_find(idx, pseud[mix((uint64_t)i) % (uint64_t)n], NULL, &l);
        lat[i] = (now_s() - t0) * 1e3;
        if (rc < 0) {
            fprintf(stderr, "find: %s\n", huren_index_errmsg(idx));
            return 1;
        }
        found += rc;
        huren_index_dir_list_free(&l);
    }
    qsort(lat, (size_t)k, sizeof *lat, cmp_double);
    printf("index lookup: %d lookups, %.1f entries each: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           k, (double)found / k, lat[k / 2], lat[(k * 99) / 100], lat[k - 1]);
    free(lat);
    huren_index_close(idx);
    return 0;
}

static int cmd_publish(const char *dir, int k, int batch)
{
    int fsync = !getenv("NOFSYNC");
    huren_index *idx = open_dir(dir, fsync);
    huren_index_dir_entry *e = calloc((size_t)batch, sizeof *e);
    huren_index_dir_result *r = calloc((size_t)batch, sizeof *r);
    strings *s = calloc((size_t)batch, sizeof *s);
    char pseud[65];
    uint64_t seed = (uint64_t)time(NULL) << 20;
    double t0 = now_s();
    for (int done = 0; done < k;) {
        int n = k - done < batch ? k - done : batch;
        for (int i = 0; i < n; i++) {
            uint64_t x = mix(seed + (uint64_t)done + (uint64_t)i);
            snprintf(pseud, sizeof pseud, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
                     x, mix(x), mix(x + 1), mix(x + 2));
            entry_fill(&e[i], &s[i], pseud, mix(x + 3), (uint64_t)1 << 40 | (x >> 24));
        }
        if (put_batch(idx, e, (size_t)n, r) < 0)
            return 1;
        done += n;
    }
    double t = now_s() - t0;
    printf("index publish: %d new entries in batches of %d, fsync %s: %.2f s, %.0f entries/s\n", k,
           batch, fsync ? "on" : "off", t, k / t);
    huren_index_close(idx);
    free(e);
    free(r);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "seed"))
        return cmd_seed(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && !strcmp(argv[1], "lookup"))
        return cmd_lookup(argv[2], atoi(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "publish"))
        return cmd_publish(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr,
            "usage: bench_directory_seed seed DIR N | lookup DIR K | publish DIR K BATCH\n");
    return 2;
}
