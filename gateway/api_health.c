/* api_health.c: GET /api/v1/health (JSON: version, role, archive counts, disk free), the
 * probes /healthz and /readyz (archive, disk, directory publishing or the directory's store)
 * and GET /metrics (Prometheus text exposition format 0.0.4). */
#define LOG_COMPONENT "api"
#include "pacs/pacs.h"
#include "forward/forward.h"
#include "reload.h"
#include "routes.h"
#include "directory/directory_api.h"
#include "recognition/recognition.h"
#include "dimse/dimse.h"
#include "huren_buf.h"
#include "log.h"
#include "directory/publisher.h"
#include "directory/store.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static int64_t disk_free(const char *dir)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0)
        return -1;
    return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

int api_healthz(http_request *req, http_response *res)
{
    (void)req;
    return http_reply_json(res, 200, strdup("{\"status\":\"ok\"}"));
}

/* One readiness check into checks; returns 1 when it passed. */
static int check(json_t *checks, const char *name, int ok, const char *why)
{
    json_object_set_new(checks, name, json_string(ok ? "ok" : why));
    return ok;
}

static int directory_reachable(json_t *h, char *why, size_t len)
{
    const char *ok = json_string_value(json_object_get(h, "last_success"));
    const char *bad = json_string_value(json_object_get(h, "last_error_at"));
    if (!bad || (ok && strcmp(ok, bad) >= 0))
        return 1; /* never failed, or the last attempt succeeded */
    const char *e = json_string_value(json_object_get(h, "last_error"));
    snprintf(why, len, "unreachable since %s: %.200s", bad, e ? e : "");
    return 0;
}

#define READY_STORE_WAIT_MS 2000 /* a connection of the directory's store within this, or 503 */

/* Role directory: lookups need the store (its lookup pool); publishes need the primary, which
 * with read_dsn is another server: reported, but lookups from a standby keep the node ready. */
static int store_ready(node *n, json_t *checks)
{
    char why[320];
    int ok = directory_store_ping(n->dir_store, 0, READY_STORE_WAIT_MS, why, sizeof why) == 0;
    check(checks, "directory_store", ok, why);
    if (n->cfg->dir_store == CONFIG_DIR_STORE_POSTGRESQL && n->cfg->dir_read_dsn &&
        *n->cfg->dir_read_dsn)
        check(checks, "directory_store_writes",
              directory_store_ping(n->dir_store, 1, READY_STORE_WAIT_MS, why, sizeof why) == 0,
              why);
    return ok;
}

int api_readyz(http_request *req, http_response *res)
{
    node *n = req->app;
    const config *c = n->cfg;
    json_t *o = json_object(), *checks = json_object();
    if (!o || !checks)
        return -1;
    huren_index_stats st;
    int ready = check(checks, "archive", huren_index_stats_get(n->index, &st) == 0,
                      "the archive cannot be read");
    int64_t free_b = disk_free(c->data_dir);
    char why[320];
    snprintf(why, sizeof why, "%lld MiB free, below ready_min_free_mb %ld",
             (long long)(free_b < 0 ? 0 : free_b >> 20), c->ready_min_free_mb);
    ready &= check(checks, "disk", free_b >= (int64_t)c->ready_min_free_mb << 20, why);
    if (n->publisher) {
        json_t *h = publisher_health(n->publisher);
        ready &= check(checks, "directory", h && directory_reachable(h, why, sizeof why), why);
        json_int_t backlog = json_integer_value(json_object_get(h, "backlog"));
        snprintf(why, sizeof why, "%lld entries waiting, above ready_max_backlog %ld",
                 (long long)backlog, c->dir_ready_max_backlog);
        ready &= check(checks, "outbox", backlog <= c->dir_ready_max_backlog, why);
        json_decref(h);
    }
    if (c->role == CONFIG_ROLE_DIRECTORY && n->dir_store)
        ready &= store_ready(n, checks);
    json_object_set_new(o, "status", json_string(ready ? "ready" : "not ready"));
    json_object_set_new(o, "checks", checks);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text ? http_reply_json(res, ready ? 200 : 503, text) : -1;
}

