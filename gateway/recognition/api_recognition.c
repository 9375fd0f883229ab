/* api_recognition.c: GET /api/v1/recognition: a patient's recognisable results for one
 * catalogue item, from every hospital. Checks the patient's recognition consent, looks the
 * pseudonym up at the regional directory (lookup.c), keeps what is inside the item's validity
 * window and HR scope (rules.c), asks the holding peers for metadata in parallel (fetch.c),
 * and records the prompt (index/recognition.c) so that decisions and statistics can refer to
 * it: one prompt per patient, item, order or visit and day, asked again the same prompt with
 * the decisions already recorded. A study and its exam report are one result. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "huren_err.h"
#include "random_id.h"
#include "recognition.h"
#include "recognition_int.h"
#include "rules.h"
#include "index/index_recognition.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS 200 /* recognisable results listed per prompt */

typedef struct query {
    const char *patient, *item_arg, *doctor, *dept, *order, *visit;
    char at[9], since[9];
    rec_patient pt;
    const catalogue_item *item;
    rec_ref_item pitem; /* the item in the province's catalogue, when province is set */
    int province;
} query;

/* One recognisable entry of the directory's answer, with its peer's answer. */
typedef struct result {
    json_t *entry; /* borrowed from the directory's answer */
    char key[400], valid_until[9];
    int peer;              /* index into the peer fetches */
    const char *record_id; /* after "study:" or "report:" */
    int study;
} result;

