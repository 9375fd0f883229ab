/* test_recognition.c: recognition prompts and decisions in the archive (index/recognition.c):
 * a decision needs a listed result, a repeated one is recorded once, a different one for the
 * same result is a conflict; the statistics add up by item, department, institution, month. */
#include "test_index.h"
#include "index/index_recognition.h"

#include <stdio.h>
#include <string.h>

static void prompt(huren_index *idx, const char *id, const char *day, const char *item,
                   const char *dept, size_t n, const char *const *keys, const char *const *insts)
{
    huren_index_rec_prompt p = {.prompt_id = id,
                                .day = day,
                                .pseudonym = "ps1",
                                .item_code = item,
                                .department = dept,
                                .doctor = "D1",
                                .result_keys = keys,
                                .institutions = insts,
                                .nresults = n};
    assert_int_equal(huren_index_rec_prompt_put(idx, &p), 0);
}

static huren_index_rec_outcome decide(huren_index *idx, const char *did, const char *pid,
                                      const char *key, const char *dec, const char *reason,
                                      char id[65])
{
    huren_index_rec_decision d = {
        .decision_id = did, .prompt_id = pid, .result_key = key, .decision = dec, .reason = reason};
    huren_index_rec_outcome o = (huren_index_rec_outcome)-1;
    assert_int_equal(huren_index_rec_decision_put(idx, &d, &o, id), 0);
    return o;
}

static const huren_index_rec_stats_row *row(const huren_index_rec_stats *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i].key, key))
            return &s->rows[i];
    fail_msg("no row %s", key);
    return NULL;
}

