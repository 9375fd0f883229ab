/* test_store.c: the directory's store contract (gateway/directory/store.h), the same
 * cases on both backends: SQLite (the node's index in a temp folder) and PostgreSQL (a real
 * server this test starts, pg_server.c). New, replaced, lower versions ignored with the version
 * held, invalid entries refused with nothing stored, several versions in one batch, keys over
 * every partition, lookups' order, filters, limit and truncation, tombstones, every field
 * round-tripped, batches from more threads than connections; then what only PostgreSQL has:
 * the schema (partitions, keys, rows where the batch's read looks), a password in the DSN
 * refused, the server gone (503-style failure) and back (the next call reconnects), restarted
 * unseen (calls go on). Without PostgreSQL's binaries the PostgreSQL cases are skipped, and the
 * test says so. */
#include "../../dir_entry_fixture.h"
#include "../../unit_filter.h"
#include "huren_err.h"

#include "../../pg_server.h"
#include "directory/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P1 "1111111111111111111111111111111111111111111111111111111111111111"
#define P2 "2222222222222222222222222222222222222222222222222222222222222222"

static pg_server pg;
static int pg_up;

typedef struct fx {
    char dir[64];
    huren_index *idx;
    directory_store *s;
    char err[HUREN_ERRLEN];
} fx;

/* ---- fixtures ---- */

static int open_sqlite(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof f->dir, "/tmp/huren-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    huren_index_options io = HUREN_INDEX_OPTIONS_INIT;
    io.data_dir = f->dir;
    io.fsync = 0;
    assert_int_equal(huren_index_open(&f->idx, &io, f->err, sizeof f->err), 0);
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    o.index = f->idx;
    assert_int_equal(directory_store_open(&o, &f->s, f->err, sizeof f->err), 0);
    *state = f;
    return 0;
}

static int open_pg(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    /* a new database each time: the migration runs from nothing */
    assert_int_equal(
        pg_server_exec(&pg, "DROP TABLE IF EXISTS dir_entries, schema_version, migrate_progress"),
        0);
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    o.kind = CONFIG_DIR_STORE_POSTGRESQL;
    o.dsn = pg.dsn;
    o.pool = 2;
    if (directory_store_open(&o, &f->s, f->err, sizeof f->err) < 0)
        fail_msg("open: %s", f->err);
    *state = f;
    return 0;
}

