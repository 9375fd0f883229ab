/* publisher.c: what a hospital tells the regional directory, and its lifecycle. The publish
 * hook turns a stored study or report into an entry: the patient's pseudonym (from the
 * national id, see below), the catalogue item, date, modality, body part and HR mark, and
 * whether the exam has images and a report (a study and its exam report are one entry);
 * never a name, id, accession number or free text. The sender (sender.c) drains the outbox. */
#define LOG_COMPONENT "directory"
#include "publisher.h"
#include "identity.h"
#include "log.h"
#include "publisher_int.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- which national id a record is published under ---- */

/* IssuerOfPatientID values saying that PatientID is the national resident id itself. */
static int issuer_national(const char *issuer)
{
    static const char *const names[] = {"NNCHN", "CN-ID", "CHN-ID", "RESIDENT-ID", NULL};
    for (int i = 0; issuer && names[i]; i++)
        if (!strcmp(issuer, names[i]))
            return 1;
    return 0;
}

static int normalise(const char *v, size_t len, char out[IDENTITY_ID_LEN + 1], identity_type *type)
{
    char buf[80], err[128];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, v, len);
    buf[len] = 0;
    return identity_normalise(buf, out, type, err, sizeof err);
}

/* A study's national id, in this order: PatientID when IssuerOfPatientID names the national
 * id; the first value of OtherPatientIDs that is a valid resident id; the national id the HL7
 * records hold for PatientID as a local id. Returns 0 or -1 (none: not publishable). */
static int study_national_id(const huren_index_publish_event *ev, char out[IDENTITY_ID_LEN + 1],
                             identity_type *type)
{
    const huren_index_publish_study *s = ev->study;
    if (s->patient_id && issuer_national(s->issuer_of_patient_id) &&
        normalise(s->patient_id, strlen(s->patient_id), out, type) == 0)
        return 0;
    for (const char *p = s->other_patient_ids; p && *p;) {
        const char *bs = strchr(p, '\\');
        size_t len = bs ? (size_t)(bs - p) : strlen(p);
        if (normalise(p, len, out, type) == 0)
            return 0;
        p = bs ? bs + 1 : NULL;
    }
    if (ev->national_id && normalise(ev->national_id, strlen(ev->national_id), out, type) == 0)
        return 0;
    return -1;
}

/* ---- the entry ---- */

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

/* The first 8 digits of a DICOM/HL7 time stamp, or NULL. */
static const char *day(const char *ts, char out[9])
{
    if (!ts || strlen(ts) < 8)
        return NULL;
    for (int i = 0; i < 8; i++)
        if (ts[i] < '0' || ts[i] > '9')
            return NULL;
    memcpy(out, ts, 8);
    out[8] = 0;
    return out;
}

/* The HR mark: the item is an HR item, this institution is qualified on the record's date,
 * and the scope is the narrower of the item's and the institution's. */
static void hr_mark(const publisher *p, json_t *o, const catalogue_item *item, const char *date)
{
    const config *c = p->cfg;
    int item_rank = item ? catalogue_scope_rank(item->hr_scope) : 0;
    int inst_rank =
        catalogue_scope_rank(config_choice_name("directory", "hr_scope", (int)c->dir_hr_scope));
    set_str(o, "qualified_from", c->dir_qualified_from);
    set_str(o, "qualified_to", c->dir_qualified_to);
    int qualified = item_rank && inst_rank && date &&
                    (!*c->dir_qualified_from || strcmp(date, c->dir_qualified_from) >= 0) &&
                    (!*c->dir_qualified_to || strcmp(date, c->dir_qualified_to) <= 0);
    json_object_set_new(o, "hr", json_boolean(qualified));
    if (qualified)
        set_str(o, "hr_scope",
                item_rank < inst_rank
                    ? item->hr_scope
                    : config_choice_name("directory", "hr_scope", (int)c->dir_hr_scope));
}

/* Cancelled results (HL7 table 0123 X, D, W) are withdrawn from the directory. */
static int cancelled(const huren_index_report *r)
{
    const char *s = r->result_status;
    return s && (s[0] == 'X' || s[0] == 'D' || s[0] == 'W');
}

static const char *report_status(const char *s);

/* One exam, one entry: the study's entry says it has images and, when its exam report
 * (linked by the index) is there and not cancelled, a report too, with that report's key
 * (where peers read it), status and version (a correction is news). */
static void exam_parts(json_t *o, const huren_index_publish_event *ev)
{
    const huren_index_report *r = ev->report;
    int report = r && ev->report_key && !cancelled(r);
    json_object_set_new(o, "images", json_true());
    json_object_set_new(o, "report", json_boolean(report));
    /* provenance: the study's pixel root (no patient data; the same film under another
     * pseudonym is what the directory flags) */
    if (ev->study && ev->study->pixel_root && ev->study->pixel_root[0]) {
        set_str(o, "pixel_root", ev->study->pixel_root);
        json_object_set_new(o, "pixel_count", json_integer((json_int_t)ev->study->pixel_count));
    }
    if (!report)
        return;
    set_str(o, "report_key", ev->report_key);
    set_str(o, "status", report_status(r->result_status));
    json_object_set_new(o, "revision", json_integer(r->version));
}