/* Parse and check the arguments; answers and returns -1 on a bad one. */
static int query_parse(http_request *req, http_response *res, recognition *rec, query *q)
{
    node *n = req->app;
    const char *at = http_request_arg(req, "at");
    long d;
    q->patient = http_request_arg(req, "patient");
    q->item_arg = http_request_arg(req, "item");
    q->doctor = http_request_arg(req, "doctor");
    q->dept = http_request_arg(req, "dept");
    q->order = http_request_arg(req, "order");
    q->visit = http_request_arg(req, "visit");
    if (!q->patient || !*q->patient || strlen(q->patient) > 64 || !q->item_arg || !*q->item_arg)
        return http_reply_error(res, 400, "patient and item are required"), -1;
    if ((q->doctor && strlen(q->doctor) > 64) || (q->dept && strlen(q->dept) > 64) ||
        (q->order && strlen(q->order) > 64) || (q->visit && strlen(q->visit) > 64))
        return http_reply_error(res, 400, "doctor, dept, order, visit: at most 64 bytes"), -1;
    if (at && *at) {
        if (rec_day_parse(at, &d) < 0)
            return http_reply_error(res, 400, "at: a date YYYYMMDD"), -1;
        snprintf(q->at, sizeof q->at, "%s", at);
    } else {
        rec_today(q->at);
        rec_day_parse(q->at, &d);
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", q->patient);
    q->item = catalogue_by_code(rec->cat, q->item_arg);
    if (!q->item)
        q->item =
            catalogue_by_local_code(rec->cat, n->cfg->dir_institution, "imaging", q->item_arg);
    if (!q->item)
        q->item = catalogue_by_local_code(rec->cat, n->cfg->dir_institution, "lab", q->item_arg);
    if (!q->item)
        return http_reply_error(res, 404, "item not in the catalogue"), -1;
    q->province = rec_province_item(rec, q->item->code, &q->pitem);
    /* asked back as far as either catalogue reaches: a result the province's shorter window
     * leaves out is listed as excluded ("window") rather than never seen */
    long back = q->item->window_days;
    if (q->province && q->pitem.window_days > back)
        back = q->pitem.window_days;
    rec_day_format(d - back, q->since);
    return rec_patient_resolve(n, q->patient, &q->pt, res);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void count_excluded(json_t *excluded, const char *why)
{
    json_object_set_new(excluded, why,
                        json_integer(json_integer_value(json_object_get(excluded, why)) + 1));
}

/* An exam is listed once, at its source. A study this hospital holds as a retrieved copy is
 * not listed as its own (an entry published before copies were told apart): returns -2. A
 * record key already kept from another institution (a peer's copy, published by an older
 * gateway) is listed once, at whichever announced it first (a copy is made after its source
 * was announced): returns the kept slot when this entry came first (it takes the slot), -2
 * when it came later; -1 for a new record. Counts what it leaves out. */
static long listed_once(node *n, const result *kept, size_t k, const rec_entry *re, const char *rk,
                        json_t *e, json_t *excluded)
{
    char inst[128];
    if (!strncmp(rk, "study:", 6) && !strcmp(re->institution, n->cfg->dir_institution) &&
        huren_index_study_copy_of(n->index, rk + 6, inst, sizeof inst) == 1) {
        count_excluded(excluded, "a copy held here");
        return -2;
    }
    for (size_t j = 0; j < k; j++)
        if (!strcmp(jstr(kept[j].entry, "record_key"), rk)) {
            count_excluded(excluded, "listed at another institution");
            /* received_at: YYYYMMDDHHMMSS, compares as text */
            return strcmp(jstr(e, "received_at"), jstr(kept[j].entry, "received_at")) < 0 ? (long)j
                                                                                          : -2;
        }
    return -1;
}

/* A result left out by the province's rules: counted under its reason code and listed with
 * it (Chinese text first for the page). */
static void exclusion_add(json_t *excluded, json_t *list, rec_exclusion x, json_t *e,
                          const char *key)
{
    count_excluded(excluded, rec_exclusion_code(x));
    json_array_append_new(list,
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "result_key", key, "institution",
                                    jstr(e, "institution"), "date", jstr(e, "date"), "reason",
                                    rec_exclusion_code(x), "reason_text", rec_exclusion_zh(x)));
}

/* The verdict of the province's rules for entry re (with the province's catalogue held);
 * x gets why it is left out. */
static rec_verdict province_verdict(node *n, const query *q, const rec_entry *re, rec_exclusion *x)
{
    long day;
    *x = REC_X_NONE;
    if (re->deleted)
        return REC_DELETED;
    if (rec_day_parse(re->date, &day) < 0)
        return REC_BAD_DATE;
    *x = rec_province_check(n->recognition, &q->pitem, q->at, re->institution,
                            n->cfg->dir_institution, re->date);
    return *x == REC_X_NONE ? REC_OK : REC_EXPIRED;
}

/* Keep the entries inside the window and HR scope; count the others by verdict. */
static size_t entries_filter(node *n, const query *q, json_t *records, result *out,
                             json_t *excluded, json_t *excluded_list)
{
    size_t i, k = 0;
    json_t *e;
    json_array_foreach(records, i, e)
    {
        rec_entry re = {.institution = jstr(e, "institution"),
                        .date = jstr(e, "date"),
                        .hr = json_is_true(json_object_get(e, "hr")),
                        .hr_scope = jstr(e, "hr_scope"),
                        .qualified_from = jstr(e, "qualified_from"),
                        .qualified_to = jstr(e, "qualified_to"),
                        .deleted = json_is_true(json_object_get(e, "deleted"))};
        const char *rk = jstr(e, "record_key");
        char until[9];
        if (rec_entry_folded(records, e))
            continue; /* its study's entry is the result */
        rec_exclusion x = REC_X_NONE;
        rec_verdict v = rec_entry_check(&re, q->item->window_days, q->item->hr_scope, q->at,
                                        n->cfg->dir_institution, until);
        if (q->province) {
            v = province_verdict(n, q, &re, &x);
            long day;
            if (rec_day_parse(re.date, &day) == 0)
                rec_day_format(day + q->pitem.window_days, until);
        }
        if (x != REC_X_NONE) {
            char key[400];
            snprintf(key, sizeof key, "%s/%s", re.institution, rk);
            exclusion_add(excluded, excluded_list, x, e, key);
            continue;
        }
        int study = !strncmp(rk, "study:", 6), report = !strncmp(rk, "report:", 7);
        if (v == REC_OK && !study && !report)
            v = REC_BAD_DATE; /* a record key this gateway cannot open */
        long slot = v == REC_OK ? listed_once(n, out, k, &re, rk, e, excluded) : -1;
        if (slot == -2)
            continue;
        if (v != REC_OK || (slot < 0 && k == MAX_RESULTS) || !*jstr(e, "source_url")) {
            const char *why = v == REC_OK ? "not listed" : rec_verdict_text(v);
            json_object_set_new(
                excluded, why,
                json_integer(json_integer_value(json_object_get(excluded, why)) + 1));
            continue;
        }
        result *r = slot >= 0 ? &out[slot] : &out[k++];
        r->entry = e;
        r->study = study;
        r->record_id = rk + (study ? 6 : 7);
        snprintf(r->key, sizeof r->key, "%s/%s", re.institution, rk);
        memcpy(r->valid_until, until, 9);
    }
    return k;
}

static json_t *open_link(const result *r, const char *source)
{
    char url[1200];
    if (r->study) {
        snprintf(url, sizeof url, "%s/dicom-web/studies/%s", source, r->record_id);
        json_t *o = json_pack("{s:s, s:s, s:s}", "type", "study", "study_uid", r->record_id,
                              "dicomweb", url);
        const char *rk = jstr(r->entry, "report_key");
        if (!strncmp(rk, "report:", 7)) { /* the exam's report, at the same holder */
            snprintf(url, sizeof url, "%s/api/v1/reports/%s", source, rk + 7);
            json_object_set_new(o, "report_url", json_string(url));
        }
        return o;
    }
    snprintf(url, sizeof url, "%s/api/v1/reports/%s", source, r->record_id);
    return json_pack("{s:s, s:s}", "type", "report", "url", url);
}

/* A peer's answer as a summary: the study's QIDO-RS attributes, or the report minus its
 * history. NULL when the answer is not what was asked. */
static json_t *summary_of(const result *r, const rec_fetch *f)
{
    json_t *o = f->body.data ? json_loadb(f->body.data, f->body.len, 0, NULL) : NULL;
    if (r->study) {
        json_t *first = json_is_array(o) ? json_incref(json_array_get(o, 0)) : NULL;
        json_decref(o);
        return first;
    }
    if (json_is_object(o))
        json_object_del(o, "history");
    return o;
}

static void peer_urls(const result *r, size_t n, rec_fetch *f, char (*urls)[1200])
{
    for (size_t i = 0; i < n; i++) {
        const char *src = jstr(r[i].entry, "source_url");
        char *id = rec_url_escape(r[i].record_id);
        if (r[i].study)
            snprintf(urls[i], 1200, "%s/dicom-web/studies?StudyInstanceUID=%s&includefield=all",
                     src, id ? id : "");
        else
            snprintf(urls[i], 1200, "%s/api/v1/reports/%s", src, id ? id : "");
        free(id);
        f[i].url = urls[i];
    }
}

/* Is this source already listed as unavailable? */
static int listed(json_t *unavailable, const char *source)
{
    size_t i;
    json_t *u;
    json_array_foreach(unavailable, i, u)
    {
        if (!strcmp(jstr(u, "source"), source)) {
            json_object_set_new(
                u, "results", json_integer(json_integer_value(json_object_get(u, "results")) + 1));
            return 1;
        }
    }
    return 0;
}

/* A critical value (危急值) in the holder's answer: an observation flagged HH, LL or AA
 * (OBX-8), or the sender's own "critical": true. Such a result is shown with a warning and
 * never pre-selected; recognising it needs "confirm_critical" (api_decisions.c). */
static void critical_mark(json_t *o, json_t *summary)
{
    int critical = json_is_true(json_object_get(summary, "critical"));
    size_t i;
    json_t *ob;
    json_array_foreach(json_object_get(summary, "result"), i, ob)
    {
        critical = critical || rec_flags_critical(jstr(ob, "interpretation"));
    }
    json_object_set_new(o, "critical", json_boolean(critical));
    json_object_set_new(o, "preselect", json_boolean(!critical));
    if (critical)
        json_object_set_new(o, "warning", json_string(rec_exclusion_zh(REC_X_CRITICAL)));
}

/* The results a prompt lists: key, institution and source of each (borrowed). */
typedef struct shown {
    const char **keys, **insts, **sources;
    int *criticals;
    size_t n;
} shown;

/* Ask the peers, then build the answer's results (newest first: the directory's order) and
 * the list of peers that did not answer. Fills sh with the results shown. */
static void results_build(recognition *rec, result *r, size_t n, json_t *results,
                          json_t *unavailable, json_t *excluded, json_t *excluded_list, shown *sh)
{
    rec_fetch *f = calloc(n ? n : 1, sizeof *f);
    char(*urls)[1200] = calloc(n ? n : 1, sizeof *urls);
    sh->n = 0;
    if (!f || !urls)
        goto done;
    peer_urls(r, n, f, urls);
    rec_fetch_all(rec, f, n, REC_PEER_TIMEOUT_MS);
    for (size_t i = 0; i < n; i++) {
        json_t *e = r[i].entry;
        const char *src = jstr(e, "source_url");
        if (f[i].status == 0 || f[i].status >= 500) {
            json_array_append_new(excluded_list,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "result_key", r[i].key,
                                            "institution", jstr(e, "institution"), "date",
                                            jstr(e, "date"), "reason",
                                            rec_exclusion_code(REC_X_UNAVAILABLE), "reason_text",
                                            rec_exclusion_zh(REC_X_UNAVAILABLE)));
            if (!listed(unavailable, src)) {
                char why[HUREN_ERRLEN];
                snprintf(why, sizeof why, "%s", f[i].error[0] ? f[i].error : "HTTP error");
                if (f[i].status)
                    snprintf(why, sizeof why, "HTTP %ld", f[i].status);
                json_array_append_new(unavailable, json_pack("{s:s, s:s, s:s, s:i}", "institution",
                                                             jstr(e, "institution"), "source", src,
                                                             "reason", why, "results", 1));
            }
            continue;
        }
        json_t *summary = f[i].status == 200 ? summary_of(&r[i], &f[i]) : NULL;
        if (!summary) { /* the holder no longer has it, or refuses: not listed */
            const char *why = "not available at its source";
            json_object_set_new(
                excluded, why,
                json_integer(json_integer_value(json_object_get(excluded, why)) + 1));
            continue;
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "result_key", r[i].key,
                              "institution", jstr(e, "institution"), "kind", jstr(e, "kind"),
                              "item_code", jstr(e, "item_code"), "item_name", jstr(e, "item_name"),
                              "date", jstr(e, "date"));
        json_object_set_new(o, "modality", json_string(jstr(e, "modality")));
        json_object_set_new(o, "body_part", json_string(jstr(e, "body_part")));
        json_object_set_new(o, "hr_scope", json_string(jstr(e, "hr_scope")));
        json_object_set_new(o, "valid_until", json_string(r[i].valid_until));
        json_object_set_new(o, "source", json_string(src));
        rec_exam_parts(o, e);
        json_object_set_new(o, "open", open_link(&r[i], src));
        critical_mark(o, summary);
        rec_province_institution(rec, jstr(e, "institution"), o);
        json_object_set_new(o, "summary", summary);
        json_array_append_new(results, o);
        sh->keys[sh->n] = r[i].key;
        sh->sources[sh->n] = src;
        sh->criticals[sh->n] = json_is_true(json_object_get(o, "critical"));
        sh->insts[sh->n++] = jstr(e, "institution");
    }
done:
    for (size_t i = 0; f && i < n; i++)
        rec_fetch_clear(&f[i]);
    free(f);
    free(urls);
}

