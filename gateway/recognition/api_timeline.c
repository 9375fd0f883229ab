/* api_timeline.c: GET /api/v1/patients/{id}/timeline?scope=region: the patient's results at
 * every hospital of the region, from the directory, with the patient's recognition consent as
 * the prompt requires. Each result is marked local, other (another hospital's) or copy (another
 * hospital's study retrieved here), newest first, and grouped by item. The answer is recorded
 * as a timeline listing (index/recognition.c, not counted as a prompt) whose id the page gives
 * to POST /api/v1/retrievals to open another hospital's result, as the prompt does. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "recognition.h"
#include "recognition_int.h"
#include "rules.h"
#include "index/index_recognition.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTING_ITEM "*" /* the item code of a timeline listing: no catalogue code */

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int on_row(void *payload, const huren_index_row *row)
{
    (void)row;
    *(int *)payload = 1;
    return 1;
}

/* Does this node hold the study? */
static int study_held(node *n, const char *uid)
{
    huren_index_match m = {HUREN_INDEX_F_STUDY_UID, uid};
    huren_index_query q = {
        .level = HUREN_INDEX_LEVEL_STUDY, .matches = &m, .nmatches = 1, .limit = 1};
    int held = 0;
    huren_index_find(n->index, &q, on_row, &held);
    return held;
}

/* Where the result is, for the doctor: "local" (this hospital's), "other" (another
 * hospital's), or "copy" (another hospital's study, retrieved and held here). The one place
 * that decides it: the index's mark of retrieved copies (branch identity-a) goes here. */
static const char *result_origin(node *n, json_t *e)
{
    const char *key = jstr(e, "record_key");
    if (!strcmp(jstr(e, "institution"), n->cfg->dir_institution))
        return "local";
    if (!strncmp(key, "study:", 6) && study_held(n, key + 6))
        return "copy";
    return "other";
}

/* Is e our own entry for a study another institution also lists? Then ours is a copy we
 * retrieved (and published before copies were kept out of the directory): theirs is shown. */
static int own_copy(node *n, json_t *records, json_t *e)
{
    const char *key = jstr(e, "record_key");
    size_t i;
    json_t *o;
    if (strcmp(jstr(e, "institution"), n->cfg->dir_institution) || strncmp(key, "study:", 6))
        return 0;
    json_array_foreach(records, i, o)
    {
        if (o != e && !strcmp(jstr(o, "record_key"), key) &&
            strcmp(jstr(o, "institution"), n->cfg->dir_institution))
            return 1;
    }
    return 0;
}

/* How the page opens a result: here (the local viewer), or fetched from its holder through
 * POST /api/v1/retrievals with the listing's id and the result key. */
static json_t *open_of(json_t *e, const char *origin)
{
    const char *key = jstr(e, "record_key"), *src = jstr(e, "source_url");
    int study = !strncmp(key, "study:", 6);
    const char *id = key + (study ? 6 : 7);
    const char *rk = jstr(e, "report_key");
    char page[600];
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(study ? "study" : "report"));
    json_object_set_new(o, study ? "study_uid" : "report_id", json_string(id));
    if (strcmp(origin, "other") != 0) { /* held here */
        snprintf(page, sizeof page, study ? "/ui/study?study=%s" : "/ui/report?id=%s", id);
        json_object_set_new(o, "page", json_string(page));
    } else {
        json_object_set_new(o, "retrieve", json_true());
        json_object_set_new(o, "source", json_string(src));
    }
    if (study && !strncmp(rk, "report:", 7) && !strcmp(origin, "local")) {
        snprintf(page, sizeof page, "/ui/report?id=%s", rk + 7);
        json_object_set_new(o, "report_page", json_string(page));
    }
    return o;
}

static json_t *result_json(node *n, json_t *e)
{
    const char *origin = result_origin(n, e);
    char key[400];
    snprintf(key, sizeof key, "%s/%s", jstr(e, "institution"), jstr(e, "record_key"));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "result_key", key, "origin", origin,
                          "institution", jstr(e, "institution"), "kind", jstr(e, "kind"));
    static const char *const copy[] = {"item_code", "item_name", "date",   "modality",
                                       "body_part", "hr_scope",  "status", NULL};
    for (int i = 0; copy[i]; i++)
        if (*jstr(e, copy[i]))
            json_object_set_new(o, copy[i], json_string(jstr(e, copy[i])));
    json_object_set_new(o, "hr", json_boolean(json_is_true(json_object_get(e, "hr"))));
    rec_exam_parts(o, e);
    json_object_set_new(o, "open", open_of(e, origin));
    return o;
}

/* The group of an item (its catalogue code, else its name, else its kind: uncatalogued results
 * of that kind, item_name ""): found or added at the end, so that groups come in the order of
 * their newest result. */
static json_t *group_for(json_t *groups, json_t *r)
{
    const char *code = jstr(r, "item_code"), *name = jstr(r, "item_name");
    const char *key = *code ? code : *name ? name : jstr(r, "kind");
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        if (!strcmp(jstr(g, "key"), key))
            return json_object_get(g, "results");
    }
    g = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "key", key, "item_code", code, "item_name", name,
                  "kind", jstr(r, "kind"), "results");
    json_array_append_new(groups, g);
    return json_object_get(g, "results");
}