static json_t *study_entry(publisher *p, const huren_index_publish_event *ev)
{
    const huren_index_publish_study *s = ev->study;
    const catalogue_item *item =
        catalogue_by_local_code(p->cat, p->cfg->dir_institution, "imaging", s->study_description);
    if (!item && ev->report)
        item = catalogue_by_local_code(p->cat, p->cfg->dir_institution, "imaging",
                                       ev->report->item_code);
    if (!item)
        item = catalogue_by_exam(p->cat, s->modalities, s->body_parts);
    char d[9];
    const char *date = day(s->study_date, d);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string("imaging"));
    if (item) {
        set_str(o, "item_code", item->code);
        set_str(o, "item_name", item->name);
    } else {
        atomic_fetch_add(&p->uncatalogued, 1);
    }
    set_str(o, "modality", s->modalities);
    set_str(o, "body_part", s->body_parts);
    set_str(o, "date", date);
    hr_mark(p, o, item, date);
    set_str(o, "source_url", p->cfg->dir_source_url);
    exam_parts(o, ev);
    return o;
}

/* HL7 result status (table 0123) as the directory states it. */
static const char *report_status(const char *s)
{
    if (!s || !*s || s[0] == 'F')
        return "final";
    if (s[0] == 'C' || s[0] == 'A')
        return "corrected";
    return "preliminary";
}

static json_t *report_entry(publisher *p, const huren_index_report *r)
{
    int exam = r->kind == HUREN_INDEX_REPORT_EXAM;
    const char *kind = exam ? "imaging" : "lab";
    const catalogue_item *item =
        catalogue_by_local_code(p->cat, p->cfg->dir_institution, kind, r->item_code);
    char d[9];
    const char *date = day(r->observed_time, d);
    if (!date)
        date = day(r->reported_time, d);
    if (!date)
        date = day(r->stored_at, d);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kind));
    if (item) {
        set_str(o, "item_code", item->code);
        set_str(o, "item_name", item->name);
        if (exam) {
            set_str(o, "modality", item->modality);
            set_str(o, "body_part", item->body_part);
        }
    } else {
        set_str(o, "item_name", r->item_name); /* the local test name: not personal data */
        atomic_fetch_add(&p->uncatalogued, 1);
    }
    set_str(o, "date", date);
    set_str(o, "status", report_status(r->result_status));
    json_object_set_new(o, "revision", json_integer(r->version)); /* a correction is news */
    hr_mark(p, o, item, date);
    set_str(o, "source_url", p->cfg->dir_source_url);
    json_object_set_new(o, "images", json_false()); /* its study is not held here (yet) */
    json_object_set_new(o, "report", json_true());
    return o;
}

int publisher_describe(const huren_index_publish_event *ev, char pseudonym[65], char **entry,
                       void *payload)
{
    publisher *p = payload;
    char nid[IDENTITY_ID_LEN + 1];
    identity_type type = IDENTITY_RESIDENT;
    json_t *o = NULL;
    pseudonym[0] = 0;
    *entry = NULL;
    if (ev->kind == HUREN_INDEX_PUBLISH_STUDY) {
        /* a study retrieved from another hospital is that hospital's result, which the
         * directory lists already: never published as ours (one held before is withdrawn) */
        if (ev->study->copy_of)
            return 0;
        if (study_national_id(ev, nid, &type) < 0)
            return 0; /* not publishable: counted by the index */
        o = study_entry(p, ev);
    } else {
        if (cancelled(ev->report) || !ev->national_id ||
            normalise(ev->national_id, strlen(ev->national_id), nid, &type) < 0)
            return 0;
        o = report_entry(p, ev->report);
    }
    if (!o)
        return -1;
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text || identity_pseudonym(p->key, p->keylen, type, nid, pseudonym) < 0) {
        free(text);
        pseudonym[0] = 0;
        memset(nid, 0, sizeof nid);
        return -1;
    }
    memset(nid, 0, sizeof nid);
    *entry = text;
    return 0;
}

/* ---- lifecycle ---- */

publisher *publisher_new_detached(const config *cfg, huren_index *idx, catalogue *cat,
                                  const unsigned char *key, size_t keylen)
{
    publisher *p = calloc(1, sizeof *p);
    if (!p || keylen > sizeof p->key) {
        free(p);
        return NULL;
    }
    p->cfg = cfg;
    p->index = idx;
    p->cat = cat;
    memcpy(p->key, key, keylen);
    p->keylen = keylen;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
}

void publisher_free_detached(publisher *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    memset(p->key, 0, sizeof p->key);
    free(p);
}