static int close_fx(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    directory_store_close(f->s);
    if (f->idx) {
        huren_index_close(f->idx);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(f);
    return 0;
}

static void put_ok(fx *f, const huren_index_dir_entry *e, size_t n, huren_index_dir_result *r)
{
    if (directory_store_put(f->s, e, n, r, f->err, sizeof f->err) != 0)
        fail_msg("put: %s", f->err);
}

static void put1(fx *f, const huren_index_dir_entry *e, huren_index_dir_outcome want, int64_t held)
{
    huren_index_dir_result r;
    put_ok(f, e, 1, &r);
    if (r.outcome != want || r.held_version != held)
        fail_msg("%s v%lld: outcome %d held %lld, want %d held %lld (%s)", e->record_key,
                 (long long)e->version, r.outcome, (long long)r.held_version, want, (long long)held,
                 r.reason);
}

static int find(fx *f, const char *p, const huren_index_dir_filter *flt, huren_index_dir_list *l)
{
    int n = directory_store_find(f->s, p, flt, l, f->err, sizeof f->err);
    if (n < 0)
        fail_msg("find: %s", f->err);
    return n;
}

/* ---- the contract, on both backends ---- */

static void versions(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_entry e = dir_fixture_entry(P1, "H37010002", "report:7", 2, "CBC", "20240105");
    put1(f, &e, HUREN_INDEX_DIR_STORED, 2);
    put1(f, &e, HUREN_INDEX_DIR_IGNORED, 2); /* replayed after a lost answer: nothing changes */
    e.version = 1;
    e.item_code = "OLD";
    put1(f, &e, HUREN_INDEX_DIR_IGNORED, 2);
    e.version = 3;
    e.item_code = "CBC2";
    put1(f, &e, HUREN_INDEX_DIR_REPLACED, 3);
    assert_int_equal(find(f, P1, NULL, &l), 1);
    assert_string_equal(l.items[0].item_code, "CBC2");
    assert_int_equal(l.items[0].version, 3);
    directory_store_list_free(f->s, &l);
    /* the same record key at another institution is another record */
    huren_index_dir_entry o = dir_fixture_entry(P1, "H37010003", "report:7", 1, "CBC", "20240101");
    put1(f, &o, HUREN_INDEX_DIR_STORED, 1);
    assert_int_equal(find(f, P1, NULL, &l), 2);
    directory_store_list_free(f->s, &l);
    assert_int_equal(find(f, P2, NULL, &l), 0);
    directory_store_list_free(f->s, &l);
}

static void refusals(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_result r[8];
    huren_index_dir_entry e[8];
    for (int i = 0; i < 8; i++)
        e[i] = dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105");
    e[0].pseudonym = "ABCDEF1111111111111111111111111111111111111111111111111111111111";
    e[1].institution = NULL;
    e[2].record_key = "has space";
    e[3].version = 0;
    e[4].kind = "pathology";
    e[5].date = "2024-01-05";
    e[6].source_url = "ftp://x";
    e[7].record_key = "report:good";
    put_ok(f, e, 8, r);
    const char *want[] = {"pseudonym", "institution", "record_key", "version",
                          "kind",      "date",        "source_url"};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(r[i].outcome, HUREN_INDEX_DIR_REFUSED);
        if (strncmp(r[i].reason, want[i], strlen(want[i])) != 0)
            fail_msg("entry %d: reason \"%s\", want %s", i, r[i].reason, want[i]);
    }
    assert_int_equal(r[7].outcome, HUREN_INDEX_DIR_STORED);
    assert_int_equal(find(f, P1, NULL, &l), 1); /* nothing of the refused ones */
    assert_string_equal(l.items[0].record_key, "report:good");
    directory_store_list_free(f->s, &l);
    /* a batch of refusals only is answered too */
    put_ok(f, e, 1, r);
    assert_int_equal(r[0].outcome, HUREN_INDEX_DIR_REFUSED);
    /* bad batches and lookups */
    assert_int_equal(
        directory_store_put(f->s, e, HUREN_INDEX_DIR_BATCH_MAX + 1, r, f->err, sizeof f->err),
        DIRECTORY_STORE_EINVAL);
    assert_int_equal(directory_store_find(f->s, "P1", NULL, &l, f->err, sizeof f->err),
                     DIRECTORY_STORE_EINVAL);
    assert_true(strstr(f->err, "pseudonym") != NULL);
    huren_index_dir_filter flt = {.since = "2024"};
    assert_int_equal(directory_store_find(f->s, P1, &flt, &l, f->err, sizeof f->err),
                     DIRECTORY_STORE_EINVAL);
    flt = (huren_index_dir_filter){.kind = "x"};
    assert_int_equal(directory_store_find(f->s, P1, &flt, &l, f->err, sizeof f->err),
                     DIRECTORY_STORE_EINVAL);
}

/* Entries apply in order: several versions of one record in one batch. */
static void batch_versions(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_result r[6];
    huren_index_dir_entry e[6] = {
        dir_fixture_entry(P1, "H1", "report:k", 1, "A", "20240105"),
        dir_fixture_entry(P1, "H1", "report:k", 3, "C", "20240105"),
        dir_fixture_entry(P1, "H1", "report:k", 2, "B", "20240105"),
        dir_fixture_entry(P1, "H1", "report:j", 1, "J", "20240104"),
        dir_fixture_entry(P1, "H1", "report:j", 1, "J2", "20240104"),
        dir_fixture_entry(P1, "H1", "report:j", 4, "J4", "20240104"),
    };
    put_ok(f, e, 6, r);
    const huren_index_dir_outcome want[] = {HUREN_INDEX_DIR_STORED,  HUREN_INDEX_DIR_REPLACED,
                                            HUREN_INDEX_DIR_IGNORED, HUREN_INDEX_DIR_STORED,
                                            HUREN_INDEX_DIR_IGNORED, HUREN_INDEX_DIR_REPLACED};
    const int64_t held[] = {1, 3, 3, 1, 1, 4};
    for (int i = 0; i < 6; i++)
        if (r[i].outcome != want[i] || r[i].held_version != held[i])
            fail_msg("entry %d: outcome %d held %lld", i, r[i].outcome,
                     (long long)r[i].held_version);
    assert_int_equal(find(f, P1, NULL, &l), 2);
    assert_string_equal(l.items[0].record_key, "report:k");
    assert_string_equal(l.items[0].item_code, "C");
    assert_string_equal(l.items[1].item_code, "J4");
    directory_store_list_free(f->s, &l);
    /* against a version held before the batch */
    huren_index_dir_entry again[3] = {
        dir_fixture_entry(P1, "H1", "report:k", 2, "B", "20240105"),
        dir_fixture_entry(P1, "H1", "report:k", 5, "E", "20240105"),
        dir_fixture_entry(P1, "H1", "report:k", 4, "D", "20240105"),
    };
    put_ok(f, again, 3, r);
    assert_int_equal(r[0].outcome, HUREN_INDEX_DIR_IGNORED);
    assert_int_equal(r[0].held_version, 3);
    assert_int_equal(r[1].outcome, HUREN_INDEX_DIR_REPLACED);
    assert_int_equal(r[2].outcome, HUREN_INDEX_DIR_IGNORED);
    assert_int_equal(r[2].held_version, 5);
    assert_int_equal(find(f, P1, NULL, &l), 2);
    assert_string_equal(l.items[0].item_code, "E");
    directory_store_list_free(f->s, &l);
}