static void decisions_and_stats(void **state)
{
    (void)state;
    tfix t;
    char id[65];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    const char *k1[] = {"H1/study:1", "H2/report:7"}, *i1[] = {"H1", "H2"};
    const char *k2[] = {"H1/study:2"}, *i2[] = {"H1"};
    prompt(t.idx, "p1", "20261101", "CT-CHEST-PLAIN", "RAD", 2, k1, i1);
    prompt(t.idx, "p2", "20261201", "LAB-CBC", NULL, 1, k2, i2);
    prompt(t.idx, "p3", "20261202", "LAB-CBC", "RAD", 0, NULL, NULL);

    char src[64];
    assert_int_equal(huren_index_rec_shown_source(t.idx, "p1", "H1/study:1", src, sizeof src), 1);
    assert_string_equal(src, "");
    assert_int_equal(huren_index_rec_shown_source(t.idx, "p1", "H1/study:2", src, sizeof src), 0);
    assert_int_equal(huren_index_rec_record_source(t.idx, "study:1", src, sizeof src), 0);
    assert_int_equal(decide(t.idx, "d1", "p1", "H1/study:1", "accepted", NULL, id),
                     HUREN_INDEX_REC_STORED);
    assert_string_equal(id, "d1");
    /* a double click: the same id, nothing new */
    assert_int_equal(decide(t.idx, "d1b", "p1", "H1/study:1", "accepted", NULL, id),
                     HUREN_INDEX_REC_SAME);
    assert_string_equal(id, "d1");
    assert_int_equal(decide(t.idx, "d1c", "p1", "H1/study:1", "rejected", "too_old", id),
                     HUREN_INDEX_REC_CONFLICT);
    assert_string_equal(id, "d1");
    /* never shown in that prompt, or no such prompt */
    assert_int_equal(decide(t.idx, "dx", "p1", "H1/study:2", "accepted", NULL, id),
                     HUREN_INDEX_REC_NOT_SHOWN);
    assert_int_equal(decide(t.idx, "dy", "p9", "H1/study:1", "accepted", NULL, id),
                     HUREN_INDEX_REC_NO_PROMPT);
    assert_int_equal(decide(t.idx, "d2", "p1", "H2/report:7", "rejected", "too_old", id),
                     HUREN_INDEX_REC_STORED);
    assert_int_equal(decide(t.idx, "d3", "p2", "H1/study:2", "rejected", "emergency", id),
                     HUREN_INDEX_REC_STORED);
    huren_index_rec_decision bad = {
        .decision_id = "d4", .prompt_id = "p2", .result_key = "H1/study:2", .decision = "maybe"};
    huren_index_rec_outcome o;
    assert_int_equal(huren_index_rec_decision_put(t.idx, &bad, &o, id), HUREN_INDEX_EINVAL);

    huren_index_rec_stats s;
    assert_int_equal(huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_ITEM, &s), 2);
    const huren_index_rec_stats_row *r = row(&s, "CT-CHEST-PLAIN");
    assert_int_equal(r->prompts, 1);
    assert_int_equal(r->shown, 2);
    assert_int_equal(r->accepted, 1);
    assert_int_equal(r->rejected, 1);
    assert_int_equal(r->nreasons, 1);
    assert_string_equal(r->reasons[0].reason, "too_old");
    r = row(&s, "LAB-CBC");
    assert_int_equal(r->prompts, 2);
    assert_int_equal(r->shown, 1);
    assert_int_equal(r->rejected, 1);
    huren_index_rec_stats_free(&s);

    assert_int_equal(
        huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_INSTITUTION, &s), 2);
    r = row(&s, "H1");
    assert_int_equal(r->prompts, 2);
    assert_int_equal(r->shown, 2);
    assert_int_equal(r->accepted, 1);
    assert_int_equal(r->rejected, 1);
    assert_int_equal(row(&s, "H2")->rejected, 1);
    huren_index_rec_stats_free(&s);

    assert_int_equal(
        huren_index_rec_stats_get(t.idx, "20261201", "20261231", HUREN_INDEX_REC_BY_MONTH, &s), 1);
    assert_string_equal(s.rows[0].key, "202612");
    assert_int_equal(s.rows[0].prompts, 2);
    huren_index_rec_stats_free(&s);
    assert_int_equal(
        huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_DEPARTMENT, &s), 2);
    assert_int_equal(row(&s, "RAD")->prompts, 2);
    assert_int_equal(row(&s, "")->prompts, 1);
    huren_index_rec_stats_free(&s);
    assert_int_equal(huren_index_rec_stats_get(t.idx, "2026", NULL, HUREN_INDEX_REC_BY_ITEM, &s),
                     HUREN_INDEX_EINVAL);
    const char *k4[] = {"H3/study:9"}, *i4[] = {"H3"}, *s4[] = {"https://h3"};
    huren_index_rec_prompt p4 = {.prompt_id = "p4",
                                 .day = "20261203",
                                 .pseudonym = "ps1",
                                 .item_code = "CT-HEAD-PLAIN",
                                 .result_keys = k4,
                                 .institutions = i4,
                                 .sources = s4,
                                 .nresults = 1};
    assert_int_equal(huren_index_rec_prompt_put(t.idx, &p4), 0);
    assert_int_equal(huren_index_rec_record_source(t.idx, "study:9", src, sizeof src), 1);
    assert_string_equal(src, "https://h3");
    assert_int_equal(huren_index_rec_shown_source(t.idx, "p4", "H3/study:9", src, sizeof src), 1);
    tfix_close(&t);
}

/* A prompt is one (patient, item, order or visit, day): asked again, the same prompt, each
 * result counted once however often it is listed; a timeline listing is no prompt. */
