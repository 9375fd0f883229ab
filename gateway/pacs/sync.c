/* sync.c: what the PACS holds, into the index. A day is one STUDY-level C-FIND by StudyDate;
 * when the PACS answers as many studies as its result limit, more than we hold in memory, or
 * a warning or refusal, the day is split by StudyTime and each half asked again. A study
 * answered without ModalitiesInStudy or its counts is asked for its series. A day read
 * completely is marked in the index (the watermark, resumed after a restart), and studies of
 * it the PACS no longer answers are removed. */
#define LOG_COMPONENT "pacs"
#include "pacs/pacs_int.h"

#include "huren_err.h"
#include "index/index_pacs.h"
#include "ingest/dicom_fields.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWERS 50000 /* held in memory per window; beyond it the window is split */
#define DAY_SECONDS 86400

/* The study fields asked for (returned when the PACS has them). */
static const huren_index_field study_keys[] = {
    HUREN_INDEX_F_PATIENT_ID,
    HUREN_INDEX_F_ISSUER_OF_PATIENT_ID,
    HUREN_INDEX_F_PATIENT_NAME,
    HUREN_INDEX_F_PATIENT_BIRTH_DATE,
    HUREN_INDEX_F_PATIENT_SEX,
    HUREN_INDEX_F_OTHER_PATIENT_IDS,
    HUREN_INDEX_F_STUDY_UID,
    HUREN_INDEX_F_STUDY_DATE,
    HUREN_INDEX_F_STUDY_TIME,
    HUREN_INDEX_F_ACCESSION_NUMBER,
    HUREN_INDEX_F_STUDY_ID,
    HUREN_INDEX_F_STUDY_DESCRIPTION,
    HUREN_INDEX_F_REFERRING_PHYSICIAN,
    HUREN_INDEX_F_MODALITIES_IN_STUDY,
    HUREN_INDEX_F_STUDY_NUM_SERIES,
    HUREN_INDEX_F_STUDY_NUM_INSTANCES,
};
#define NSTUDY_KEYS (sizeof study_keys / sizeof study_keys[0])

typedef struct answers {
    huren_index_pacs_study *v;
    size_t n, cap;
    int overflow;
} answers;

static void answers_clear(answers *a)
{
    for (size_t i = 0; i < a->n; i++)
        for (int f = 0; f < HUREN_INDEX_F_COUNT; f++)
            free((char *)a->v[i].values[f]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static int on_study(void *ctx, const huren_dicom_element *el, size_t n)
{
    answers *a = ctx;
    if (a->n == MAX_ANSWERS) {
        a->overflow = 1;
        return 1; /* cancel: the window is split */
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        huren_index_pacs_study *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->overflow = 1;
            return 1;
        }
        a->v = v;
        a->cap = cap;
    }
    huren_index_pacs_study *s = &a->v[a->n++];
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        const dicom_field *f = dicom_field_by_tag(el[i].tag);
        if (!f || !el[i].value || !*el[i].value || f->field >= HUREN_INDEX_F_SERIES_UID)
            continue;
        if (f->field == HUREN_INDEX_F_STUDY_NUM_SERIES)
            s->num_series = strtoll(el[i].value, NULL, 10);
        else if (f->field == HUREN_INDEX_F_STUDY_NUM_INSTANCES)
            s->num_instances = strtoll(el[i].value, NULL, 10);
        else if (!s->values[f->field])
            s->values[f->field] = strdup(el[i].value);
    }
    return 0;
}

/* One C-FIND within the PACS's limits. */
static int find(pacs_conn *c, huren_dicom_level level, const huren_dicom_element *keys,
                size_t nkeys, huren_dicom_find_emit emit, void *ctx, uint16_t *status, char *err,
                size_t errlen)
{
    huren_dicom_scu_options o;
    pacs__scu_options(c, &o);
    pacs__acquire(c, 1);
    int rc = huren_dicom_scu_find(&o, level, keys, nkeys, emit, ctx, status, err, errlen);
    pacs__release(c);
    atomic_fetch_add(&c->queries, 1);
    if (rc < 0)
        atomic_fetch_add(&c->query_failures, 1);
    return rc;
}

