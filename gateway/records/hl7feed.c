/* hl7feed.c: the MLLP listener wired into `huren serve`. Each connection's thread parses a
 * message, ingest_hl7.c stores it (concurrent connections share the archive's group commits)
 * and the listener sends the ACK; its events are routed into log.h. */
#define LOG_COMPONENT "hl7"
#include "hl7feed.h"
#include "huren_err.h"
#include "audit_trail.h"
#include "ingest/ingest_hl7.h"
#include "log.h"
#include "audit/huren_audit.h"

#include <stdio.h>
#include <string.h>

/* Text safe to log: control ids come from the sender, so no control characters. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static void on_message(const huren_hl7_msg *msg, const char *raw, size_t len, const char *peer,
                       huren_hl7_handler_result *res, void *payload)
{
    node *n = payload;
    huren_index_put_outcome outcome = HUREN_INDEX_PUT_STORED;
    char id[64], what[24];
    (void)raw;
    if (!msg)
        return; /* unparseable: the listener answers and logs it */
    ingest_result r = ingest_hl7_message(n, msg, res, &outcome);
    snprintf(id, sizeof id, "%s", huren_hl7_msg_control_id(msg));
    snprintf(what, sizeof what, "%.8s^%.8s", huren_hl7_msg_type(msg), huren_hl7_msg_trigger(msg));
    printable(id);
    printable(what);
    /* the audit entry is on disk before the listener sends the ACK */
    char actor[160], object[96];
    snprintf(actor, sizeof actor, "%s^%s", huren_hl7_msg_sending_app(msg),
             huren_hl7_msg_sending_facility(msg));
    snprintf(object, sizeof object, "%s %s", what, id);
    const char *pid = huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1);
    huren_audit_entry e = {.actor = actor,
                           .role = "hl7-sender",
                           .institution = huren_hl7_msg_sending_facility(msg),
                           .action = "hl7.store",
                           .patient = pid ? pid : "",
                           .object = object,
                           .outcome = r == INGEST_OK        ? "success"
                                      : r == INGEST_INVALID ? "failed"
                                                            : "error",
                           .status = 0,
                           .remote = peer};
    if (audit_record(n, &e) < 0 && r == INGEST_OK) {
        /* stored, but not accountable: the sender is told to send again (stored once) */
        res->code = HUREN_HL7_AE;
        snprintf(res->text, sizeof res->text, "audit trail unavailable");
    }
    if (r == INGEST_OK)
        log_info("%s %s control id '%s' (%zu bytes): AA, %s", peer, what, id, len,
                 outcome == HUREN_INDEX_PUT_DUPLICATE ? "duplicate, stored before" : "stored");
    else if (r == INGEST_INVALID)
        log_warnx("%s %s control id '%s': %s %s", peer, what, id,
                  res->code == HUREN_HL7_AR ? "AR" : "AE", res->text);
}

static void on_log(huren_hl7_log_level level, const char *message, void *payload)
{
    node *n = payload;
    static const log_level map[] = {LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO,
                                    LOG_LEVEL_DEBUG};
    if (level == HUREN_HL7_LOG_ERROR)
        atomic_fetch_add(&n->metrics.errors, 1);
    log_emit(map[level <= HUREN_HL7_LOG_DEBUG ? level : HUREN_HL7_LOG_DEBUG], LOG_COMPONENT, 0,
             "%s", message);
}

int hl7feed_start(node *n)
{
    const config *c = n->cfg;
    huren_hl7_mllp_options o = HUREN_HL7_MLLP_OPTIONS_INIT;
    o.bind_address = c->bind_address;
    o.port = (int)c->hl7_port;
    o.max_connections = (int)c->hl7_max_connections;
    o.idle_timeout_s = (int)c->hl7_idle_timeout;
    o.max_message_size = (size_t)c->hl7_max_message;
    o.log = on_log;
    char err[HUREN_ERRLEN];
    if (huren_hl7_mllp_start(&n->mllp, &o, on_message, n, err, sizeof err) < 0) {
        log_error("HL7: %s", err);
        return -1;
    }
    return 0; /* the listener itself logs "hl7 listening on ADDRESS port N" */
}
