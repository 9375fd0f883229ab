/* audit_xml.c: `huren audit export`: each audit entry as a DICOM PS3.15 A.5.1 AuditMessage
 * (the IHE ATNA / RFC 3881 shape, with csd-code/codeSystemName/originalText coded values),
 * written with libxml2's text writer. The mapping from huren's actions to DICOM event ids
 * (DCM codes of CID 400-403) is the table below. */
#include "audit_xml.h"
#include "huren_index.h"
#include "audit/huren_audit.h"

#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <string.h>

typedef struct event_code {
    const char *suffix; /* action ends with this ("" = any) */
    const char *code, *meaning, *action_code;
} event_code;

/* First match wins. */
static const event_code events[] = {
    {"http.authenticate", "110114", "User Authentication", "E"},
    {"http.access", "110113", "Security Alert", "E"},
    {"audit.read", "110101", "Audit Log Used", "R"},
    {"c-store", "110104", "DICOM Instances Transferred", "C"},
    {"c-find", "110112", "Query", "E"},
    {".query", "110112", "Query", "E"},
    {".search", "110112", "Query", "E"},
    {"c-move", "110103", "DICOM Instances Accessed", "R"},
    {"c-get", "110103", "DICOM Instances Accessed", "R"},
    {".store", "110110", "Patient Record", "C"},
    {"", "110110", "Patient Record", "R"},
};

static const event_code *event_of(const char *action)
{
    size_t n = strlen(action);
    for (size_t i = 0;; i++) {
        size_t k = strlen(events[i].suffix);
        if (k <= n && strcmp(action + n - k, events[i].suffix) == 0)
            return &events[i];
    }
}

static const char *outcome_code(const char *outcome)
{
    return !strcmp(outcome, "success") ? "0" : !strcmp(outcome, "error") ? "8" : "4";
}

static const char *str(json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    return s ? s : "";
}

static void coded(xmlTextWriterPtr w, const char *element, const char *code, const char *system,
                  const char *meaning)
{
    xmlTextWriterStartElement(w, BAD_CAST element);
    xmlTextWriterWriteAttribute(w, BAD_CAST "csd-code", BAD_CAST code);
    xmlTextWriterWriteAttribute(w, BAD_CAST "codeSystemName", BAD_CAST system);
    xmlTextWriterWriteAttribute(w, BAD_CAST "originalText", BAD_CAST meaning);
    xmlTextWriterEndElement(w);
}

static void participant(xmlTextWriterPtr w, const char *user, const char *alt, int requestor,
                        const char *address, const char *role)
{
    xmlTextWriterStartElement(w, BAD_CAST "ActiveParticipant");
    xmlTextWriterWriteAttribute(w, BAD_CAST "UserID", BAD_CAST(user[0] ? user : "-"));
    if (alt && alt[0])
        xmlTextWriterWriteAttribute(w, BAD_CAST "AlternativeUserID", BAD_CAST alt);
    xmlTextWriterWriteAttribute(w, BAD_CAST "UserIsRequestor",
                                BAD_CAST(requestor ? "true" : "false"));
    if (address && address[0]) {
        xmlTextWriterWriteAttribute(w, BAD_CAST "NetworkAccessPointID", BAD_CAST address);
        xmlTextWriterWriteAttribute(w, BAD_CAST "NetworkAccessPointTypeCode", BAD_CAST "2");
    }
    if (role && role[0])
        coded(w, "RoleIDCode", role, "huren-role", role);
    xmlTextWriterEndElement(w);
}

