/* directory_api.c: the regional directory's HTTP API (role directory).
 * POST /api/v1/directory/entries (peers): a batch of entries published by the caller's
 * institution, which comes from its certificate's [client] section, never from the body;
 * GET /api/v1/directory/records (peers, clinicians): one pseudonym's entries, newest first.
 * Entries carry pseudonyms only: a field the contract does not list (a name, an id) is refused. */
#define LOG_COMPONENT "directory"
#include "directory_api.h"
#include "audit_trail.h"
#include "http/auth.h"
#include "log.h"
#include "store.h"
#include "index/index_directory.h"
#include "audit/huren_audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFUSALS_AUDITED 20 /* per batch; the rest are summed up in one more entry */

/* The fields an entry may carry: anything else (patient_name, patient_id, ...) is refused. */
static const char *const entry_fields[] = {
    "pseudonym",      "institution",  "record_key", "version",    "kind",        "item_code",
    "item_name",      "modality",     "body_part",  "date",       "hr",          "hr_scope",
    "qualified_from", "qualified_to", "source_url", "deleted",    "status",      "revision",
    "images",         "report",       "report_key", "pixel_root", "pixel_count", NULL};

static int field_known(const char *k)
{
    for (int i = 0; entry_fields[i]; i++)
        if (!strcmp(entry_fields[i], k))
            return 1;
    return 0;
}

/* A string member, NULL when absent or null; *bad set when present with another type. */
static const char *str_member(json_t *o, const char *k, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = k;
        return NULL;
    }
    return json_string_value(v);
}

static int bool_member(json_t *o, const char *k, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        *bad = k;
        return 0;
    }
    return json_is_true(v);
}

/* Map one JSON entry; returns NULL when it can go to the index, else why not (into why). */
static const char *entry_map(json_t *o, const char *institution, huren_index_dir_entry *e,
                             char *why, size_t whylen)
{
    const char *bad = NULL, *k;
    json_t *v;
    memset(e, 0, sizeof *e);
    if (!json_is_object(o))
        return "not a JSON object";
    json_object_foreach(o, k, v)
    {
        if (!field_known(k)) {
            snprintf(why, whylen,
                     "unknown field \"%.40s\" (entries carry pseudonyms only: no "
                     "names or identifiers)",
                     k);
            return why;
        }
    }
    e->pseudonym = str_member(o, "pseudonym", &bad);
    e->record_key = str_member(o, "record_key", &bad);
    e->kind = str_member(o, "kind", &bad);
    e->item_code = str_member(o, "item_code", &bad);
    e->item_name = str_member(o, "item_name", &bad);
    e->modality = str_member(o, "modality", &bad);
    e->body_part = str_member(o, "body_part", &bad);
    e->date = str_member(o, "date", &bad);
    e->hr_scope = str_member(o, "hr_scope", &bad);
    e->qualified_from = str_member(o, "qualified_from", &bad);
    e->qualified_to = str_member(o, "qualified_to", &bad);
    e->source_url = str_member(o, "source_url", &bad);
    e->hr = bool_member(o, "hr", &bad);
    e->deleted = bool_member(o, "deleted", &bad);
    e->status = str_member(o, "status", &bad);
    e->report_key = str_member(o, "report_key", &bad);
    e->pixel_root = str_member(o, "pixel_root", &bad);
    json_t *pc = json_object_get(o, "pixel_count");
    if (pc && !json_is_null(pc) && !json_is_integer(pc))
        bad = "pixel_count";
    else if (pc)
        e->pixel_count = (int64_t)json_integer_value(pc);
    /* absent: as the record key says (a gateway from before schema 10) */
    if (json_object_get(o, "images") && !json_is_null(json_object_get(o, "images")))
        e->images = bool_member(o, "images", &bad) ? 1 : -1;
    if (json_object_get(o, "report") && !json_is_null(json_object_get(o, "report")))
        e->report = bool_member(o, "report", &bad) ? 1 : -1;
    json_t *rev = json_object_get(o, "revision");
    if (rev && !json_is_null(rev) && !json_is_integer(rev))
        bad = "revision";
    else if (rev)
        e->revision = json_integer_value(rev);
    const char *inst = str_member(o, "institution", &bad);
    v = json_object_get(o, "version");
    if (!json_is_integer(v))
        bad = bad ? bad : "version";
    else
        e->version = json_integer_value(v);
    if (bad) {
        snprintf(why, whylen, "%s: wrong type", bad);
        return why;
    }
    if (inst && strcmp(inst, institution) != 0) {
        snprintf(why, whylen, "institution: %.64s is not the caller's institution (%.64s)", inst,
                 institution);
        return why;
    }
    e->institution = institution;
    return NULL;
}

