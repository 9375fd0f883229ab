/* test_pacs.c: studies held at a PACS (answers into rows without instances, found by queries
 * with the PACS's name and counts, updated, pruned when gone, published), the sync's
 * watermark, and the forwarding queue (once per instance, deferred, sent). */
#include "test_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int published;

static int hook(const huren_index_publish_event *ev, char pseudonym[HUREN_INDEX_PSEUDONYM_HEX + 1],
                char **entry, void *payload)
{
    (void)payload;
    if (ev->kind == HUREN_INDEX_PUBLISH_STUDY && ev->study->modalities)
        published++;
    memset(pseudonym, 'a', HUREN_INDEX_PSEUDONYM_HEX);
    pseudonym[HUREN_INDEX_PSEUDONYM_HEX] = 0;
    *entry = strdup(ev->study ? ev->study->study_uid : "r");
    return 0;
}

static void answer(huren_index_pacs_study *s, const char *pid, const char *uid, const char *date,
                   const char *desc)
{
    memset(s, 0, sizeof *s);
    s->values[HUREN_INDEX_F_PATIENT_ID] = pid;
    s->values[HUREN_INDEX_F_PATIENT_NAME] = "Wang^Fang";
    s->values[HUREN_INDEX_F_STUDY_UID] = uid;
    s->values[HUREN_INDEX_F_STUDY_DATE] = date;
    s->values[HUREN_INDEX_F_STUDY_DESCRIPTION] = desc;
    s->values[HUREN_INDEX_F_MODALITIES_IN_STUDY] = "CT";
    s->num_series = 2;
    s->num_instances = 40;
}

typedef struct held_rows {
    char text[512];
} held_rows;

static int on_row(void *payload, const huren_index_row *row)
{
    held_rows *h = payload;
    snprintf(h->text + strlen(h->text), sizeof h->text - strlen(h->text), "%s:%s:%s:%s;",
             row->values[HUREN_INDEX_F_STUDY_UID], row->held_at ? row->held_at : "here",
             row->values[HUREN_INDEX_F_STUDY_NUM_INSTANCES],
             row->values[HUREN_INDEX_F_STUDY_DESCRIPTION]
                 ? row->values[HUREN_INDEX_F_STUDY_DESCRIPTION]
                 : "-");
    return 0;
}

static const char *studies(huren_index *idx, held_rows *h)
{
    h->text[0] = 0;
    huren_index_query q = {HUREN_INDEX_LEVEL_STUDY, NULL, 0, 0, 0};
    assert_true(huren_index_find(idx, &q, on_row, h) >= 0);
    return h->text;
}