/* RFC 4648 base64 of a NUL-terminated string into out (4/3 of its length, plus 4). */
static void base64(const char *in, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[k++] = t[v >> 18 & 63];
        out[k++] = t[v >> 12 & 63];
        out[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[k] = 0;
}

/* Patients (one object each) and the object the entry concerned. */
static void objects(xmlTextWriterPtr w, json_t *e)
{
    const char *patients = str(e, "patient"), *object = str(e, "object");
    for (const char *p = patients; *p;) {
        const char *bs = strchr(p, '\\');
        size_t len = bs ? (size_t)(bs - p) : strlen(p);
        char id[256];
        snprintf(id, sizeof id, "%.*s", (int)len, p);
        xmlTextWriterStartElement(w, BAD_CAST "ParticipantObjectIdentification");
        xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectID", BAD_CAST id);
        xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectTypeCode", BAD_CAST "1");
        xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectTypeCodeRole", BAD_CAST "1");
        coded(w, "ParticipantObjectIDTypeCode", "2", "RFC-3881", "Patient Number");
        xmlTextWriterEndElement(w);
        p = bs ? bs + 1 : p + len;
    }
    int uid = object[0] && strspn(object, "0123456789.") == strlen(object);
    xmlTextWriterStartElement(w, BAD_CAST "ParticipantObjectIdentification");
    xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectID",
                                BAD_CAST(object[0] ? object : str(e, "action")));
    xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectTypeCode", BAD_CAST "2");
    xmlTextWriterWriteAttribute(w, BAD_CAST "ParticipantObjectTypeCodeRole",
                                BAD_CAST(uid ? "3" : "13"));
    if (uid)
        coded(w, "ParticipantObjectIDTypeCode", "110180", "DCM", "Study Instance UID");
    else
        coded(w, "ParticipantObjectIDTypeCode", "12", "RFC-3881", "URI");
    /* where the message came from in huren's chain, for an auditor to check back */
    char ref[128], b64[200];
    snprintf(ref, sizeof ref, "%lld:%s", (long long)json_integer_value(json_object_get(e, "seq")),
             str(e, "hash"));
    base64(ref, b64);
    xmlTextWriterStartElement(w, BAD_CAST "ParticipantObjectDetail");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "huren-audit-entry");
    xmlTextWriterWriteAttribute(w, BAD_CAST "value", BAD_CAST b64);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
}

static void message(xmlTextWriterPtr w, json_t *e, const char *source_id)
{
    const event_code *ev = event_of(str(e, "action"));
    xmlTextWriterStartElement(w, BAD_CAST "AuditMessage");
    xmlTextWriterStartElement(w, BAD_CAST "EventIdentification");
    xmlTextWriterWriteAttribute(w, BAD_CAST "EventActionCode", BAD_CAST ev->action_code);
    xmlTextWriterWriteAttribute(w, BAD_CAST "EventDateTime", BAD_CAST str(e, "time"));
    xmlTextWriterWriteAttribute(w, BAD_CAST "EventOutcomeIndicator",
                                BAD_CAST outcome_code(str(e, "outcome")));
    coded(w, "EventID", ev->code, "DCM", ev->meaning);
    if (!strcmp(ev->code, "110114"))
        coded(w, "EventTypeCode", "110122", "DCM", "Login");
    else if (!strcmp(ev->code, "110113"))
        coded(w, "EventTypeCode", "110132", "DCM", "Use of a restricted function");
    coded(w, "EventTypeCode", str(e, "action"), "huren-action", str(e, "action"));
    xmlTextWriterEndElement(w);
    participant(w, str(e, "actor"), str(e, "institution"), 1, str(e, "remote"), str(e, "role"));
    participant(w, source_id, NULL, 0, NULL, NULL);
    xmlTextWriterStartElement(w, BAD_CAST "AuditSourceIdentification");
    xmlTextWriterWriteAttribute(w, BAD_CAST "AuditSourceID", BAD_CAST source_id);
    xmlTextWriterEndElement(w);
    objects(w, e);
    xmlTextWriterEndElement(w);
}

typedef struct export_ctx {
    xmlTextWriterPtr w;
    const char *since, *source_id;
    long written, skipped;
} export_ctx;

static int on_line(void *payload, const char *line, size_t len)
{
    export_ctx *c = payload;
    json_t *e = json_loadb(line, len, 0, NULL);
    if (!e || !json_is_string(json_object_get(e, "time"))) {
        c->skipped++;
        json_decref(e);
        return 0;
    }
    if (!c->since || strcmp(str(e, "time"), c->since) >= 0) {
        message(c->w, e, c->source_id);
        c->written++;
    }
    json_decref(e);
    return 0;
}

long audit_xml_export(const char *path, const char *since, const char *source_id, FILE *out,
                      long *skipped, char *err, size_t errlen)
{
    xmlOutputBufferPtr ob = xmlOutputBufferCreateFile(out, NULL);
    xmlTextWriterPtr w = ob ? xmlNewTextWriter(ob) : NULL;
    if (!w) {
        if (ob)
            xmlOutputBufferClose(ob);
        snprintf(err, errlen, "cannot create the XML writer");
        return -1;
    }
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL);
    xmlTextWriterStartElement(w, BAD_CAST "AuditMessages");
    export_ctx c = {w, since, source_id, 0, 0};
    int rc = huren_audit_scan(path, on_line, &c, err, errlen);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w); /* flushes and closes ob, not out */
    fflush(out);
    if (skipped)
        *skipped = c.skipped;
    return rc < 0 ? -1 : c.written;
}