static const char *outcome_name(huren_index_dir_outcome o)
{
    switch (o) {
    case HUREN_INDEX_DIR_STORED:
        return "stored";
    case HUREN_INDEX_DIR_REPLACED:
        return "replaced";
    case HUREN_INDEX_DIR_IGNORED:
        return "ignored";
    default:
        return "refused";
    }
}

/* One audit entry per refused entry (up to REFUSALS_AUDITED), then one for the rest. */
static void audit_refusals(node *n, const http_request *req, json_t *results, size_t nrefused)
{
    size_t done = 0, i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "status")), "refused") != 0)
            continue;
        if (done == REFUSALS_AUDITED)
            break;
        char object[256];
        const char *key = json_string_value(json_object_get(r, "record_key"));
        snprintf(object, sizeof object, "entry %zu %.60s: %.160s", i + 1, key ? key : "-",
                 json_string_value(json_object_get(r, "reason")));
        huren_audit_entry e = {.actor = req->actor,
                               .role = auth_role_name(req->roles),
                               .institution = req->institution,
                               .action = "directory.publish",
                               .object = object,
                               .outcome = "refused",
                               .status = 200,
                               .remote = req->remote};
        audit_record(n, &e);
        done++;
    }
    if (nrefused > done) {
        char object[128];
        snprintf(object, sizeof object, "%zu more entries refused in this batch", nrefused - done);
        huren_audit_entry e = {.actor = req->actor,
                               .role = auth_role_name(req->roles),
                               .institution = req->institution,
                               .action = "directory.publish",
                               .object = object,
                               .outcome = "refused",
                               .status = 200,
                               .remote = req->remote};
        audit_record(n, &e);
    }
}

/* The parsed batch's "entries" array, or NULL with the answer set. */
static json_t *batch_parse(node *n, http_request *req, http_response *res, json_t **root)
{
    json_error_t je;
    *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    char msg[300];
    if (!*root) {
        snprintf(msg, sizeof msg, "malformed JSON: line %d column %d: %s", je.line, je.column,
                 je.text);
        http_reply_error(res, 400, msg);
        return NULL;
    }
    json_t *entries = json_object_get(*root, "entries");
    if (!json_is_array(entries) || json_array_size(entries) == 0) {
        http_reply_error(res, 400, "the body must be {\"entries\": [ ... ]} with 1 or more");
        return NULL;
    }
    size_t max = (size_t)n->cfg->dir_max_batch;
    if (max > HUREN_INDEX_DIR_BATCH_MAX)
        max = HUREN_INDEX_DIR_BATCH_MAX;
    if (json_array_size(entries) > max) {
        snprintf(msg, sizeof msg, "a batch holds at most %zu entries, this one %zu", max,
                 json_array_size(entries));
        http_reply_error(res, 413, msg);
        return NULL;
    }
    return entries;
}

static void count(node *n, huren_index_dir_outcome o)
{
    metrics *m = &n->metrics;
    atomic_fetch_add(o == HUREN_INDEX_DIR_STORED     ? &m->dir_stored
                     : o == HUREN_INDEX_DIR_REPLACED ? &m->dir_replaced
                     : o == HUREN_INDEX_DIR_IGNORED  ? &m->dir_ignored
                                                     : &m->dir_refused,
                     1);
}

/* The store failed (a lost connection, a statement timeout, a primary gone): the client tries
 * again in a second (a hospital's publisher backs off by itself; its outbox keeps the entries). */
static int reply_unavailable(http_response *res, const char *message)
{
    http_response_header(res, "Retry-After", "1");
    return http_reply_error(res, 503, message);
}