/* Record the listing (today's for this patient, reused) with the other hospitals' results,
 * so that a retrieval may name them; id gets its id. */
static int listing_record(http_request *req, const rec_patient *pt, json_t *results, char id[65])
{
    node *n = req->app;
    size_t m = json_array_size(results), k = 0, i;
    const char **keys = calloc(m ? m : 1, sizeof *keys);
    const char **insts = calloc(m ? m : 1, sizeof *insts);
    const char **srcs = calloc(m ? m : 1, sizeof *srcs);
    char day[9], fresh[33], key[65];
    int rc = -1, reused;
    json_t *r;
    rec_today(day);
    if (rec_random_id(fresh) < 0)
        goto done;
    if (!keys || !insts || !srcs ||
        rec_prompt_key(pt->pseudonym, LISTING_ITEM, NULL, NULL, day, key) < 0)
        goto done;
    json_array_foreach(results, i, r)
    {
        json_t *open = json_object_get(r, "open");
        if (!json_is_true(json_object_get(open, "retrieve")) || k == HUREN_INDEX_REC_MAX_SHOWN)
            continue;
        keys[k] = jstr(r, "result_key");
        insts[k] = jstr(r, "institution");
        srcs[k++] = jstr(open, "source");
    }
    huren_index_rec_prompt p = {.prompt_id = fresh,
                                .prompt_key = key,
                                .listing = 1,
                                .day = day,
                                .pseudonym = pt->pseudonym,
                                .item_code = LISTING_ITEM,
                                .actor = req->actor,
                                .result_keys = keys,
                                .institutions = insts,
                                .sources = srcs,
                                .nresults = k};
    rc = huren_index_rec_prompt_open(n->index, &p, id, &reused);
    if (rc < 0)
        log_warnx("recording a timeline listing: %s", huren_index_errmsg(n->index));
done:
    free(keys);
    free(insts);
    free(srcs);
    return rc;
}

static int timeline_answer(http_request *req, http_response *res, const char *patient,
                           const rec_patient *pt, json_t *dir)
{
    node *n = req->app;
    json_t *records = json_object_get(dir, "records");
    json_t *results = json_array(), *groups = json_array();
    size_t i;
    json_t *e;
    int counts[3] = {0, 0, 0}, rc;
    char listing[65];
    json_array_foreach(records, i, e)
    {
        if (json_is_true(json_object_get(e, "deleted")) || rec_entry_folded(records, e) ||
            own_copy(n, records, e) || !*jstr(e, "record_key"))
            continue;
        json_t *r = result_json(n, e);
        const char *origin = jstr(r, "origin");
        counts[!strcmp(origin, "local") ? 0 : !strcmp(origin, "copy") ? 2 : 1]++;
        json_array_append(group_for(groups, r), r);
        json_array_append_new(results, r);
    }
    if (listing_record(req, pt, results, listing) < 0) {
        rc = http_reply_error(res, 503, "archive unavailable");
        goto done;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:O, s:{s:i, s:i, s:i}, s:b}", "patient", patient,
                          "scope", "region", "listing_id", listing, "results", results, "groups",
                          groups, "counts", "local", counts[0], "other", counts[1], "copy",
                          counts[2], "truncated", json_is_true(json_object_get(dir, "truncated")));
    snprintf(res->audit_object, sizeof res->audit_object,
             "timeline: %zu results (%d local, %d other hospitals, %d copies), listing %s",
             json_array_size(results), counts[0], counts[1], counts[2], listing);
    rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
done:
    json_decref(results);
    json_decref(groups);
    return rc;
}

int api_patient_timeline(http_request *req, http_response *res)
{
    node *n = req->app;
    recognition *rec = n->recognition;
    const char *patient = req->ncaptures ? req->captures[0] : NULL;
    const char *scope = http_request_arg(req, "scope");
    rec_patient pt;
    if (!rec)
        return http_reply_error(res, 503,
                                "the region timeline needs recognition configured ([directory] "
                                "url, region_key, institution and catalogue)");
    if (scope && *scope && strcmp(scope, "region") != 0)
        return http_reply_error(res, 400, "scope: region (the local timeline is the page's)");
    if (!patient || !*patient || strlen(patient) > 64)
        return http_reply_error(res, 400, "patient: 1 to 64 characters");
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", patient);
    if (rec_patient_resolve(n, patient, &pt, res) < 0 || rec_consent_require(n, &pt, res) < 0 ||
        rec_patient_pseudonym(rec, &pt, res) < 0) {
        memset(pt.nid, 0, sizeof pt.nid);
        return 0;
    }
    memset(pt.nid, 0, sizeof pt.nid); /* not needed any more */
    json_t *dir = rec_directory_lookup(rec, pt.pseudonym, NULL, NULL, NULL, res);
    if (!dir)
        return 0;
    int rc = timeline_answer(req, res, patient, &pt, dir);
    json_decref(dir);
    return rc;
}