/* Keys spread over every partition: the versions held are read for each (PostgreSQL reads
 * them partition by partition). 500 held at version 2, then one batch of those again at
 * versions 1 and 3 in turn, and 500 new. */
#define SPREAD 500

static void spread(void **state)
{
    fx *f = *state;
    static char ps[2 * SPREAD][65];
    static huren_index_dir_entry e[2 * SPREAD];
    static huren_index_dir_result r[2 * SPREAD];
    for (int i = 0; i < 2 * SPREAD; i++) {
        snprintf(ps[i], sizeof ps[i], "%064x", (unsigned)(i * 2654435761u));
        e[i] = dir_fixture_entry(ps[i], "H1", "report:s", 2, "CBC", "20240105");
    }
    put_ok(f, e, SPREAD, r);
    for (int i = 0; i < SPREAD; i++)
        assert_int_equal(r[i].outcome, HUREN_INDEX_DIR_STORED);
    for (int i = 0; i < 2 * SPREAD; i++)
        e[i].version = i < SPREAD ? (i % 2 ? 3 : 1) : 1;
    put_ok(f, e, 2 * SPREAD, r);
    for (int i = 0; i < 2 * SPREAD; i++) {
        huren_index_dir_outcome want = i >= SPREAD ? HUREN_INDEX_DIR_STORED
                                       : i % 2     ? HUREN_INDEX_DIR_REPLACED
                                                   : HUREN_INDEX_DIR_IGNORED;
        int64_t held = i >= SPREAD ? 1 : i % 2 ? 3 : 2;
        if (r[i].outcome != want || r[i].held_version != held)
            fail_msg("entry %d: outcome %d held %lld, want %d held %lld", i, r[i].outcome,
                     (long long)r[i].held_version, want, (long long)held);
    }
    huren_index_dir_list l;
    assert_int_equal(find(f, ps[1], NULL, &l), 1);
    assert_int_equal(l.items[0].version, 3);
    directory_store_list_free(f->s, &l);
}