static void prompt_identity(void **state)
{
    (void)state;
    tfix t;
    char id[65];
    int reused = -1;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    const char *k[] = {"H1/study:1", "H2/study:5"}, *in[] = {"H1", "H2"};
    huren_index_rec_prompt p = {.prompt_id = "q1",
                                .prompt_key = "key-A",
                                .order_id = "ORD-1",
                                .day = "20261101",
                                .pseudonym = "ps1",
                                .item_code = "CT-CHEST-PLAIN",
                                .result_keys = k,
                                .institutions = in,
                                .nresults = 1};
    assert_int_equal(huren_index_rec_prompt_open(t.idx, &p, id, &reused), 0);
    assert_string_equal(id, "q1");
    assert_int_equal(reused, 0);
    /* ten reloads, the second result appearing on the last: still prompt q1, two results */
    for (int i = 0; i < 10; i++) {
        char fresh[8];
        snprintf(fresh, sizeof fresh, "q1-%d", i);
        p.prompt_id = fresh;
        p.nresults = i == 9 ? 2 : 1;
        assert_int_equal(huren_index_rec_prompt_open(t.idx, &p, id, &reused), 0);
        assert_string_equal(id, "q1");
        assert_int_equal(reused, 1);
    }
    char did[65];
    assert_int_equal(decide(t.idx, "d1", "q1", "H1/study:1", "accepted", NULL, did),
                     HUREN_INDEX_REC_STORED);
    huren_index_rec_decision_list dl;
    assert_int_equal(huren_index_rec_decisions_get(t.idx, "q1", &dl), 1);
    assert_string_equal(dl.items[0].decision_id, "d1");
    assert_string_equal(dl.items[0].result_key, "H1/study:1");
    assert_string_equal(dl.items[0].decision, "accepted");
    huren_index_rec_decision_list_free(&dl);
    assert_int_equal(huren_index_rec_decisions_get(t.idx, "nope", &dl), 0);
    huren_index_rec_decision_list_free(&dl);

    /* another day: another prompt */
    p.prompt_id = "q2";
    p.prompt_key = "key-B";
    p.day = "20261102";
    p.nresults = 1;
    assert_int_equal(huren_index_rec_prompt_open(t.idx, &p, id, &reused), 0);
    assert_string_equal(id, "q2");
    assert_int_equal(reused, 0);
    /* a timeline listing: retrievals may name it, decisions may not, statistics skip it */
    huren_index_rec_prompt l = p;
    l.prompt_id = "t1";
    l.prompt_key = "timeline-key";
    l.listing = 1;
    l.nresults = 2;
    assert_int_equal(huren_index_rec_prompt_open(t.idx, &l, id, &reused), 0);
    char src[16];
    assert_int_equal(huren_index_rec_shown_source(t.idx, "t1", "H2/study:5", src, sizeof src), 1);
    assert_int_equal(decide(t.idx, "d9", "t1", "H2/study:5", "accepted", NULL, did),
                     HUREN_INDEX_REC_NO_PROMPT);

    huren_index_rec_stats s;
    assert_int_equal(huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_ITEM, &s), 1);
    assert_int_equal(s.rows[0].prompts, 2);
    assert_int_equal(s.rows[0].shown, 3); /* q1: 2 distinct results, q2: 1 */
    assert_int_equal(s.rows[0].accepted, 1);
    huren_index_rec_stats_free(&s);
    tfix_close(&t);
}

static void national_of_local(void **state)
{
    (void)state;
    tfix t;
    char nid[32];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_rec_patient_national(t.idx, "P404", nid, sizeof nid), 0);
    tfix_close(&t);
}

/* The origin of a listed study: its source and institution, and whom the prompt was about. */
static void origin_of_result(void **state)
{
    (void)state;
    tfix t;
    huren_index_rec_origin o;
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    const char *k[] = {"HB/study:5"}, *i[] = {"HB"}, *s[] = {"https://gw-b"};
    huren_index_rec_prompt p = {.prompt_id = "q1",
                                .day = "20261202",
                                .pseudonym = "ps",
                                .item_code = "CT",
                                .result_keys = k,
                                .institutions = i,
                                .sources = s,
                                .nresults = 1,
                                .patient_id = "A-123",
                                .national_id = "11010519491231002X",
                                .national_id_type = "ID"};
    assert_int_equal(huren_index_rec_prompt_put(t.idx, &p), 0);
    assert_int_equal(huren_index_rec_origin_get(t.idx, "q1", "HB/study:5", &o), 1);
    assert_string_equal(o.source, "https://gw-b");
    assert_string_equal(o.institution, "HB");
    assert_string_equal(o.patient_id, "A-123");
    assert_string_equal(o.national_id, "11010519491231002X");
    assert_string_equal(o.national_id_type, "ID");
    assert_int_equal(huren_index_rec_origin_get(t.idx, NULL, "study:5", &o), 1);
    assert_string_equal(o.patient_id, "A-123");
    assert_int_equal(huren_index_rec_origin_get(t.idx, "q1", "HB/study:6", &o), 0);
    /* a prompt for a patient known only by resident id; without a patient at all */
    p.prompt_id = "q2";
    p.patient_id = NULL;
    assert_int_equal(huren_index_rec_prompt_put(t.idx, &p), 0);
    assert_int_equal(huren_index_rec_origin_get(t.idx, "q2", "HB/study:5", &o), 1);
    assert_string_equal(o.patient_id, "");
    assert_string_equal(o.national_id, "11010519491231002X");
    p.prompt_id = "q3";
    p.national_id = NULL;
    assert_int_equal(huren_index_rec_prompt_put(t.idx, &p), 0);
    assert_int_equal(huren_index_rec_origin_get(t.idx, "q3", "HB/study:5", &o), 1);
    assert_string_equal(o.national_id, "");
    tfix_close(&t);
}

