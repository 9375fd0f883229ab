/* migrate_store.c: a SQLite directory copied into the PostgreSQL store: keyset batches from
 * the index (huren_index_dir_scan), each put through directory_store_put (the publishing path,
 * so outcomes and checks are the same), then the batch's last key written to migrate_progress
 * (PostgreSQL schema 2) on a connection of its own. */
#include "directory/migrate_store.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct watermark {
    char pseudonym[80], institution[80], record_key[260]; /* the index's maxima, and more */
    int64_t done;
    int set;
} watermark;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int pg_fail(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    int n = (int)strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, n, m);
    PQclear(r);
    return DIRECTORY_STORE_EUNAVAIL;
}

static int mark_read(PGconn *c, const char *source, watermark *w, char *err, size_t errlen)
{
    const char *v[1] = {source};
    PGresult *r = PQexecParams(c,
                               "SELECT pseudonym, institution, record_key, done FROM"
                               " migrate_progress WHERE source = $1",
                               1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, "reading migrate_progress", err, errlen);
    memset(w, 0, sizeof(*w));
    if (PQntuples(r) == 1) {
        snprintf(w->pseudonym, sizeof w->pseudonym, "%s", PQgetvalue(r, 0, 0));
        snprintf(w->institution, sizeof w->institution, "%s", PQgetvalue(r, 0, 1));
        snprintf(w->record_key, sizeof w->record_key, "%s", PQgetvalue(r, 0, 2));
        w->done = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        w->set = 1;
    }
    PQclear(r);
    return 0;
}

/* The watermark after a committed batch whose last entry is last. */
static int mark_write(PGconn *c, const char *source, watermark *w,
                      const huren_index_dir_entry *last, int64_t n, char *err, size_t errlen)
{
    if (strlen(last->institution) >= sizeof w->institution ||
        strlen(last->record_key) >= sizeof w->record_key) {
        snprintf(err, errlen, "an entry's key is longer than migrate-store keeps");
        return DIRECTORY_STORE_ERROR;
    }
    snprintf(w->pseudonym, sizeof w->pseudonym, "%s", last->pseudonym);
    snprintf(w->institution, sizeof w->institution, "%s", last->institution);
    snprintf(w->record_key, sizeof w->record_key, "%s", last->record_key);
    w->done += n;
    w->set = 1;
    char done[24];
    snprintf(done, sizeof done, "%lld", (long long)w->done);
    const char *v[5] = {source, w->pseudonym, w->institution, w->record_key, done};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO migrate_progress (source, pseudonym, institution, record_key, done)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source) DO UPDATE SET"
        " pseudonym = EXCLUDED.pseudonym, institution = EXCLUDED.institution,"
        " record_key = EXCLUDED.record_key, done = EXCLUDED.done, updated_at = now()",
        5, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(c, r, "writing migrate_progress", err, errlen);
    PQclear(r);
    return 0;
}

static void count(migrate_store_counts *out, const huren_index_dir_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (r[i].outcome) {
        case HUREN_INDEX_DIR_STORED:
            out->stored++;
            break;
        case HUREN_INDEX_DIR_REPLACED:
            out->replaced++;
            break;
        case HUREN_INDEX_DIR_IGNORED:
            out->ignored++;
            break;
        default:
            out->refused++;
        }
    }
}

static void progress(const migrate_store_options *o, const migrate_store_counts *c, double t0)
{
    if (!o->progress)
        return;
    double dt = now_s() - t0;
    int64_t mine = c->done - c->resumed;
    fprintf(o->progress, "migrate-store: %lld / %lld entries (%.1f%%), %.0f entries/s\n",
            (long long)c->done, (long long)c->total,
            c->total ? 100.0 * (double)c->done / (double)c->total : 100.0,
            dt > 0 ? (double)mine / dt : 0.0);
    fflush(o->progress);
}

/* One batch after w: read, put, move the watermark. Returns the entries done (0: no more). */
static int batch_copy(const migrate_store_options *o, PGconn *c, watermark *w,
                      huren_index_dir_result *res, migrate_store_counts *out, char *err,
                      size_t errlen)
{
    huren_index_dir_list l;
    huren_index_dir_entry after = {
        .pseudonym = w->pseudonym, .institution = w->institution, .record_key = w->record_key};
    int n = huren_index_dir_scan(o->src, w->set ? &after : NULL, o->batch, &l, &out->total);
    if (n < 0) {
        snprintf(err, errlen, "reading the SQLite directory: %s", huren_index_errmsg(o->src));
        return DIRECTORY_STORE_ERROR;
    }
    int rc = n;
    if (n > 0) {
        rc = directory_store_put(o->dst, l.items, (size_t)n, res, err, errlen);
        if (rc == 0)
            rc = mark_write(c, o->source, w, &l.items[n - 1], n, err, errlen);
        if (rc == 0) {
            count(out, res, (size_t)n);
            out->done = w->done;
            rc = n;
        }
    }
    huren_index_dir_list_free(&l);
    return rc;
}

int migrate_store_run(const migrate_store_options *o, migrate_store_counts *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (o->batch < 1 || o->batch > HUREN_INDEX_DIR_BATCH_MAX) {
        snprintf(err, errlen, "a batch holds 1 to %d entries", HUREN_INDEX_DIR_BATCH_MAX);
        return DIRECTORY_STORE_EINVAL;
    }
    huren_index_dir_result *res = calloc(o->batch, sizeof(*res));
    PGconn *c = PQconnectdb(o->dsn);
    watermark w;
    int rc = DIRECTORY_STORE_ERROR;
    if (!res) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (!c || PQstatus(c) != CONNECTION_OK) {
        rc = pg_fail(c, NULL, "connecting to PostgreSQL (dsn)", err, errlen);
        goto done;
    }
    if ((rc = mark_read(c, o->source, &w, err, errlen)) < 0)
        goto done;
    out->resumed = out->done = w.done;
    double t0 = now_s(), shown = t0;
    while ((rc = batch_copy(o, c, &w, res, out, err, errlen)) > 0) {
        if (now_s() - shown >= 1.0) {
            progress(o, out, t0);
            shown = now_s();
        }
    }
    if (rc == 0)
        progress(o, out, t0);
done:
    PQfinish(c);
    free(res);
    return rc;
}