/* Newest first by date (undated last), filters, limit and truncation. */
static void lookups(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_result r[6];
    huren_index_dir_entry e[6] = {
        dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105"),
        dir_fixture_entry(P1, "H1", "report:2", 1, "CBC", "20240301"),
        dir_fixture_entry(P1, "H2", "report:3", 1, "GLU", NULL),
        dir_fixture_entry(P1, "H1", "study:4", 1, "CT-CHEST", "20231201"),
        dir_fixture_entry(P1, "H2", "report:5", 1, "CBC",
                          "20240301"), /* same date: institution order */
        dir_fixture_entry(P2, "H1", "report:6", 1, "CBC", "20240601"),
    };
    e[3].kind = "imaging";
    put_ok(f, e, 6, r);
    assert_int_equal(find(f, P1, NULL, &l), 5);
    const char *order[] = {"report:2", "report:5", "report:1", "study:4", "report:3"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(l.items[i].record_key, order[i]);
    assert_int_equal(l.truncated, 0);
    directory_store_list_free(f->s, &l);
    huren_index_dir_filter flt = {.kind = "lab", .item_code = "CBC", .since = "20240201"};
    assert_int_equal(find(f, P1, &flt, &l), 2);
    directory_store_list_free(f->s, &l);
    flt = (huren_index_dir_filter){.kind = "imaging"};
    assert_int_equal(find(f, P1, &flt, &l), 1);
    assert_string_equal(l.items[0].record_key, "study:4");
    directory_store_list_free(f->s, &l);
    flt = (huren_index_dir_filter){.limit = 2};
    assert_int_equal(find(f, P1, &flt, &l), 2);
    assert_int_equal(l.truncated, 1);
    assert_string_equal(l.items[1].record_key, "report:5");
    directory_store_list_free(f->s, &l);
    flt = (huren_index_dir_filter){.limit = 5};
    assert_int_equal(find(f, P1, &flt, &l), 5);
    assert_int_equal(l.truncated, 0);
    directory_store_list_free(f->s, &l);
}

static void tombstones(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_entry e = dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105");
    put1(f, &e, HUREN_INDEX_DIR_STORED, 1);
    huren_index_dir_entry gone = {
        .pseudonym = P1, .institution = "H1", .record_key = "report:1", .version = 2, .deleted = 1};
    put1(f, &gone, HUREN_INDEX_DIR_REPLACED, 2);
    assert_int_equal(find(f, P1, NULL, &l), 0);
    directory_store_list_free(f->s, &l);
    huren_index_dir_filter flt = {.include_deleted = 1};
    assert_int_equal(find(f, P1, &flt, &l), 1);
    assert_int_equal(l.items[0].deleted, 1);
    assert_int_equal(l.items[0].version, 2);
    directory_store_list_free(f->s, &l);
    /* the old version arriving late does not bring it back */
    put1(f, &e, HUREN_INDEX_DIR_IGNORED, 2);
    assert_int_equal(find(f, P1, NULL, &l), 0);
    directory_store_list_free(f->s, &l);
}

/* Every field comes back as it went in. */
static void fields(void **state)
{
    fx *f = *state;
    huren_index_dir_list l;
    huren_index_dir_entry e = dir_fixture_entry(P1, "H1", "study:1.2.3", 5, "CT-CHEST", "20240105");
    e.kind = "imaging";
    e.modality = "CT\\SR";
    e.body_part = "CHEST";
    e.status = "corrected";
    e.revision = 2;
    e.report_key = "report:9";
    e.report = 1;
    put1(f, &e, HUREN_INDEX_DIR_STORED, 5);
    huren_index_dir_entry plain = dir_fixture_entry(P1, "H1", "report:2", 1, NULL, "20230101");
    plain.hr = 0;
    plain.hr_scope = NULL;
    put1(f, &plain, HUREN_INDEX_DIR_STORED, 1);
    assert_int_equal(find(f, P1, NULL, &l), 2);
    const huren_index_dir_entry *g = &l.items[0];
    assert_string_equal(g->pseudonym, P1);
    assert_string_equal(g->institution, "H1");
    assert_string_equal(g->record_key, "study:1.2.3");
    assert_int_equal(g->version, 5);
    assert_string_equal(g->kind, "imaging");
    assert_string_equal(g->item_code, "CT-CHEST");
    assert_string_equal(g->item_name, "血常规");
    assert_string_equal(g->modality, "CT\\SR");
    assert_string_equal(g->body_part, "CHEST");
    assert_string_equal(g->date, "20240105");
    assert_int_equal(g->hr, 1);
    assert_string_equal(g->hr_scope, "province");
    assert_string_equal(g->qualified_from, "20230101");
    assert_string_equal(g->qualified_to, "20271231");
    assert_string_equal(g->source_url, "https://gw-b.example:8443");
    assert_string_equal(g->status, "corrected");
    assert_int_equal(g->revision, 2);
    assert_int_equal(g->deleted, 0);
    assert_int_equal(g->images, 1); /* from the record key */
    assert_int_equal(g->report, 1);
    assert_string_equal(g->report_key, "report:9");
    assert_int_equal(strlen(g->received_at), 14);
    const huren_index_dir_entry *p = &l.items[1];
    assert_null(p->item_code);
    assert_null(p->hr_scope);
    assert_int_equal(p->hr, 0);
    assert_int_equal(p->revision, 0);
    assert_int_equal(p->images, -1);
    assert_int_equal(p->report, 1);
    directory_store_list_free(f->s, &l);
    directory_store_stats st;
    directory_store_stats_get(f->s, &st);
    assert_string_equal(st.backend, f->idx ? "sqlite" : "postgresql");
    assert_int_equal(directory_store_ping(f->s, 0, 100, f->err, sizeof f->err), 0);
}

/* Batches from more threads than connections: they wait for one another, none is lost. */
#define WRITERS 6
#define BATCHES 5
#define PER_BATCH 30 /* 900 entries: one lookup answers them all */

typedef struct writer {
    fx *f;
    int id, failed;
} writer;

static void *write_batches(void *arg)
{
    writer *w = arg;
    char keys[PER_BATCH][32], err[HUREN_ERRLEN];
    huren_index_dir_entry e[PER_BATCH];
    huren_index_dir_result r[PER_BATCH];
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER_BATCH; i++) {
            snprintf(keys[i], sizeof keys[i], "report:%d-%d-%d", w->id, b, i);
            e[i] = dir_fixture_entry(P2, "H1", keys[i], 1, "CBC", "20240105");
        }
        if (directory_store_put(w->f->s, e, PER_BATCH, r, err, sizeof err) != 0)
            w->failed++;
        for (int i = 0; i < PER_BATCH; i++)
            w->failed += r[i].outcome != HUREN_INDEX_DIR_STORED;
    }
    return NULL;
}