int api_health(http_request *req, http_response *res)
{
    node *n = req->app;
    huren_index_stats st;
    int archive_ok = huren_index_stats_get(n->index, &st) == 0;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:{s:i, s:I}}", "status", archive_ok ? "ok" : "degraded",
        "version", HUREN_VERSION, "role", config_choice_name("node", "role", (int)n->cfg->role),
        "aet", n->cfg->aet, "uptime_s", (json_int_t)(time(NULL) - n->started), "dicom",
        "associations_active", n->scp ? huren_dicom_scp_active(n->scp) : 0, "associations_total",
        (json_int_t)(n->scp ? huren_dicom_scp_total(n->scp) : 0));
    if (!o)
        return -1;
    if (archive_ok)
        json_object_set_new(o, "archive",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "patients",
                                      (json_int_t)st.patients, "studies", (json_int_t)st.studies,
                                      "series", (json_int_t)st.series, "instances",
                                      (json_int_t)st.instances, "bytes", (json_int_t)st.bytes));
    else
        json_object_set_new(o, "archive_error", json_string(huren_index_errmsg(n->index)));
    json_object_set_new(o, "disk_free_bytes", json_integer(disk_free(n->cfg->data_dir)));
    if (n->publisher) /* publishing to the regional directory: backlog, last success/error */
        json_object_set_new(o, "directory", publisher_health(n->publisher));
    json_t *ref = recognition_reference_health(n); /* the province's reference data held */
    if (ref)
        json_object_set_new(o, "reference", ref);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return http_reply_json(res, archive_ok ? 200 : 503, text);
}

/* The exposition is assembled in common/'s growing buffer; metrics pages are small. */
typedef huren_buf text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)huren_buf_vprintf(t, fmt, ap); /* a failure sticks: checked once at the end */
    va_end(ap);
}