/* Open the prompt of (patient, item, order or visit, today): the one asked before, or a new
 * one; the results listed now are added to those it showed. */
static int prompt_record(http_request *req, const query *q, char id[65], int *reused,
                         const shown *sh)
{
    node *nd = req->app;
    char day[9], fresh[33], key[65];
    rec_today(day);
    if (rec_random_id(fresh) < 0)
        return -1;
    if (rec_prompt_key(q->pt.pseudonym, q->item->code, q->order, q->visit, day, key) < 0)
        return -1;
    huren_index_rec_prompt p = {.prompt_id = fresh,
                                .prompt_key = key,
                                .order_id = q->order,
                                .visit_id = q->visit,
                                .day = day,
                                .pseudonym = q->pt.pseudonym,
                                .item_code = q->item->code,
                                .doctor = q->doctor,
                                .department = q->dept,
                                .actor = req->actor,
                                .result_keys = sh->keys,
                                .institutions = sh->insts,
                                .sources = sh->sources,
                                .criticals = sh->criticals,
                                .nresults = sh->n,
                                /* whom it is about: a study retrieved from it is theirs here */
                                .patient_id = q->pt.local[0] ? q->pt.local : NULL,
                                .national_id = q->pt.nid[0] ? q->pt.nid : NULL,
                                .national_id_type = q->pt.type == IDENTITY_FOREIGN ? "FPR" : "ID"};
    int rc = huren_index_rec_prompt_open(nd->index, &p, id, reused);
    if (rc < 0)
        log_warnx("recording a prompt: %s", huren_index_errmsg(nd->index));
    return rc;
}