static void concurrent(void **state)
{
    fx *f = *state;
    pthread_t t[WRITERS];
    writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){.f = f, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, write_batches, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    huren_index_dir_list l;
    huren_index_dir_filter flt = {.limit = 1000};
    assert_int_equal(find(f, P2, &flt, &l), WRITERS * BATCHES * PER_BATCH);
    directory_store_list_free(f->s, &l);
}

/* ---- PostgreSQL only ---- */

static void schema(void **state)
{
    char v[64];
    assert_int_equal(pg_server_value(&pg, "SELECT max(version) FROM schema_version", v, sizeof v),
                     0);
    assert_string_equal(v, "2");
    assert_int_equal(pg_server_value(&pg, "SELECT count(*) FROM migrate_progress", v, sizeof v), 0);
    assert_string_equal(v, "0");
    assert_int_equal(pg_server_value(&pg,
                                     "SELECT count(*) FROM pg_inherits WHERE inhparent ="
                                     " 'dir_entries'::regclass",
                                     v, sizeof v),
                     0);
    assert_string_equal(v, "64");
    /* every primary and unique key starts with the pseudonym */
    assert_int_equal(pg_server_value(&pg,
                                     "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON"
                                     " a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
                                     " WHERE i.indisunique AND i.indrelid IN (SELECT oid FROM"
                                     " pg_class WHERE relname LIKE 'dir_entries%')"
                                     " AND a.attname <> 'pseudonym'",
                                     v, sizeof v),
                     0);
    assert_string_equal(v, "0");
    assert_int_equal(pg_server_value(&pg,
                                     "SELECT partstrat FROM pg_partitioned_table WHERE partrelid"
                                     " = 'dir_entries'::regclass",
                                     v, sizeof v),
                     0);
    assert_string_equal(v, "h");
    /* rows go to the partition the batch's read looks in (store_pg_int.h, PG_PART_EXPR) */
    huren_index_dir_result r[64];
    huren_index_dir_entry e[64];
    char ps[64][65];
    for (int i = 0; i < 64; i++) {
        snprintf(ps[i], sizeof ps[i], "%064x", (unsigned)(i * 40503u + 7));
        e[i] = dir_fixture_entry(ps[i], "H1", "report:1", 1, "CBC", "20240105");
    }
    fx *f = *state;
    put_ok(f, e, 64, r);
    assert_int_equal(
        pg_server_value(&pg,
                        "SELECT count(*) FROM dir_entries WHERE tableoid::regclass::text"
                        " <> 'dir_entries_p' || lpad((((hashtextextended(pseudonym,"
                        " 8816678312871386365) & 63) + 35) & 63)::text, 2, '0')",
                        v, sizeof v),
        0);
    assert_string_equal(v, "0");
    /* opening again finds the schema current and changes nothing */
    char err[HUREN_ERRLEN];
    directory_store *again = NULL;
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    o.kind = CONFIG_DIR_STORE_POSTGRESQL;
    o.dsn = pg.dsn;
    if (directory_store_open(&o, &again, err, sizeof err) < 0)
        fail_msg("open again: %s", err);
    directory_store_close(again);
    assert_int_equal(pg_server_value(&pg, "SELECT count(*) FROM schema_version", v, sizeof v), 0);
    assert_string_equal(v, "2");
}

