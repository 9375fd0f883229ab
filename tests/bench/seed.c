/* seed.c: `bench_seed DATA_DIR N` fills an archive with N metadata-only instances for the query
 * benchmarks: 20 instances per study (2 series), 3 studies per patient, patient ids PAT0000000..,
 * dates spread over 2020-2026, modalities CT/MR/CR/US. Not a test; prints what it did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "huren_index.h"
#include "index/index_sys.h"

typedef struct seed_row {
    char pid[32], name[96], study[96], series[128], sop[160], date[32], acc[32], num[32];
} seed_row;

static const char *const modalities[] = {"CT", "MR", "CR", "US"};

static int fill(void *payload, size_t i, const char *v[HUREN_INDEX_F_COUNT])
{
    seed_row *r = payload;
    size_t study = i / 20, patient = study / 3, series = i / 10;
    snprintf(r->pid, sizeof r->pid, "PAT%07zu", patient);
    snprintf(r->name, sizeof r->name, "Patient%zu^Test=患者^%zu", patient, patient % 1000);
    snprintf(r->study, sizeof r->study, "1.2.826.0.1.3680043.10.1492.8.%zu", study);
    snprintf(r->series, sizeof r->series, "1.2.826.0.1.3680043.10.1492.8.%zu.%zu", study, series);
    snprintf(r->sop, sizeof r->sop, "1.2.826.0.1.3680043.10.1492.8.%zu.%zu.%zu", study, series, i);
    snprintf(r->date, sizeof r->date, "%04zu%02zu%02zu", 2020 + study % 7, 1 + study % 12,
             1 + study % 28);
    snprintf(r->acc, sizeof r->acc, "A%09zu", study);
    snprintf(r->num, sizeof r->num, "%zu", i % 10 + 1);
    v[HUREN_INDEX_F_PATIENT_ID] = r->pid;
    v[HUREN_INDEX_F_PATIENT_NAME] = r->name;
    v[HUREN_INDEX_F_PATIENT_SEX] = patient % 2 ? "F" : "M";
    v[HUREN_INDEX_F_PATIENT_BIRTH_DATE] = "19700101";
    v[HUREN_INDEX_F_STUDY_UID] = r->study;
    v[HUREN_INDEX_F_STUDY_DATE] = r->date;
    v[HUREN_INDEX_F_STUDY_TIME] = "101500";
    v[HUREN_INDEX_F_ACCESSION_NUMBER] = r->acc;
    v[HUREN_INDEX_F_SERIES_UID] = r->series;
    v[HUREN_INDEX_F_MODALITY] = modalities[study % 4];
    v[HUREN_INDEX_F_SERIES_NUMBER] = series % 2 ? "2" : "1";
    v[HUREN_INDEX_F_SOP_INSTANCE_UID] = r->sop;
    v[HUREN_INDEX_F_SOP_CLASS_UID] = "1.2.840.10008.5.1.4.1.1.2";
    v[HUREN_INDEX_F_INSTANCE_NUMBER] = r->num;
    v[HUREN_INDEX_F_TRANSFER_SYNTAX_UID] = "1.2.840.10008.1.2.1";
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_seed DATA_DIR N\n");
        return 2;
    }
    size_t n = strtoull(argv[2], NULL, 10);
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    o.data_dir = argv[1];
    o.fsync = 0; /* seeding only: the benchmark measures queries */
    char err[512];
    huren_index *idx;
    if (huren_index_open(&idx, &o, err, sizeof err) < 0) {
        fprintf(stderr, "bench_seed: %s\n", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    seed_row row;
    int rc = huren_index_seed(idx, n, fill, &row);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0)
        fprintf(stderr, "bench_seed: %s\n", huren_index_errmsg(idx));
    huren_index_close(idx);
    printf("seeded %zu instances in %.1f s\n", n,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc < 0;
}