/* The decisions the prompt holds, as a list and on each result they concern. */
static int decisions_attach(node *n, const char *prompt, json_t *results, json_t **out)
{
    huren_index_rec_decision_list l;
    *out = json_array();
    if (huren_index_rec_decisions_get(n->index, prompt, &l) < 0) {
        log_warnx("reading a prompt's decisions: %s", huren_index_errmsg(n->index));
        return -1;
    }
    for (size_t i = 0; i < l.n; i++) {
        const huren_index_rec_decision *d = &l.items[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "decision_id", d->decision_id, "result_key",
                              d->result_key, "decision", d->decision);
        if (d->reason)
            json_object_set_new(o, "reason", json_string(d->reason));
        if (d->reason_text)
            json_object_set_new(o, "reason_text", json_string(d->reason_text));
        if (d->doctor)
            json_object_set_new(o, "doctor", json_string(d->doctor));
        if (d->doctor_source)
            json_object_set_new(o, "doctor_source", json_string(d->doctor_source));
        if (d->confirm_critical)
            json_object_set_new(o, "confirm_critical", json_true());
        json_object_set_new(o, "revoked", json_boolean(d->revoked_at != 0));
        if (d->revoked_at) {
            json_object_set_new(o, "revoked_at", json_integer(d->revoked_at));
            json_object_set_new(o, "revoked_by", json_string(d->revoked_by ? d->revoked_by : ""));
            json_object_set_new(o, "revoked_reason",
                                json_string(d->revoked_reason ? d->revoked_reason : ""));
        }
        size_t k;
        json_t *r;
        json_array_foreach(results, k, r)
        {
            if (!strcmp(jstr(r, "result_key"), d->result_key))
                json_object_set(r, "decision", o);
        }
        json_array_append_new(*out, o);
    }
    huren_index_rec_decision_list_free(&l);
    return 0;
}