static void dsn_refused(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    directory_store *s = NULL;
    directory_store_options o = DIRECTORY_STORE_OPTIONS_INIT;
    o.kind = CONFIG_DIR_STORE_POSTGRESQL;
    o.dsn = "host=/tmp dbname=huren password=secret";
    assert_int_equal(directory_store_open(&o, &s, err, sizeof err), DIRECTORY_STORE_EINVAL);
    assert_non_null(strstr(err, "passfile"));
    assert_null(strstr(err, "secret"));
    o.dsn = "postgresql://huren:secret@localhost/huren";
    assert_int_equal(directory_store_open(&o, &s, err, sizeof err), DIRECTORY_STORE_EINVAL);
    assert_null(strstr(err, "secret"));
    o.dsn = "host=/nonexistent-huren port=1 dbname=huren user=huren";
    assert_int_equal(directory_store_open(&o, &s, err, sizeof err), DIRECTORY_STORE_EUNAVAIL);
    assert_non_null(strstr(err, "connecting"));
}

/* The server goes away: calls fail cleanly; it comes back: the next call reconnects. */
static void server_gone(void **state)
{
    fx *f = *state;
    char err[HUREN_ERRLEN];
    huren_index_dir_list l;
    huren_index_dir_result r;
    huren_index_dir_entry e = dir_fixture_entry(P1, "H1", "report:1", 1, "CBC", "20240105");
    put1(f, &e, HUREN_INDEX_DIR_STORED, 1);
    assert_int_equal(directory_store_ping(f->s, 0, 1000, f->err, sizeof f->err), 0);
    pg_server_stop(&pg, "immediate");
    assert_int_equal(directory_store_ping(f->s, 1, 1000, f->err, sizeof f->err),
                     DIRECTORY_STORE_EUNAVAIL);
    assert_non_null(strstr(f->err, "dsn"));
    e.version = 2;
    assert_int_equal(directory_store_put(f->s, &e, 1, &r, f->err, sizeof f->err),
                     DIRECTORY_STORE_EUNAVAIL);
    assert_int_equal(directory_store_find(f->s, P1, NULL, &l, f->err, sizeof f->err),
                     DIRECTORY_STORE_EUNAVAIL);
    if (pg_server_restart(&pg, err, sizeof err) < 0)
        fail_msg("%s", err);
    put1(f, &e, HUREN_INDEX_DIR_REPLACED, 2);
    assert_int_equal(find(f, P1, NULL, &l), 1);
    assert_int_equal(l.items[0].version, 2);
    directory_store_list_free(f->s, &l);
    /* restarted while the store sat idle: its connections broke unseen; the next calls
     * notice, reconnect and succeed without failing once */
    pg_server_stop(&pg, "fast");
    if (pg_server_restart(&pg, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(find(f, P1, NULL, &l), 1);
    directory_store_list_free(f->s, &l);
    e.version = 3;
    put1(f, &e, HUREN_INDEX_DIR_REPLACED, 3);
    directory_store_stats st;
    directory_store_stats_get(f->s, &st);
    assert_true(st.failures >= 1);
    assert_true(st.reconnects >= 2);
}

static int pg_group_setup(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    if (pg_server_start(&pg, err, sizeof err) < 0) {
        fprintf(stderr, "test_directory_store: starting PostgreSQL: %s\n", err);
        return -1;
    }
    pg_up = 1;
    return 0;
}

static int pg_group_teardown(void **state)
{
    (void)state;
    if (pg_up)
        pg_server_destroy(&pg);
    return 0;
}

#define SQLITE(fn)                                                                                 \
    {                                                                                              \
        "sqlite_" #fn, fn, open_sqlite, close_fx, NULL                                             \
    }
#define PG(fn)                                                                                     \
    {                                                                                              \
        "pg_" #fn, fn, open_pg, close_fx, NULL                                                     \
    }

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest sqlite_tests[] = {
        SQLITE(versions), SQLITE(refusals),   SQLITE(batch_versions), SQLITE(spread),
        SQLITE(lookups),  SQLITE(tombstones), SQLITE(fields),         SQLITE(concurrent),
    };
    const struct CMUnitTest pg_tests[] = {
        PG(versions), PG(refusals),    PG(batch_versions), PG(spread),
        PG(lookups),  PG(tombstones),  PG(fields),         PG(concurrent),
        PG(schema),   PG(dsn_refused), PG(server_gone),
    };
    int failed = cmocka_run_group_tests_name("directory_store_sqlite", sqlite_tests, NULL, NULL);
    if (!pg_server_available(&pg)) {
        fprintf(stderr,
                "test_directory_store: PostgreSQL's server binaries are not installed "
                "(Debian: postgresql-15): SKIPPING the %zu PostgreSQL cases\n",
                sizeof pg_tests / sizeof pg_tests[0]);
        return failed;
    }
    failed += cmocka_run_group_tests_name("directory_store_postgresql", pg_tests, pg_group_setup,
                                          pg_group_teardown);
    return failed;
}