static void counter(text *t, const char *name, const char *help, uint64_t v)
{
    put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static void gauge(text *t, const char *name, const char *help, long long v)
{
    put(t, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

/* HTTP answers by route family and status class: refusals are the 4xx and 5xx rows. */
static void http_metrics(text *t, const http_server *srv)
{
    put(t, "# HELP huren_http_responses_total HTTP answers by route family and status class "
           "(4xx: refused requests, 5xx: internal failures).\n"
           "# TYPE huren_http_responses_total counter\n");
    for (size_t f = 0; f < HTTP_FAMILIES; f++)
        for (int c = 2; c <= 5; c++)
            put(t, "huren_http_responses_total{family=\"%s\",class=\"%dxx\"} %llu\n",
                http_family_name(f), c,
                (unsigned long long)(srv ? http_server_answers(srv, f, c) : 0));
}

/* Recognition and the audit trail (claims and consents: the route counters). */
static void feature_metrics(text *t, metrics *m)
{
    counter(t, "huren_recognition_prompts_total", "Recognition queries answered.",
            atomic_load(&m->rec_prompts));
    counter(t, "huren_recognition_results_shown_total",
            "Recognisable results shown in recognition prompts.",
            atomic_load(&m->rec_results_shown));
    put(t,
        "# HELP huren_recognition_decisions_total Doctors' decisions recorded, by decision.\n"
        "# TYPE huren_recognition_decisions_total counter\n"
        "huren_recognition_decisions_total{decision=\"accepted\"} %llu\n"
        "huren_recognition_decisions_total{decision=\"rejected\"} %llu\n",
        (unsigned long long)atomic_load(&m->rec_accepted),
        (unsigned long long)atomic_load(&m->rec_rejected));
    put(t,
        "# HELP huren_retrievals_total Retrievals of studies held elsewhere, by outcome.\n"
        "# TYPE huren_retrievals_total counter\n"
        "huren_retrievals_total{outcome=\"complete\"} %llu\n"
        "huren_retrievals_total{outcome=\"incomplete\"} %llu\n",
        (unsigned long long)atomic_load(&m->rec_retrievals_complete),
        (unsigned long long)atomic_load(&m->rec_retrievals_incomplete));
    counter(t, "huren_retrieved_instances_total", "Instances stored by retrievals.",
            atomic_load(&m->rec_retrieved_instances));
    counter(t, "huren_retrieved_bytes_total", "Bytes received by retrievals.",
            atomic_load(&m->rec_retrieved_bytes));
    counter(t, "huren_audit_appends_total", "Entries appended to the audit trail.",
            atomic_load(&m->audit_appends));
    counter(t, "huren_audit_failures_total",
            "Audit entries that could not be written (the request was refused).",
            atomic_load(&m->audit_failures));
    put(t,
        "# HELP huren_reloads_total SIGHUP reloads of the certificates, by outcome.\n"
        "# TYPE huren_reloads_total counter\n"
        "huren_reloads_total{outcome=\"done\"} %llu\n"
        "huren_reloads_total{outcome=\"refused\"} %llu\n",
        (unsigned long long)reload_count(1), (unsigned long long)reload_count(0));
}

int api_metrics(http_request *req, http_response *res)
{
    node *n = req->app;
    metrics *m = &n->metrics;
    text t = {0};
    counter(&t, "huren_instances_stored_total", "New DICOM instances stored.",
            atomic_load(&m->instances_stored));
    counter(&t, "huren_instances_duplicate_total", "Re-sent DICOM instances kept once.",
            atomic_load(&m->instances_duplicate));
    counter(&t, "huren_instances_replaced_total", "Re-sent DICOM instances that replaced one.",
            atomic_load(&m->instances_replaced));
    counter(&t, "huren_instances_rejected_total", "DICOM instances refused as invalid.",
            atomic_load(&m->instances_rejected));
    counter(&t, "huren_store_failures_total", "Instances the archive could not store.",
            atomic_load(&m->store_failures));
    put(&t, "# HELP huren_dimse_requests_total DIMSE requests answered, by operation.\n"
            "# TYPE huren_dimse_requests_total counter\n");
    const struct {
        const char *op;
        atomic_uint_fast64_t *v;
    } ops[] = {{"echo", &m->dimse_echo},
               {"store", &m->dimse_store},
               {"find", &m->dimse_find},
               {"move", &m->dimse_move},
               {"get", &m->dimse_get}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        put(&t, "huren_dimse_requests_total{op=\"%s\"} %llu\n", ops[i].op,
            (unsigned long long)atomic_load(ops[i].v));
    counter(&t, "huren_dimse_failures_total", "DIMSE requests answered with a failure status.",
            atomic_load(&m->dimse_failures));
    counter(&t, "huren_dicom_associations_total", "DICOM associations accepted.",
            n->scp ? huren_dicom_scp_total(n->scp) : 0);
    gauge(&t, "huren_dicom_associations_active", "DICOM associations in progress.",
          n->scp ? huren_dicom_scp_active(n->scp) : 0);
    char *dimse = n->scp ? dimse_metrics(n) : NULL; /* refusals at every stage */
    if (dimse)
        put(&t, "%s", dimse);
    free(dimse);
    counter(&t, "huren_http_requests_total", "HTTP requests answered.",
            n->http ? http_server_requests(n->http) : 0);
    http_metrics(&t, n->http);
    http_server_route_metrics(n->http, &t);
    counter(&t, "huren_errors_total", "Events logged at error level.", atomic_load(&m->errors));
    /* HL7 feed: ACKs sent by code (the listener's counts), and what the archive made of them */
    huren_hl7_mllp_stats hs;
    huren_hl7_mllp_stats_get(n->mllp, &hs);
    put(&t,
        "# HELP huren_hl7_messages_total HL7 messages acknowledged, by ACK code.\n"
        "# TYPE huren_hl7_messages_total counter\n"
        "huren_hl7_messages_total{ack=\"AA\"} %llu\nhuren_hl7_messages_total{ack=\"AE\"} %llu\n"
        "huren_hl7_messages_total{ack=\"AR\"} %llu\n",
        hs.acks_aa, hs.acks_ae, hs.acks_ar);
    counter(&t, "huren_hl7_stored_total", "HL7 messages stored.", atomic_load(&m->hl7_stored));
    counter(&t, "huren_hl7_duplicate_total", "Re-sent HL7 messages (same sender and MSH-10).",
            atomic_load(&m->hl7_duplicate));
    /* every refusal of the feed, by the stage that made it: the listener before any ingest
     * (connection cap, framing, oversize frame, silence, unparseable frame), then ingest */
    put(&t,
        "# HELP huren_hl7_refused_total HL7 input refused, by stage: connection (max_connections "
        "reached), framing (bytes outside MLLP frames or a connection closed inside one), "
        "oversize (frame over max_message_size), idle (idle_timeout), parse (frame that did not "
        "parse), ingest (message refused as unsupported or invalid).\n"
        "# TYPE huren_hl7_refused_total counter\n"
        "huren_hl7_refused_total{stage=\"connection\"} %llu\n"
        "huren_hl7_refused_total{stage=\"framing\"} %llu\n"
        "huren_hl7_refused_total{stage=\"oversize\"} %llu\n"
        "huren_hl7_refused_total{stage=\"idle\"} %llu\n"
        "huren_hl7_refused_total{stage=\"parse\"} %llu\n"
        "huren_hl7_refused_total{stage=\"ingest\"} %llu\n",
        hs.refused, hs.bad_framing, hs.oversize_frames, hs.idle_timeouts, hs.parse_errors,
        (unsigned long long)atomic_load(&m->hl7_refused));
    counter(&t, "huren_hl7_store_failures_total", "HL7 messages the archive could not store.",
            atomic_load(&m->hl7_failures));
    counter(&t, "huren_hl7_parse_errors_total", "HL7 frames that did not parse.", hs.parse_errors);
    counter(&t, "huren_hl7_oversize_frames_total", "MLLP connections closed for a frame too big.",
            hs.oversize_frames);
    counter(&t, "huren_hl7_connections_total", "MLLP connections accepted.", hs.connections);
    gauge(&t, "huren_hl7_connections_active", "MLLP connections open.", hs.open_connections);
    huren_index_stats st;
    if (huren_index_stats_get(n->index, &st) == 0) {
        gauge(&t, "huren_archive_studies", "Studies in the archive.", st.studies);
        gauge(&t, "huren_archive_instances", "Instances in the archive.", st.instances);
        gauge(&t, "huren_archive_bytes", "Bytes of DICOM files in the archive.", st.bytes);
    }
    huren_index_pack_stats ps;
    if (huren_index_pack_usage(n->index, &ps) == 0) {
        gauge(&t, "huren_pack_bytes", "Bytes of pack files.", ps.bytes);
        gauge(&t, "huren_pack_garbage_bytes",
              "Bytes of pack files no instance uses (replaced or deleted; huren compact).",
              ps.garbage_bytes);
        gauge(&t, "huren_pack_ahead_bytes",
              "Zeros written ahead of the pack being filled (appends overwrite them).",
              ps.ahead_bytes);
    }
    gauge(&t, "huren_disk_free_bytes", "Free bytes on the archive's file system.",
          disk_free(n->cfg->data_dir));
    /* the regional directory: publishing (hospital) or serving it (directory) */
    char *dir = n->publisher                            ? publisher_metrics(n->publisher)
                : n->cfg->role == CONFIG_ROLE_DIRECTORY ? directory_api_metrics(n)
                                                        : NULL;
    if (dir)
        put(&t, "%s", dir);
    free(dir);
    char *pacs = pacs_metrics(n); /* beside the hospital's PACS: sync and fetches */
    if (pacs)
        put(&t, "%s", pacs);
    free(pacs);
    char *fwd = forward_metrics(n); /* forwarding: backlog and failures per rule */
    if (fwd)
        put(&t, "%s", fwd);
    free(fwd);
    feature_metrics(&t, m);
    if (t.failed) {
        huren_buf_free(&t);
        return -1;
    }
    res->status = 200;
    res->body_len = t.len;
    res->body = huren_buf_release(&t);
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}