/* The item's price and what the prompt's recognitions saved (节约费用): one price per result
 * recognised, integer fen. Without a price for the item, neither is given. */
static void savings_add(const recognition *rec, json_t *o, const char *item, json_t *decisions)
{
    int64_t price = rec_price_fen(rec, item);
    char text[32];
    size_t i, accepted = 0;
    json_t *d;
    if (price < 0)
        return;
    json_array_foreach(decisions, i, d)
    {
        accepted += !strcmp(jstr(d, "decision"), "accepted") &&
                    !json_is_true(json_object_get(d, "revoked"));
    }
    json_t *it = json_object_get(o, "item");
    rec_fen_format(price, text);
    json_object_set_new(it, "price_fen", json_integer(price));
    json_object_set_new(it, "price", json_string(text));
    rec_fen_format(price * (int64_t)accepted, text);
    json_object_set_new(o, "savings_fen", json_integer(price * (json_int_t)accepted));
    json_object_set_new(o, "savings", json_string(text));
}

static json_t *item_json(const catalogue_item *it)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:s}", "code", it->code, "name", it->name, "kind",
                     it->kind, "validity_days", it->window_days, "hr_scope", it->hr_scope);
}

/* The lookup, the peers, the prompt and the answer, once the request is allowed. */
static int query_answer(http_request *req, http_response *res, recognition *rec, query *q)
{
    json_t *dir =
        rec_directory_lookup(rec, q->pt.pseudonym, q->item->kind, q->item->code, q->since, res);
    if (!dir)
        return 0;
    json_t *records = json_object_get(dir, "records");
    size_t n = json_array_size(records), m = n ? n : 1;
    result *r = calloc(m, sizeof *r);
    shown sh = {calloc(m, sizeof(char *)), calloc(m, sizeof(char *)), calloc(m, sizeof(char *)),
                calloc(m, sizeof(int)), 0};
    json_t *results = json_array(), *unavailable = json_array(), *excluded = json_object();
    json_t *excluded_list = json_array();
    int rc = -1, reused = 0;
    char prompt[65];
    json_t *decisions = NULL;
    if (!r || !sh.keys || !sh.insts || !sh.sources || !sh.criticals)
        goto done;
    size_t k = entries_filter(req->app, q, records, r, excluded, excluded_list);
    results_build(rec, r, k, results, unavailable, excluded, excluded_list, &sh);
    if (prompt_record(req, q, prompt, &reused, &sh) < 0 ||
        decisions_attach(req->app, prompt, results, &decisions) < 0) {
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:b, s:s, s:O, s:O, s:O, s:O}", "patient", q->patient,
                          "item", item_json(q->item), "prompt_id", prompt, "repeated", reused, "at",
                          q->at, "results", results, "decisions", decisions, "unavailable",
                          unavailable, "excluded", excluded);
    if (o)
        json_object_set_new(o, "excluded_results", json_incref(excluded_list));
    if (o)
        savings_add(rec, o, q->item->code, decisions);
    if (o && q->province) { /* the province's catalogue decides */
        json_t *it = json_object_get(o, "item");
        json_object_set_new(it, "validity_days", json_integer(q->pitem.window_days));
        json_object_set_new(it, "hr_scope", json_string(q->pitem.scope));
        json_object_set_new(it, "group", json_string(q->pitem.group));
    }
    if (o && q->province)
        json_object_set_new(o, "reference_version",
                            json_integer(ref_table_version(rec_reference(rec, REF_CATALOGUE))));
    if (o && q->order && *q->order)
        json_object_set_new(o, "order", json_string(q->order));
    if (o && q->visit && *q->visit)
        json_object_set_new(o, "visit", json_string(q->visit));
    snprintf(res->audit_object, sizeof res->audit_object,
             "recognition %s: %zu results shown, %zu peers unavailable, prompt %s", q->item->code,
             sh.n, json_array_size(unavailable), prompt);
    node *self = req->app;
    atomic_fetch_add(&self->metrics.rec_prompts, 1);
    atomic_fetch_add(&self->metrics.rec_results_shown, sh.n);
    rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
done:
    json_decref(results);
    json_decref(decisions);
    json_decref(unavailable);
    json_decref(excluded);
    json_decref(excluded_list);
    json_decref(dir);
    free(r);
    free(sh.keys);
    free(sh.insts);
    free(sh.sources);
    free(sh.criticals);
    return rc;
}

int api_recognition_query(http_request *req, http_response *res)
{
    node *n = req->app;
    recognition *rec = n->recognition;
    query q = {0};
    if (!rec)
        return http_reply_error(res, 503,
                                "recognition is not configured ([directory] url, "
                                "region_key, institution and catalogue)");
    if (query_parse(req, res, rec, &q) < 0 || rec_consent_require(n, &q.pt, res) < 0 ||
        rec_patient_pseudonym(rec, &q.pt, res) < 0) {
        memset(q.pt.nid, 0, sizeof q.pt.nid);
        return 0;
    }
    int rc = query_answer(req, res, rec, &q);
    memset(q.pt.nid, 0, sizeof q.pt.nid);
    return rc;
}