/* Store the mapped entries, then answer one result per entry, in order. */
static int batch_store(node *n, http_request *req, http_response *res, json_t *entries)
{
    size_t total = json_array_size(entries), nvalid = 0, tally[4] = {0};
    huren_index_dir_entry *e = calloc(total, sizeof *e);
    huren_index_dir_result *r = calloc(total, sizeof *r);
    char(*why)[200] = calloc(total, sizeof *why);
    size_t *slot = calloc(total, sizeof *slot); /* entry i -> its place in e[], or SIZE_MAX */
    json_t *results = json_array();
    int rc = -1;
    if (!e || !r || !why || !slot || !results)
        goto done;
    for (size_t i = 0; i < total; i++) {
        const char *bad = entry_map(json_array_get(entries, i), req->institution, &e[nvalid],
                                    why[i], sizeof why[i]);
        if (bad && bad != why[i])
            snprintf(why[i], sizeof why[i], "%s", bad);
        slot[i] = bad ? SIZE_MAX : nvalid++;
    }
    char serr[HUREN_INDEX_DIR_REASON_MAX * 2];
    if (directory_store_put(n->dir_store, e, nvalid, r, serr, sizeof serr) < 0) {
        log_error("directory: storing %zu entries from %s: %s", nvalid, req->institution, serr);
        rc = reply_unavailable(res, "the directory cannot store entries now");
        goto done;
    }
    for (size_t i = 0; i < total; i++) {
        json_t *o = json_array_get(entries, i);
        huren_index_dir_outcome out =
            slot[i] == SIZE_MAX ? HUREN_INDEX_DIR_REFUSED : r[slot[i]].outcome;
        const char *reason = slot[i] == SIZE_MAX ? why[i] : r[slot[i]].reason;
        json_t *a = json_object();
        json_t *key = json_is_object(o) ? json_object_get(o, "record_key") : NULL;
        json_t *ver = json_is_object(o) ? json_object_get(o, "version") : NULL;
        json_object_set(a, "record_key", json_is_string(key) ? key : json_null());
        json_object_set(a, "version", json_is_integer(ver) ? ver : json_null());
        json_object_set_new(a, "status", json_string(outcome_name(out)));
        if (out == HUREN_INDEX_DIR_REFUSED)
            json_object_set_new(a, "reason", json_string(reason));
        if (out == HUREN_INDEX_DIR_IGNORED)
            json_object_set_new(a, "held_version", json_integer(r[slot[i]].held_version));
        json_array_append_new(results, a);
        tally[out]++;
        count(n, out);
    }
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:O}", "institution", req->institution,
                          "received", (json_int_t)total, "stored", (json_int_t)tally[0], "replaced",
                          (json_int_t)tally[1], "ignored", (json_int_t)tally[2], "refused",
                          (json_int_t)tally[3], "results", results);
    snprintf(res->audit_object, sizeof res->audit_object,
             "%zu entries: %zu stored, %zu replaced, %zu ignored, %zu refused", total, tally[0],
             tally[1], tally[2], tally[3]);
    if (tally[3])
        audit_refusals(n, req, results, tally[3]);
    rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
done:
    json_decref(results);
    free(e);
    free(r);
    free(why);
    free(slot);
    return rc;
}

int api_directory_publish(http_request *req, http_response *res)
{
    node *n = req->app;
    json_t *root = NULL;
    if (!req->institution || !*req->institution) {
        atomic_fetch_add(&n->metrics.dir_batches_refused, 1);
        return http_reply_error(res, 403,
                                "publishing needs a client certificate (or token) "
                                "whose [client] section names an institution");
    }
    json_t *entries = batch_parse(n, req, res, &root);
    int rc = 0;
    if (entries)
        rc = batch_store(n, req, res, entries);
    else
        atomic_fetch_add(&n->metrics.dir_batches_refused, 1);
    if (res->status >= 400 && !res->audit_object[0])
        snprintf(res->audit_object, sizeof res->audit_object, "batch refused (HTTP %d)",
                 res->status);
    json_decref(root);
    return rc;
}