static void held_studies(void **state)
{
    (void)state;
    tfix t;
    held_rows h;
    char pacs[HUREN_INDEX_PACS_NAME_MAX + 1];
    huren_index_pacs_study s[2];
    size_t added = 9;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    huren_index_publish_set(t.idx, hook, NULL);
    published = 0;
    answer(&s[0], "P1", "1.9.1", "20260101", "CT head");
    answer(&s[1], "P1", "1.9.2", "20260101", "CT chest");
    assert_int_equal(huren_index_pacs_studies_put(t.idx, "main", s, 2, 100, &added), 0);
    assert_int_equal(added, 2);
    assert_int_equal(published, 2);
    assert_string_equal(studies(t.idx, &h), "1.9.1:main:40:CT head;1.9.2:main:40:CT chest;");
    assert_totals_consistent(&t);
    /* answered again, changed: updated, nothing added */
    s[0].values[HUREN_INDEX_F_STUDY_DESCRIPTION] = "CT head w/o";
    assert_int_equal(huren_index_pacs_studies_put(t.idx, "main", s, 1, 200, &added), 0);
    assert_int_equal(added, 0);
    assert_string_equal(studies(t.idx, &h), "1.9.1:main:40:CT head w/o;1.9.2:main:40:CT chest;");
    /* fetched: one instance of 1.9.2 here makes it a study held here */
    tinst in;
    tinst_init(&in, "P1", "1.9.2", "1.9.2.1", "1.9.2.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    put_ok(t.idx, &in, "dicom bytes");
    assert_string_equal(studies(t.idx, &h), "1.9.1:main:40:CT head w/o;1.9.2:here:1:CT chest;");
    assert_int_equal(huren_index_pacs_held(t.idx, "1.9.1", pacs), 1);
    assert_string_equal(pacs, "main");
    assert_int_equal(huren_index_pacs_held(t.idx, "1.9.2", pacs), 0);
    assert_int_equal(huren_index_pacs_held(t.idx, "1.9.404", pacs), 0);
    huren_index_pacs_stats st;
    assert_int_equal(huren_index_pacs_stats_get(t.idx, "main", &st), 0);
    assert_int_equal(st.studies, 2);
    assert_int_equal(st.only_there, 1);
    /* re-synced day 20260101 at 300 without either: the one only at the PACS is gone */
    size_t removed = 9;
    assert_int_equal(huren_index_pacs_day_prune(t.idx, "main", "20260101", 300, &removed), 0);
    assert_int_equal(removed, 1);
    assert_string_equal(studies(t.idx, &h), "1.9.2:here:1:CT chest;");
    /* and withdrawn from the directory: a deletion queued for its published entry */
    huren_index_outbox_batch b;
    int nb = huren_index_outbox_fetch(t.idx, INT64_MAX / 2, 100, &b), withdrawn = 0;
    assert_true(nb >= 1);
    for (size_t i = 0; i < b.n; i++)
        withdrawn += b.items[i].deleted && !strcmp(b.items[i].record_key, "study:1.9.1");
    huren_index_outbox_batch_free(&b);
    assert_int_equal(withdrawn, 1);
    assert_totals_consistent(&t);
    /* bad input */
    answer(&s[0], "P1", NULL, "20260101", "x");
    assert_int_equal(huren_index_pacs_studies_put(t.idx, "main", s, 1, 1, NULL),
                     HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_pacs_studies_put(t.idx, "", s, 0, 1, NULL), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

/* The fetch cache: fetched copies marked, usage, least recently read first, a study with an
 * instance stored directly never evicted, an evicted study held at the PACS again. */
static void fetch_cache(void **state)
{
    (void)state;
    tfix t;
    held_rows h;
    char pacs[HUREN_INDEX_PACS_NAME_MAX + 1];
    huren_index_pacs_study s[3];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    answer(&s[0], "P1", "1.8.1", "20260101", "a");
    answer(&s[1], "P1", "1.8.2", "20260101", "b");
    answer(&s[2], "P1", "1.8.3", "20260101", "c");
    assert_int_equal(huren_index_pacs_studies_put(t.idx, "main", s, 3, 100, NULL), 0);
    tinst in;
    const char *sops[] = {"1.8.1.1.1", "1.8.2.1.1", "1.8.3.1.1"};
    for (int i = 0; i < 3; i++) {
        tinst_init(&in, "P1", s[i].values[HUREN_INDEX_F_STUDY_UID], "1.8.0.1", sops[i], "CT",
                   "1.2.840.10008.5.1.4.1.1.2");
        char series[32];
        snprintf(series, sizeof series, "%s.1", s[i].values[HUREN_INDEX_F_STUDY_UID]);
        in.v[HUREN_INDEX_F_SERIES_UID] = series;
        put_ok(t.idx, &in, "0123456789");
        assert_int_equal(
            huren_index_pacs_cache_mark(t.idx, s[i].values[HUREN_INDEX_F_STUDY_UID], 10 + i), 0);
    }
    /* one instance stored directly into 1.8.3: that study is not evictable */
    tinst_init(&in, "P1", "1.8.3", "1.8.3.2", "1.8.3.2.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    put_ok(t.idx, &in, "direct");
    int64_t bytes = 0, nst = 0;
    assert_int_equal(huren_index_pacs_cache_usage(t.idx, "main", &bytes, &nst), 0);
    assert_int_equal(bytes, 30);
    assert_int_equal(nst, 3);
    /* 1.8.1 read again later than 1.8.2 */
    const char *uids[] = {"1.8.1", "1.9.404"};
    int64_t at[] = {50, 60};
    assert_int_equal(huren_index_pacs_cache_touch(t.idx, uids, at, 2), 0);
    huren_index_pacs_cached lru[4];
    size_t n = 9;
    assert_int_equal(huren_index_pacs_cache_lru(t.idx, "main", lru, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lru[0].study_uid, "1.8.2");
    assert_int_equal(lru[0].bytes, 10);
    assert_string_equal(lru[1].study_uid, "1.8.1");
    assert_int_equal(lru[1].last_read, 50);
    assert_int_equal(huren_index_pacs_cache_evict(t.idx, "1.8.3", NULL), HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_pacs_cache_evict(t.idx, "1.8.2", &bytes), 0);
    assert_int_equal(bytes, 10);
    assert_int_equal(huren_index_pacs_held(t.idx, "1.8.2", pacs), 1);
    assert_string_equal(studies(t.idx, &h), "1.8.1:here:1:a;1.8.2:main:40:b;1.8.3:here:2:c;");
    assert_int_equal(huren_index_pacs_cache_usage(t.idx, "main", &bytes, &nst), 0);
    assert_int_equal(bytes, 20);
    assert_int_equal(nst, 2);
    assert_totals_consistent(&t);
    /* fetched again: a copy once more */
    tinst_init(&in, "P1", "1.8.2", "1.8.2.1", "1.8.2.1.1", "CT", "1.2.840.10008.5.1.4.1.1.2");
    put_ok(t.idx, &in, "0123456789");
    assert_int_equal(huren_index_pacs_cache_mark(t.idx, "1.8.2", 70), 0);
    assert_int_equal(huren_index_pacs_cache_lru(t.idx, "main", lru, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lru[0].study_uid, "1.8.1");
    assert_string_equal(lru[1].study_uid, "1.8.2");
    assert_int_equal(huren_index_pacs_cache_evict(t.idx, "1.8.404", NULL), HUREN_INDEX_ENOTFOUND);
    tfix_close(&t);
}

static void watermark(void **state)
{
    (void)state;
    tfix t;
    int64_t at = 0;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_pacs_day_get(t.idx, "main", "20260102", &at),
                     HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_pacs_day_set(t.idx, "main", "20260102", 12, 500), 0);
    tfix_reopen(&t);
    assert_int_equal(huren_index_pacs_day_get(t.idx, "main", "20260102", &at), 0);
    assert_int_equal(at, 500);
    assert_int_equal(huren_index_pacs_day_get(t.idx, "other", "20260102", &at),
                     HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_pacs_day_set(t.idx, "main", "2026", 1, 1), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

static void forward_queue(void **state)
{
    (void)state;
    tfix t;
    huren_index_fwd_item it[4];
    size_t n = 9;
    huren_index_fwd_stats st;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "f", "1.2.3", 10), 0);
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "f", "1.2.3", 11), 0); /* once */
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "f", "1.2.4", 12), 0);
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "g", "1.2.3", 12), 0); /* another rule */
    assert_int_equal(huren_index_fwd_due(t.idx, "f", 100, it, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(it[0].sop_uid, "1.2.3");
    assert_int_equal(huren_index_fwd_defer(t.idx, it[0].id, 200, "destination down"), 0);
    assert_int_equal(huren_index_fwd_sent(t.idx, it[1].id, 100), 0);
    assert_int_equal(huren_index_fwd_due(t.idx, "f", 150, it, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(huren_index_fwd_stats_get(t.idx, "f", &st), 0);
    assert_int_equal(st.backlog, 1);
    assert_int_equal(st.failing, 1);
    assert_int_equal(st.sent, 1);
    tfix_reopen(&t); /* kept across restarts */
    assert_int_equal(huren_index_fwd_due(t.idx, "f", 200, it, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].attempts, 1);
    assert_int_equal(huren_index_fwd_sent(t.idx, it[0].id, 200), 0);
    /* stored again after it was sent: not sent twice */
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "f", "1.2.3", 300), 0);
    assert_int_equal(huren_index_fwd_due(t.idx, "f", 1000, it, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(huren_index_fwd_enqueue(t.idx, "", "1.2.3", 300), HUREN_INDEX_EINVAL);
    tfix_close(&t);
}

const struct CMUnitTest pacs_tests[] = {
    cmocka_unit_test(held_studies),
    cmocka_unit_test(watermark),
    cmocka_unit_test(fetch_cache),
    cmocka_unit_test(forward_queue),
};
const size_t pacs_ntests = sizeof(pacs_tests) / sizeof(pacs_tests[0]);