#define MAX_UNCOUNTED 64 /* series asked for their instances one by one, per study */

typedef struct series_count {
    char modalities[256];
    int64_t series, instances;
    char *uncounted[MAX_UNCOUNTED]; /* series answered without their count */
    size_t nuncounted;
} series_count;

static int on_series(void *ctx, const huren_dicom_element *el, size_t n)
{
    series_count *sc = ctx;
    sc->series++;
    const char *m = huren_dicom_elements_find(el, n, HUREN_DICOM_TAG(0x0008, 0x0060));
    const char *k = huren_dicom_elements_find(el, n, HUREN_DICOM_TAG(0x0020, 0x1209));
    const char *se = huren_dicom_elements_find(el, n, HUREN_DICOM_TAG(0x0020, 0x000E));
    if (k && *k)
        sc->instances += strtoll(k, NULL, 10);
    else if (se && *se && sc->nuncounted < MAX_UNCOUNTED)
        sc->uncounted[sc->nuncounted++] = strdup(se);
    if (m && *m) { /* distinct modalities, '\'-separated */
        size_t len = strlen(m);
        const char *p = sc->modalities;
        int seen = 0;
        while (*p && !seen) {
            const char *bs = strchr(p, '\\');
            size_t l = bs ? (size_t)(bs - p) : strlen(p);
            seen = l == len && !strncmp(p, m, l);
            p = bs ? bs + 1 : p + l;
        }
        size_t used = strlen(sc->modalities);
        if (!seen && used + len + 2 < sizeof sc->modalities)
            snprintf(sc->modalities + used, sizeof sc->modalities - used, "%s%s", used ? "\\" : "",
                     m);
    }
    return 0;
}

static int on_image(void *ctx, const huren_dicom_element *el, size_t n)
{
    (void)el;
    (void)n;
    (*(int64_t *)ctx)++;
    return 0;
}

/* The instances of the series answered without a count, by IMAGE-level queries. */
static int count_images(pacs_conn *c, const char *study, series_count *sc, unsigned *queries,
                        char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < sc->nuncounted; i++) {
        huren_dicom_element keys[] = {
            {HUREN_DICOM_TAG(0x0020, 0x000D), "UI", study},
            {HUREN_DICOM_TAG(0x0020, 0x000E), "UI", sc->uncounted[i]},
            {HUREN_DICOM_TAG(0x0008, 0x0018), "UI", ""},
        };
        uint16_t status = 0;
        (*queries)++;
        if (rc == 0)
            rc = find(c, HUREN_DICOM_LEVEL_IMAGE, keys, 3, on_image, &sc->instances, &status, err,
                      errlen);
        free(sc->uncounted[i]);
    }
    sc->nuncounted = 0;
    return rc;
}

/* A study answered without modalities or counts: its series tell them. */
static int study_complete(pacs_conn *c, huren_index_pacs_study *s, unsigned *queries, char *err,
                          size_t errlen)
{
    if (s->values[HUREN_INDEX_F_MODALITIES_IN_STUDY] && s->num_series && s->num_instances)
        return 0;
    huren_dicom_element keys[] = {
        {HUREN_DICOM_TAG(0x0020, 0x000D), "UI", s->values[HUREN_INDEX_F_STUDY_UID]},
        {HUREN_DICOM_TAG(0x0020, 0x000E), "UI", ""},
        {HUREN_DICOM_TAG(0x0008, 0x0060), "CS", ""},
        {HUREN_DICOM_TAG(0x0020, 0x1209), "IS", ""},
    };
    series_count sc = {.modalities = ""};
    uint16_t status = 0;
    (*queries)++;
    int rc = find(c, HUREN_DICOM_LEVEL_SERIES, keys, 4, on_series, &sc, &status, err, errlen);
    if (!s->num_instances)
        rc = rc < 0
                 ? rc
                 : count_images(c, s->values[HUREN_INDEX_F_STUDY_UID], &sc, queries, err, errlen);
    for (size_t i = 0; i < sc.nuncounted; i++)
        free(sc.uncounted[i]);
    if (rc < 0)
        return -1;
    if (!s->values[HUREN_INDEX_F_MODALITIES_IN_STUDY] && sc.modalities[0])
        s->values[HUREN_INDEX_F_MODALITIES_IN_STUDY] = strdup(sc.modalities);
    if (!s->num_series)
        s->num_series = sc.series;
    if (!s->num_instances)
        s->num_instances = sc.instances;
    return 0;
}