/* ---- lookups ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v && *v ? json_string(v) : json_null());
}

static json_t *entry_json(const huren_index_dir_entry *e)
{
    json_t *o = json_object();
    set_str(o, "institution", e->institution);
    set_str(o, "record_key", e->record_key);
    json_object_set_new(o, "version", json_integer(e->version));
    set_str(o, "kind", e->kind);
    set_str(o, "item_code", e->item_code);
    set_str(o, "item_name", e->item_name);
    set_str(o, "modality", e->modality);
    set_str(o, "body_part", e->body_part);
    set_str(o, "date", e->date);
    json_object_set_new(o, "hr", json_boolean(e->hr));
    set_str(o, "hr_scope", e->hr_scope);
    set_str(o, "qualified_from", e->qualified_from);
    set_str(o, "qualified_to", e->qualified_to);
    set_str(o, "source_url", e->source_url);
    set_str(o, "status", e->status);
    if (e->revision)
        json_object_set_new(o, "revision", json_integer(e->revision));
    if (e->deleted)
        json_object_set_new(o, "deleted", json_true());
    json_object_set_new(o, "images", json_boolean(e->images > 0));
    json_object_set_new(o, "report", json_boolean(e->report > 0));
    set_str(o, "report_key", e->report_key);
    if (e->pixel_root && *e->pixel_root) {
        set_str(o, "pixel_root", e->pixel_root);
        json_object_set_new(o, "pixel_count", json_integer((json_int_t)e->pixel_count));
    }
    set_str(o, "received_at", e->received_at);
    return o;
}

int api_directory_records(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *pseudonym = http_request_arg(req, "pseudonym");
    const char *limit = http_request_arg(req, "limit");
    huren_index_dir_filter f = {.kind = http_request_arg(req, "kind"),
                                .item_code = http_request_arg(req, "item"),
                                .since = http_request_arg(req, "since")};
    huren_index_dir_list l;
    atomic_fetch_add(&n->metrics.dir_lookups, 1);
    if (pseudonym)
        snprintf(res->audit_patient, sizeof res->audit_patient, "%.64s", pseudonym);
    if (!pseudonym || !huren_index_pseudonym_valid(pseudonym))
        return http_reply_error(res, 400, "pseudonym: 64 lowercase hex characters required");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || end == limit || v < 1 || v > HUREN_INDEX_DIR_FIND_MAX)
            return http_reply_error(res, 400, "limit: a number from 1 to 1000");
        f.limit = (size_t)v;
    }
    const char *del = http_request_arg(req, "include_deleted");
    f.include_deleted = del && (!strcmp(del, "1") || !strcmp(del, "true"));
    char serr[HUREN_INDEX_DIR_REASON_MAX * 2];
    int rc = directory_store_find(n->dir_store, pseudonym, &f, &l, serr, sizeof serr);
    if (rc == DIRECTORY_STORE_EINVAL)
        return http_reply_error(res, 400, serr);
    if (rc < 0) {
        log_error("directory lookup: %s", serr);
        return reply_unavailable(res, "the directory cannot answer now");
    }
    json_t *records = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(records, entry_json(&l.items[i]));
    json_t *o = json_pack("{s:s, s:I, s:b, s:o}", "pseudonym", pseudonym, "count", (json_int_t)l.n,
                          "truncated", l.truncated, "records", records);
    snprintf(res->audit_object, sizeof res->audit_object, "directory records: %zu", l.n);
    directory_store_list_free(n->dir_store, &l);
    rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}

char *directory_api_metrics(node *n)
{
    metrics *m = &n->metrics;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f,
            "# HELP huren_directory_entries_total Directory entries received, by outcome.\n"
            "# TYPE huren_directory_entries_total counter\n"
            "huren_directory_entries_total{outcome=\"stored\"} %llu\n"
            "huren_directory_entries_total{outcome=\"replaced\"} %llu\n"
            "huren_directory_entries_total{outcome=\"ignored\"} %llu\n"
            "huren_directory_entries_total{outcome=\"refused\"} %llu\n"
            "# HELP huren_directory_batches_refused_total Whole batches refused.\n"
            "# TYPE huren_directory_batches_refused_total counter\n"
            "huren_directory_batches_refused_total %llu\n"
            "# HELP huren_directory_lookups_total Directory lookups answered.\n"
            "# TYPE huren_directory_lookups_total counter\n"
            "huren_directory_lookups_total %llu\n",
            (unsigned long long)atomic_load(&m->dir_stored),
            (unsigned long long)atomic_load(&m->dir_replaced),
            (unsigned long long)atomic_load(&m->dir_ignored),
            (unsigned long long)atomic_load(&m->dir_refused),
            (unsigned long long)atomic_load(&m->dir_batches_refused),
            (unsigned long long)atomic_load(&m->dir_lookups));
    directory_store_metrics_write(n->dir_store, f);
    fclose(f);
    return out;
}