static int attach(node *n, int with_sender, char *err, size_t errlen)
{
    const config *c = n->cfg;
    unsigned char key[CONFIG_REGION_KEY_MAX];
    catalogue *cat = NULL;
    n->publisher = NULL;
    if (!c->dir_publish || c->role != CONFIG_ROLE_HOSPITAL)
        return 0;
    int keylen = config_region_key(c, key, err, errlen);
    if (keylen < 0)
        return -1;
    if (*c->dir_catalogue && catalogue_load(c->dir_catalogue, &cat, err, errlen) < 0) {
        memset(key, 0, sizeof key);
        return -1;
    }
    publisher *p = publisher_new_detached(c, n->index, cat, key, (size_t)keylen);
    memset(key, 0, sizeof key);
    if (!p) {
        catalogue_free(cat);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    huren_index_publish_set(n->index, publisher_describe, p);
    if (with_sender && sender_start(p, err, errlen) < 0) {
        huren_index_publish_set(n->index, NULL, NULL);
        catalogue_free(cat);
        publisher_free_detached(p);
        return -1;
    }
    n->publisher = p;
    if (with_sender)
        log_info("publishing to %s as %s (catalogue: %zu items)", c->dir_url, c->dir_institution,
                 catalogue_count(cat));
    return 0;
}

int publisher_start(node *n, char *err, size_t errlen)
{
    return attach(n, 1, err, errlen);
}

int publisher_attach(node *n, char *err, size_t errlen)
{
    return attach(n, 0, err, errlen);
}

int publisher_catalogue_reload(node *n, char *err, size_t errlen)
{
    publisher *p = n->publisher;
    if (!p || !*p->cfg->dir_catalogue)
        return 1;
    catalogue *cat = NULL;
    if (catalogue_load(p->cfg->dir_catalogue, &cat, err, errlen) < 0)
        return -1;
    catalogue_retire(cat, p->cat); /* a describe in flight may still read the old one */
    p->cat = cat;
    return 0;
}

void publisher_stop(node *n)
{
    publisher *p = n ? n->publisher : NULL;
    if (!p)
        return;
    sender_stop(p);
    huren_index_publish_set(n->index, NULL, NULL);
    catalogue_free(p->cat);
    publisher_free_detached(p);
    n->publisher = NULL;
}

/* ---- health and metrics ---- */

char *publisher_metrics(publisher *p)
{
    huren_index_outbox_stats st;
    char *out = NULL;
    size_t len = 0;
    if (!p)
        return NULL;
    int have = huren_index_outbox_stats_get(p->index, &st) == 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    time_t now = time(NULL);
    pthread_mutex_lock(&p->mu);
    time_t ok = p->last_success, bad = p->last_error_at;
    pthread_mutex_unlock(&p->mu);
#define G(name, help, type, v)                                                                     \
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,              \
            (long long)(v))
    if (have) {
        G("huren_directory_outbox_backlog", "Directory entries waiting to be sent.", "gauge",
          st.backlog);
        G("huren_directory_outbox_deferred", "Waiting entries tried at least once.", "gauge",
          st.deferred);
        G("huren_directory_outbox_oldest_age_seconds", "Age of the oldest waiting entry.", "gauge",
          st.backlog ? now - st.oldest_created : 0);
        G("huren_directory_unpublishable_records",
          "Studies and reports without a national id (not published).", "gauge", st.unpublishable);
    }
    G("huren_directory_sent_total", "Entries the directory acknowledged.", "counter",
      atomic_load(&p->sent));
    G("huren_directory_refused_total", "Entries the directory refused (kept, retried later).",
      "counter", atomic_load(&p->refused));
    G("huren_directory_send_failures_total", "Sends that failed (network, timeout, answer).",
      "counter", atomic_load(&p->failures));
    G("huren_directory_uncatalogued_total", "Records described without a catalogue item.",
      "counter", atomic_load(&p->uncatalogued));
    G("huren_directory_last_success_timestamp_seconds", "When a send last succeeded.", "gauge", ok);
    G("huren_directory_last_error_timestamp_seconds", "When a send last failed.", "gauge", bad);
#undef G
    fclose(f);
    return out;
}

static json_t *iso_time(time_t t)
{
    char buf[32];
    struct tm tm;
    if (!t)
        return json_null();
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *publisher_health(publisher *p)
{
    huren_index_outbox_stats st;
    if (!p)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "url", json_string(p->cfg->dir_url));
    json_object_set_new(o, "institution", json_string(p->cfg->dir_institution));
    if (huren_index_outbox_stats_get(p->index, &st) == 0) {
        json_object_set_new(o, "backlog", json_integer(st.backlog));
        json_object_set_new(o, "deferred", json_integer(st.deferred));
        json_object_set_new(o, "oldest_age_s",
                            json_integer(st.backlog ? time(NULL) - st.oldest_created : 0));
        json_object_set_new(o, "unpublishable", json_integer(st.unpublishable));
    }
    json_object_set_new(o, "sent", json_integer((json_int_t)atomic_load(&p->sent)));
    json_object_set_new(o, "refused", json_integer((json_int_t)atomic_load(&p->refused)));
    json_object_set_new(o, "failures", json_integer((json_int_t)atomic_load(&p->failures)));
    pthread_mutex_lock(&p->mu);
    json_object_set_new(o, "last_success", iso_time(p->last_success));
    json_object_set_new(o, "last_error_at", iso_time(p->last_error_at));
    json_object_set_new(o, "last_error",
                        p->last_error[0] ? json_string(p->last_error) : json_null());
    pthread_mutex_unlock(&p->mu);
    return o;
}