typedef struct day_sync {
    node *n;
    pacs_conn *c;
    const char *day;
    int64_t started;
    pacs_day_report rep;
    int truncated; /* a window that could not be split further was still cut */
} day_sync;

static void hhmmss(long s, char out[16])
{
    unsigned v = (unsigned)(s < 0 ? 0 : s > DAY_SECONDS - 1 ? DAY_SECONDS - 1 : s);
    snprintf(out, 16, "%02u%02u%02u", v / 3600 % 24, v / 60 % 60, v % 60);
}

/* Does the answer say the PACS left some out? At its result limit, past what we hold, or with
 * a warning or "out of resources" (how PACS refuse too many matches). */
static int cut(const pacs_conn *c, const answers *a, uint16_t status)
{
    return a->overflow || (c->cfg->result_limit > 0 && (long)a->n >= c->cfg->result_limit) ||
           (status & 0xf000) == 0xb000 || (status & 0xff00) == 0xa700;
}

/* Any other failure is the day's: no split (a PACS refusing every query would be asked
 * 2^17 times). */
static int failed(uint16_t status)
{
    return status != HUREN_DICOM_STATUS_SUCCESS && status != HUREN_DICOM_STATUS_CANCEL &&
           (status & 0xf000) != 0xb000 && (status & 0xff00) != 0xa700;
}

/* The studies of d->day between lo and hi (seconds of the day; the whole day without a
 * StudyTime condition). */
static int sync_window(day_sync *d, long lo, long hi, char *err, size_t errlen)
{
    huren_dicom_element keys[NSTUDY_KEYS + 1];
    char range[40] = "";
    if (lo > 0 || hi < DAY_SECONDS - 1) {
        char a[16], b[16];
        hhmmss(lo, a);
        hhmmss(hi, b);
        snprintf(range, sizeof range, "%s-%s", a, b);
    }
    for (size_t i = 0; i < NSTUDY_KEYS; i++) {
        const dicom_field *f = dicom_field_by_index(study_keys[i]);
        keys[i] = (huren_dicom_element){f->tag, "", ""};
        snprintf(keys[i].vr, sizeof keys[i].vr, "%s", f->vr);
        if (study_keys[i] == HUREN_INDEX_F_STUDY_DATE)
            keys[i].value = d->day;
        else if (study_keys[i] == HUREN_INDEX_F_STUDY_TIME)
            keys[i].value = range;
    }
    answers a = {0};
    uint16_t status = 0;
    d->rep.queries++;
    int rc =
        find(d->c, HUREN_DICOM_LEVEL_STUDY, keys, NSTUDY_KEYS, on_study, &a, &status, err, errlen);
    if (rc == 0 && failed(status) && !a.overflow) {
        snprintf(err, errlen, "%s answered the C-FIND of %s with %s (0x%04x)", d->c->cfg->ae_title,
                 d->day, huren_dicom_status_str(status), status);
        answers_clear(&a);
        return -1;
    }
    if (rc == 0 && cut(d->c, &a, status)) {
        if (hi > lo) { /* split, each half asked again */
            atomic_fetch_add(&d->c->splits, 1);
            log_debug("PACS %s: %s %s answered %zu (status 0x%04x): split", d->c->cfg->name, d->day,
                      range[0] ? range : "whole day", a.n, status);
            answers_clear(&a);
            long mid = lo + (hi - lo) / 2;
            rc = sync_window(d, lo, mid, err, errlen);
            return rc < 0 ? rc : sync_window(d, mid + 1, hi, err, errlen);
        }
        d->truncated = 1;
        log_warnx("PACS %s: %s at %s still answers its limit (%zu): some studies may be missed",
                  d->c->cfg->name, d->day, range, a.n);
    }
    for (size_t i = 0; rc == 0 && i < a.n; i++) {
        if (!a.v[i].values[HUREN_INDEX_F_STUDY_UID] ||
            !huren_dicom_uid_valid(a.v[i].values[HUREN_INDEX_F_STUDY_UID])) {
            log_warnx("PACS %s: an answer for %s without a valid StudyInstanceUID, ignored",
                      d->c->cfg->name, d->day);
            continue;
        }
        rc = study_complete(d->c, &a.v[i], &d->rep.queries, err, errlen);
    }
    size_t added = 0;
    if (rc == 0 && a.n &&
        huren_index_pacs_studies_put(d->n->index, d->c->cfg->name, a.v, a.n, d->started, &added) <
            0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(d->n->index));
        rc = -1;
    }
    d->rep.answers += rc == 0 ? a.n : 0;
    d->rep.added += added;
    answers_clear(&a);
    return rc;
}