/* A critical result is recognised only with confirmation (kept, with the doctor's source); a
 * revoked decision stays listed as revoked and leaves the statistics; twice is refused. */
static void critical_and_revoke(void **state)
{
    (void)state;
    tfix t;
    char id[65];
    tfix_open(&t, 0, HUREN_INDEX_DUP_KEEP);
    const char *k[] = {"H1/report:1", "H2/report:2"}, *in[] = {"H1", "H2"};
    const int crit[] = {1, 0};
    huren_index_rec_prompt p = {.prompt_id = "pc",
                                .day = "20261203",
                                .pseudonym = "ps1",
                                .item_code = "LAB-K",
                                .result_keys = k,
                                .institutions = in,
                                .criticals = crit,
                                .nresults = 2};
    assert_int_equal(huren_index_rec_prompt_put(t.idx, &p), 0);
    assert_int_equal(decide(t.idx, "c0", "pc", "H1/report:1", "accepted", NULL, id),
                     HUREN_INDEX_REC_UNCONFIRMED);
    huren_index_rec_decision d = {.decision_id = "c1",
                                  .prompt_id = "pc",
                                  .result_key = "H1/report:1",
                                  .decision = "accepted",
                                  .doctor = "CN=dr-li",
                                  .doctor_source = "certificate",
                                  .confirm_critical = 1};
    huren_index_rec_outcome o;
    assert_int_equal(huren_index_rec_decision_put(t.idx, &d, &o, id), 0);
    assert_int_equal(o, HUREN_INDEX_REC_STORED);
    assert_int_equal(decide(t.idx, "c2", "pc", "H2/report:2", "accepted", NULL, id),
                     HUREN_INDEX_REC_STORED);
    huren_index_rec_stats s;
    assert_int_equal(huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_ITEM, &s), 1);
    assert_int_equal(s.rows[0].accepted, 2);
    huren_index_rec_stats_free(&s);

    assert_int_equal(huren_index_rec_decision_revoke(t.idx, "c2", "admin", "wrong patient", 0), 0);
    assert_int_equal(huren_index_rec_decision_revoke(t.idx, "c2", "admin", "again", 0), 1);
    /* the revoked decision still holds its result in that prompt: posted again, a conflict */
    assert_int_equal(decide(t.idx, "c3", "pc", "H2/report:2", "accepted", NULL, id),
                     HUREN_INDEX_REC_CONFLICT);
    assert_string_equal(id, "c2");
    assert_int_equal(huren_index_rec_decision_revoke(t.idx, "nope", "admin", "x", 0),
                     HUREN_INDEX_ENOTFOUND);
    assert_int_equal(huren_index_rec_decision_revoke(t.idx, "c1", "admin", "", 0),
                     HUREN_INDEX_EINVAL);
    assert_int_equal(huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_ITEM, &s), 1);
    assert_int_equal(s.rows[0].accepted, 1);
    huren_index_rec_stats_free(&s);
    assert_int_equal(
        huren_index_rec_stats_get(t.idx, NULL, NULL, HUREN_INDEX_REC_BY_INSTITUTION, &s), 2);
    assert_int_equal(row(&s, "H2")->accepted, 0);
    huren_index_rec_stats_free(&s);

    huren_index_rec_decision_list l;
    assert_int_equal(huren_index_rec_decisions_get(t.idx, "pc", &l), 2);
    assert_string_equal(l.items[0].decision_id, "c1");
    assert_int_equal(l.items[0].confirm_critical, 1);
    assert_string_equal(l.items[0].doctor_source, "certificate");
    assert_int_equal(l.items[0].revoked_at, 0);
    assert_true(l.items[1].revoked_at > 0);
    assert_string_equal(l.items[1].revoked_by, "admin");
    assert_string_equal(l.items[1].revoked_reason, "wrong patient");
    huren_index_rec_decision_list_free(&l);
    tfix_close(&t);
}

const struct CMUnitTest recognition_tests[] = {
    cmocka_unit_test(critical_and_revoke), cmocka_unit_test(origin_of_result),
    cmocka_unit_test(decisions_and_stats), cmocka_unit_test(prompt_identity),
    cmocka_unit_test(national_of_local),
};
const size_t recognition_ntests = sizeof(recognition_tests) / sizeof(recognition_tests[0]);
