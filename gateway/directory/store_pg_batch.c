/* store_pg_batch.c: a batch of directory entries prepared for PostgreSQL's set-based write.
 * Entries are checked (huren_index_dir_entry_check), then grouped by key (pseudonym,
 * institution, record key) keeping their order; each key is looked up once and written once,
 * with its winning entry (the first of the highest version). The outcomes of every entry are
 * then computed here exactly as huren_index_dir_put applies a batch in order: against the
 * version held before the batch, each entry is STORED, REPLACED or IGNORED in turn. Parameters
 * go to the server as array literals (one per column; unnest() turns them back into rows). */
#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MAX ((size_t)256 << 20) /* one column of a batch of HUREN_INDEX_DIR_BATCH_MAX */

static int key_cmp(const huren_index_dir_entry *a, const huren_index_dir_entry *b)
{
    int c = strcmp(a->pseudonym, b->pseudonym);
    if (!c)
        c = strcmp(a->institution, b->institution);
    return c ? c : strcmp(a->record_key, b->record_key);
}

static int order_cmp(const void *x, const void *y, void *arg)
{
    const huren_index_dir_entry *e = arg;
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = key_cmp(&e[i], &e[j]);
    return c ? c : (i > j) - (i < j); /* a key's entries in batch order */
}

static size_t winner_of(const pg_batch *b, size_t g)
{
    size_t w = b->order[b->first[g]];
    for (size_t k = b->first[g] + 1; k < b->first[g + 1]; k++)
        if (b->entries[b->order[k]].version > b->entries[w].version)
            w = b->order[k];
    return w;
}

int pg_batch_init(pg_batch *b, const huren_index_dir_entry *entries, size_t n,
                  huren_index_dir_result *results)
{
    memset(b, 0, sizeof(*b));
    b->entries = entries;
    b->results = results;
    b->order = malloc((n + 1) * sizeof(*b->order));
    b->first = malloc((n + 1) * sizeof(*b->first));
    b->held = calloc(n + 1, sizeof(*b->held));
    b->winner = malloc((n + 1) * sizeof(*b->winner));
    if (!b->order || !b->first || !b->held || !b->winner)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (huren_index_dir_entry_check(&entries[i], results[i].reason) < 0)
            results[i].outcome = HUREN_INDEX_DIR_REFUSED;
        else
            b->order[b->nvalid++] = i;
    }
    qsort_r(b->order, b->nvalid, sizeof(*b->order), order_cmp, (void *)entries);
    for (size_t k = 0; k < b->nvalid; k++)
        if (k == 0 || key_cmp(&entries[b->order[k - 1]], &entries[b->order[k]]) != 0)
            b->first[b->ngroups++] = k;
    b->first[b->ngroups] = b->nvalid;
    for (size_t g = 0; g < b->ngroups; g++)
        b->winner[g] = winner_of(b, g);
    return 0;
}

void pg_batch_free(pg_batch *b)
{
    free(b->order);
    free(b->first);
    free(b->held);
    free(b->winner);
    memset(b, 0, sizeof(*b));
}

void pg_batch_outcomes(pg_batch *b)
{
    for (size_t g = 0; g < b->ngroups; g++) {
        int64_t cur = b->held[g]; /* 0: none (versions are >= 1) */
        for (size_t k = b->first[g]; k < b->first[g + 1]; k++) {
            size_t i = b->order[k];
            int64_t v = b->entries[i].version;
            huren_index_dir_result *r = &b->results[i];
            r->outcome = cur == 0  ? HUREN_INDEX_DIR_STORED
                         : v > cur ? HUREN_INDEX_DIR_REPLACED
                                   : HUREN_INDEX_DIR_IGNORED;
            if (v > cur)
                cur = v;
            r->held_version = cur;
        }
    }
}

/* ---- array literals ---- */

static void arr_open(huren_buf *a)
{
    huren_buf_init(a, ARRAY_MAX);
    huren_buf_addc(a, '{');
}

/* One element: NULL, or the text quoted with " and \ escaped. */
static void arr_add(huren_buf *a, const char *v)
{
    if (a->len > 1)
        huren_buf_addc(a, ',');
    if (!v) {
        huren_buf_adds(a, "NULL");
        return;
    }
    huren_buf_addc(a, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            huren_buf_addc(a, '\\');
        huren_buf_addc(a, *p);
    }
    huren_buf_addc(a, '"');
}

static int arrs_close(huren_buf *a, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (huren_buf_addc(&a[i], '}') < 0)
            rc = -1;
    return rc;
}

static const char *opt(const char *v)
{
    return v && *v ? v : NULL;
}

/* Has the exam this part? Given (1 yes, -1 no), or as its record key says (index/directory.c). */
static const char *part_of(int given, const char *record_key, const char *prefix)
{
    if (given)
        return given > 0 ? "t" : "f";
    return !strncmp(record_key, prefix, strlen(prefix)) ? "t" : "f";
}

int pg_batch_keys(const pg_batch *b, huren_buf key[3])
{
    for (int c = 0; c < 3; c++)
        arr_open(&key[c]);
    for (size_t g = 0; g < b->ngroups; g++) {
        const huren_index_dir_entry *e = &b->entries[b->order[b->first[g]]];
        arr_add(&key[0], e->pseudonym);
        arr_add(&key[1], e->institution);
        arr_add(&key[2], e->record_key);
    }
    return arrs_close(key, 3);
}

int pg_batch_rows(const pg_batch *b, huren_buf col[PG_PUT_COLS])
{
    for (int c = 0; c < PG_PUT_COLS; c++)
        arr_open(&col[c]);
    for (size_t g = 0; g < b->ngroups; g++) {
        const huren_index_dir_entry *e = &b->entries[b->winner[g]];
        char version[24], revision[24];
        snprintf(version, sizeof version, "%" PRId64, e->version);
        snprintf(revision, sizeof revision, "%" PRId64, e->revision);
        const char *v[PG_PUT_COLS] = {e->pseudonym,
                                      e->institution,
                                      e->record_key,
                                      version,
                                      e->kind ? e->kind : "",
                                      opt(e->item_code),
                                      opt(e->item_name),
                                      opt(e->modality),
                                      opt(e->body_part),
                                      opt(e->date),
                                      e->hr ? "t" : "f",
                                      opt(e->hr_scope),
                                      opt(e->qualified_from),
                                      opt(e->qualified_to),
                                      opt(e->source_url),
                                      e->deleted ? "t" : "f",
                                      opt(e->status),
                                      e->revision > 0 ? revision : NULL,
                                      part_of(e->images, e->record_key, "study:"),
                                      part_of(e->report, e->record_key, "report:"),
                                      opt(e->report_key)};
        for (int c = 0; c < PG_PUT_COLS; c++)
            arr_add(&col[c], v[c]);
    }
    return arrs_close(col, PG_PUT_COLS);
}