/* One day: its windows, then the watermark and the removal of what is gone. */
static int sync_day(node *n, pacs_conn *c, const char *day, char *err, size_t errlen,
                    pacs_day_report *rep)
{
    day_sync d = {.n = n, .c = c, .day = day, .started = (int64_t)time(NULL)};
    d.rep.day = day;
    int rc = sync_window(&d, 0, DAY_SECONDS - 1, err, errlen);
    if (rc == 0 && !d.truncated &&
        huren_index_pacs_day_prune(n->index, c->cfg->name, day, d.started, &d.rep.removed) < 0)
        rc = -1;
    if (rc == 0 && huren_index_pacs_day_set(n->index, c->cfg->name, day, (int64_t)d.rep.answers,
                                            d.started) < 0)
        rc = -1;
    if (rc < 0 && !*err)
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
    *rep = d.rep;
    return rc;
}

static int day_parse(const char *s, time_t *t)
{
    struct tm tm = {0};
    if (!s || strlen(s) != 8 || strspn(s, "0123456789") != 8)
        return -1;
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0' - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + s[5] - '0' - 1;
    tm.tm_mday = (s[6] - '0') * 10 + s[7] - '0';
    tm.tm_hour = 12;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return -1;
    *t = timegm(&tm);
    return 0;
}

int pacs_sync_days(node *n, const char *name, const char *from, const char *to, int resume,
                   pacs_progress_fn progress, void *ctx, char *err, size_t errlen)
{
    pacs_conn *c = pacs__conn(n, name);
    time_t lo, hi;
    if (!c) {
        snprintf(err, errlen, "no [pacs \"%s\"] section", name ? name : "");
        return -1;
    }
    if (day_parse(from, &lo) < 0 || day_parse(to, &hi) < 0 || lo > hi) {
        snprintf(err, errlen, "the days must be YYYYMMDD, the first not after the last");
        return -1;
    }
    int days = 0;
    for (time_t t = hi; t >= lo; t -= DAY_SECONDS) {
        if (n->pacs && n->pacs->stopping)
            break;
        char day[16];
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(day, sizeof day, "%Y%m%d", &tm);
        pacs_day_report rep = {.day = day};
        int64_t at;
        if (resume && huren_index_pacs_day_get(n->index, c->cfg->name, day, &at) == 0) {
            rep.skipped = 1;
        } else {
            err[0] = 0;
            if (sync_day(n, c, day, err, errlen, &rep) < 0)
                return -1;
            days++;
        }
        if (progress)
            progress(ctx, &rep);
    }
    return days;
}
