/* ingest_hl7.c: HL7 v2 messages onto the archive's clinical records. ADT (patient, visit;
 * A40 merge), ORU^R01 (a report per OBR with its OBX), DFT^P03 (FT1 charges, DG1 diagnoses).
 * Liberal like an interface engine: refuses only what leaves no patient, no order or no
 * amount to store. Walks the segments once, then stores everything with one
 * huren_index_records_put (one transaction, group commit). */
#define LOG_COMPONENT "hl7"
#include "ingest/ingest_hl7.h"
#include "identity.h"
#include "ingest/ingest_hl7_value.h"
#include "log.h"
#include "index/index_records.h"
#include "index/index_directory.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTS 1000

typedef enum msg_kind { K_ADT, K_MERGE, K_ORU, K_DFT } msg_kind;

typedef struct mapping {
    const huren_hl7_msg *msg;
    msg_kind kind;
    hl7_pool strs;
    char source[256];
    huren_index_rec_patient patient;
    huren_index_visit visit;
    int has_visit;
    huren_index_report *reports;
    size_t nreports;
    huren_index_observation *obs; /* all OBX, in order; reports point into it */
    size_t nobs;
    huren_index_diagnosis *dgs;
    size_t ndgs;
    huren_index_charge *charges;
    size_t ncharges;
    const char *merge_from;
    char note[160]; /* what was accepted though not as sent (AA's MSA-3 text), first one */
    char where[32]; /* the position a refusal names, as ERR's error location "SEG^seq^field" */
    /* the refusal, when any */
    huren_hl7_handler_result *res;
} mapping;

static const char *pool_add(mapping *m, char *s)
{
    return hl7_pool_add(&m->strs, s);
}

/* Remembers the first liberty taken with the message, for the AA text and the log. */
__attribute__((format(printf, 2, 3))) static void note(mapping *m, const char *fmt, ...)
{
    va_list ap;
    if (m->note[0])
        return;
    va_start(ap, fmt);
    vsnprintf(m->note, sizeof m->note, fmt, ap);
    va_end(ap);
}

/* The position the next refusal names (ERR-2, or ERR-1 before 2.5): segment, its occurrence,
 * field (0: the segment as a whole). */
static void at(mapping *m, const char *seg, int seq, int field)
{
    if (field > 0)
        snprintf(m->where, sizeof m->where, "%.3s^%d^%d", seg, seq, field);
    else
        snprintf(m->where, sizeof m->where, "%.3s^%d", seg, seq);
}

/* Refuse the message: AE (or AR) with a table 0357 code and a reason naming the position
 * (also set with at() for the ERR segment). */
__attribute__((format(printf, 4, 5))) static int refuse(mapping *m, huren_hl7_ack_code code,
                                                        const char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->res->text, sizeof m->res->text, fmt, ap);
    va_end(ap);
    snprintf(m->res->error_code, sizeof m->res->error_code, "%s", err);
    snprintf(m->res->location, sizeof m->res->location, "%s", m->where);
    m->res->code = code;
    return -1;
}

/* A value, or NULL when absent or empty. */
static const char *val(const huren_hl7_seg *s, int field, int comp, int sub)
{
    const char *v = huren_hl7_seg_get(s, field, 1, comp, sub);
    return v && *v ? v : NULL;
}
#define V(s, f, c) val(s, f, c, 1)

static const char *join(mapping *m, const huren_hl7_seg *s, int field, int rep, int from, int to,
                        const char *sep)
{
    return hl7_join(&m->strs, s, field, rep, from, to, sep);
}

/* "20240105083000+0800" -> its first 14 digits; NULL when absent. */
static const char *ts(mapping *m, const huren_hl7_seg *s, int field)
{
    const char *v = V(s, field, 1);
    size_t n = 0;
    if (!v)
        return NULL;
    while (n < 14 && isdigit((unsigned char)v[n]))
        n++;
    if (n == strlen(v))
        return v;
    return n ? pool_add(m, strndup(v, n)) : v;
}

/* ---- identifiers ---- */

/* Identifier types (PID-3.5) that carry the national resident id. */
static int national_type(const char *t)
{
    return t && (!strcmp(t, "ID") || !strcmp(t, "NI") || !strcmp(t, "NNCHN"));
}

/* Identifier types (PID-3.5) that name the hospital's own patient id; untyped counts too. */
static int local_type(const char *t)
{
    static const char *const local[] = {"PI", "MR", "PT", "PN", "MRN", "PID", "LR", "AN", NULL};
    if (!t || !*t)
        return 1;
    for (int i = 0; local[i]; i++)
        if (!strcmp(t, local[i]))
            return 1;
    return 0;
}

/* PID-3 repetitions: the first valid resident id is the national id; the local id is the
 * first of a local type, else the first of any other type (SS, DL, ...), else PID-2 (2.1 to
 * 2.3 senders: the external id), PID-4 (alternate id), and last the resident id itself. A
 * resident id with a bad check digit is kept only as a local id candidate. */
static int patient_ids(mapping *m, const huren_hl7_seg *pid)
{
    huren_index_rec_patient *p = &m->patient;
    const char *other = NULL, *bad_national = NULL;
    int reps = huren_hl7_seg_rep_count(pid, 3);
    for (int r = 1; r <= reps; r++) {
        const char *id = huren_hl7_seg_get(pid, 3, r, 1, 1);
        const char *type = huren_hl7_seg_get(pid, 3, r, 5, 1);
        if (!id || !*id)
            continue;
        if (national_type(type)) {
            /* identity.c's rule, the one the directory publisher applies: an id accepted here
             * is one that can be published; it is stored normalised (15 digits upgraded) */
            char norm[IDENTITY_ID_LEN + 1], why[128];
            identity_type it;
            if (identity_normalise(id, norm, &it, why, sizeof why) < 0) {
                note(m,
                     "PID-3 repetition %d: type %s is not a valid resident id (%s), not used "
                     "as one",
                     r, type, why);
                bad_national = bad_national ? bad_national : id;
            } else if (!p->national_id) {
                p->national_id = pool_add(m, strdup(norm));
                p->national_id_type = type;
            }
        } else if (local_type(type)) {
            p->patient_id = p->patient_id ? p->patient_id : id;
        } else {
            other = other ? other : id;
        }
    }
    const char *fallback[] = {other, V(pid, 2, 1), V(pid, 4, 1), bad_national, p->national_id};
    for (size_t i = 0; !p->patient_id && i < sizeof fallback / sizeof *fallback; i++)
        p->patient_id = fallback[i];
    if (!p->patient_id) {
        at(m, "PID", 1, 3);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "PID-3: no patient identifier (PID-2, PID-3 and PID-4 are empty)");
    }
    return 0;
}

static int patient_map(mapping *m, const huren_hl7_seg *pid)
{
    huren_index_rec_patient *p = &m->patient;
    if (patient_ids(m, pid) < 0)
        return -1;
    p->name = join(m, pid, 5, 1, 1, 2, "^");
    p->birth_date = V(pid, 7, 1) ? pool_add(m, strndup(V(pid, 7, 1), 8)) : NULL;
    p->sex = V(pid, 8, 1);
    return 0;
}

static int visit_map(mapping *m, const huren_hl7_seg *pv1)
{
    huren_index_visit *v = &m->visit;
    v->visit_number = V(pv1, 19, 1);
    v->visit_class = V(pv1, 2, 1);
    v->department = V(pv1, 3, 1) ? V(pv1, 3, 1) : V(pv1, 10, 1);
    v->admit_time = ts(m, pv1, 44);
    v->discharge_time = ts(m, pv1, 45);
    m->has_visit = v->visit_number != NULL;
    return 0;
}

/* ---- ORU: OBR and OBX ---- */

/* Diagnostic service sections (OBR-24) whose reports are exams rather than lab results. */
static int exam_section(const char *s)
{
    static const char *const exam[] = {"RAD", "CT",  "MR",  "MRI", "US",  "NM",  "XR", "RX",  "DX",
                                       "CR",  "MG",  "PT",  "PET", "EC",  "ECG", "EN", "CUS", "OUS",
                                       "VUS", "RUS", "NMR", "CTH", "PAT", "SP",  "ES", NULL};
    for (int i = 0; s && exam[i]; i++)
        if (strcmp(s, exam[i]) == 0)
            return 1;
    return 0;
}

/* The order numbers of a report: OBR-2/OBR-3, else ORC-2/ORC-3; with none at all the report
 * is keyed by the message ("<MSH-10>-<n>") so that it is still stored and shown. */
static void report_orders(mapping *m, huren_index_report *r, const huren_hl7_seg *obr,
                          const huren_hl7_seg *orc, int n)
{
    r->placer_number = V(obr, 2, 1) ? V(obr, 2, 1) : (orc ? V(orc, 2, 1) : NULL);
    r->filler_number = V(obr, 3, 1) ? V(obr, 3, 1) : (orc ? V(orc, 3, 1) : NULL);
    if (r->placer_number || r->filler_number)
        return;
    char key[128];
    snprintf(key, sizeof key, "%.100s-%d", huren_hl7_msg_control_id(m->msg), n);
    r->filler_number = pool_add(m, strdup(key));
    note(m, "OBR %d: no order number (OBR-2, OBR-3, ORC-2, ORC-3), keyed by the message", n);
}

static int report_begin(mapping *m, const huren_hl7_seg *obr, const huren_hl7_seg *orc)
{
    if (m->nreports == MAX_REPORTS)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "more than %d OBR segments",
                      MAX_REPORTS);
    huren_index_report *r = &m->reports[m->nreports++];
    int n = (int)m->nreports;
    memset(r, 0, sizeof *r);
    report_orders(m, r, obr, orc, n);
    hl7_coded item;
    if (hl7_coded_get(obr, 4, 1, &item)) {
        r->item_code = item.code; /* NULL for a text-only OBR-4: shown, not recognisable */
        r->item_name = item.text;
        r->item_system = item.system;
    }
    if (!r->item_code)
        note(m, "OBR %d: OBR-4 has no code%s", n, r->item_name ? ", stored with its text" : "");
    r->requested_time = ts(m, obr, 6);
    r->observed_time = ts(m, obr, 7);
    r->specimen = V(obr, 15, 1);
    r->accession_number = V(obr, 18, 1);
    r->reported_time = ts(m, obr, 22);
    r->performing_department = V(obr, 24, 1);
    r->result_status = V(obr, 25, 1);
    r->kind =
        exam_section(r->performing_department) ? HUREN_INDEX_REPORT_EXAM : HUREN_INDEX_REPORT_LAB;
    r->ordering_institution = orc && V(orc, 21, 1) ? V(orc, 21, 1) : NULL;
    r->ordering_department = orc && V(orc, 13, 1) ? V(orc, 13, 1) : m->visit.department;
    r->performing_institution = huren_hl7_msg_sending_facility(m->msg);
    r->sender_app = huren_hl7_msg_sending_app(m->msg);
    r->sender_facility = huren_hl7_msg_sending_facility(m->msg);
    r->obs = m->obs + m->nobs;
    if (n == 1 && m->nobs) { /* OBX that came before the first OBR belong to it */
        r->obs = m->obs;
        r->nobs = m->nobs;
        note(m, "OBR 1: %zu OBX before it, kept in its report", m->nobs);
    }
    return 0;
}

/* OBX-6 units: a CE/CWE whose code is the unit (UCUM "mg/dL"), else its text. */
static const char *units_of(const huren_hl7_seg *obx)
{
    hl7_coded u;
    if (!hl7_coded_get(obx, 6, 1, &u))
        return NULL;
    return u.code ? u.code : u.text;
}

static int observation_add(mapping *m, const huren_hl7_seg *obx)
{
    /* NULL for OBX before the first OBR, which report_begin() then takes in */
    huren_index_report *r = m->nreports ? &m->reports[m->nreports - 1] : NULL;
    huren_index_observation *o = &m->obs[m->nobs++];
    int n = (int)m->nobs;
    memset(o, 0, sizeof *o);
    if (r)
        r->nobs++;
    o->set_id = V(obx, 1, 1);
    hl7_coded code;
    if (hl7_coded_get(obx, 3, 1, &code)) {
        o->code = code.code;
        o->name = code.text;
        o->code_system = code.system;
    } else {
        note(m, "OBX %d: OBX-3 is empty, stored without a code", n);
    }
    hl7_obx_value v;
    if (hl7_obx_value_get(&m->strs, obx, &v) < 0)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "out of memory");
    o->value_type = v.value_type;
    o->value = v.value;
    if (v.not_numeric)
        note(m, "OBX %d: OBX-5 is not a number (value type NM), kept as text", n);
    o->units = units_of(obx) ? units_of(obx) : v.units;
    o->reference_range = V(obx, 7, 1);
    o->abnormal_flags = join(m, obx, 8, 1, 0, 0, "~");
    o->status = V(obx, 11, 1);
    o->observed_time = ts(m, obx, 14);
    if (r && r->nobs == 1 && V(obx, 23, 1))
        r->performing_institution = V(obx, 23, 1);
    return 0;
}

/* ---- DFT: FT1 and DG1 ---- */

/* Exact decimal text scaled by 10^places ("12.5", 2 -> 1250); digits past `places` must be
 * zeros. Returns 0 or -1. */
static int decimal_parse(const char *text, int places, int64_t *out)
{
    const char *p = text;
    int neg = 0, digits = 0, frac = 0;
    int64_t v = 0;
    if (!p)
        return -1;
    while (*p == ' ')
        p++;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    for (; isdigit((unsigned char)*p); p++) {
        if (++digits > 15)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, frac++, digits++) {
            if (frac < places)
                v = v * 10 + (*p - '0');
            else if (*p != '0')
                return -1; /* not exact at this precision */
        }
    }
    while (*p == ' ')
        p++;
    if (*p || digits == 0)
        return -1;
    for (; frac < places; frac++)
        v *= 10;
    *out = neg ? -v : v;
    return 0;
}

int ingest_hl7_money_parse(const char *text, int64_t *fen)
{
    return decimal_parse(text, 2, fen);
}

static int charge_add(mapping *m, const huren_hl7_seg *ft1)
{
    huren_index_charge *c = &m->charges[m->ncharges++];
    int n = (int)m->ncharges;
    memset(c, 0, sizeof *c);
    c->transaction_id = V(ft1, 2, 1);
    c->charged_time = ts(m, ft1, 4);
    hl7_coded item;
    hl7_coded_get(ft1, 7, 1, &item);
    c->item_code = item.code;
    c->item_name = item.text ? item.text : V(ft1, 8, 1);
    c->quantity = V(ft1, 10, 1);
    c->department = V(ft1, 13, 2) ? V(ft1, 13, 2) : V(ft1, 13, 1);
    if (!c->item_code) {
        at(m, "FT1", n, 7);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "FT1 %d: FT1-7 (transaction code) has no code", n);
    }
    const char *amount = val(ft1, 11, 1, 1), *price = val(ft1, 12, 1, 1);
    if (price) {
        if (ingest_hl7_money_parse(price, &c->unit_price_fen) < 0) {
            at(m, "FT1", n, 12);
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-12 is not an amount exact to the fen", n);
        }
        c->has_unit_price = 1;
    }
    int64_t qm = 1000;
    if (c->quantity && decimal_parse(c->quantity, 3, &qm) < 0) {
        at(m, "FT1", n, 10);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE, "FT1 %d: FT1-10 is not a quantity",
                      n);
    }
    if (amount) {
        if (ingest_hl7_money_parse(amount, &c->amount_fen) < 0) {
            at(m, "FT1", n, 11);
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-11 is not an amount exact to the fen", n);
        }
    } else if (price) {
        int64_t x; /* found by fuzz_hl7_ingest: quantity times price can pass 9.2e18 */
        if (__builtin_mul_overflow(qm, c->unit_price_fen, &x) || x > INT64_MAX - 500 ||
            x < INT64_MIN + 500)
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-10 times FT1-12 is too large an amount", n);
        c->amount_fen = (x >= 0 ? x + 500 : x - 500) / 1000;
    } else {
        at(m, "FT1", n, 11);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "FT1 %d: FT1-11 (or FT1-12 with FT1-10) missing", n);
    }
    return 0;
}

static int diagnosis_add(mapping *m, const huren_hl7_seg *dg1)
{
    huren_index_diagnosis *d = &m->dgs[m->ndgs++];
    int n = (int)m->ndgs;
    memset(d, 0, sizeof *d);
    d->set_id = V(dg1, 1, 1);
    hl7_coded dx;
    hl7_coded_get(dg1, 3, 1, &dx);
    d->code = dx.code;
    d->description = dx.text ? dx.text : V(dg1, 4, 1);
    d->code_system = dx.system ? dx.system : V(dg1, 2, 1);
    d->diagnosed_time = ts(m, dg1, 5);
    d->type = V(dg1, 6, 1);
    if (!d->code) {
        at(m, "DG1", n, 3);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "DG1 %d: DG1-3 (diagnosis code) has no code", n);
    }
    return 0;
}

/* ---- the message ---- */

/* MSH-9.2, or for 2.1/2.2 senders that leave it out, EVN-1 (ADT) or R01 (ORU). */
static const char *trigger_of(mapping *m, const char *type)
{
    const char *ev = huren_hl7_msg_trigger(m->msg);
    if (*ev)
        return ev;
    if (!strcmp(type, "ADT")) {
        const char *e = huren_hl7_msg_get(m->msg, "EVN", 1, 1, 1, 1, 1);
        return e ? e : "";
    }
    return !strcmp(type, "ORU") ? "R01" : !strcmp(type, "DFT") ? "P03" : "";
}

static int kind_of(mapping *m)
{
    const char *type = huren_hl7_msg_type(m->msg), *ev = trigger_of(m, type);
    at(m, "MSH", 1, 9);
    /* events that carry the patient (and visit) as they are now; cancellations (A11, A12,
     * A13, ...) and the other merges would need their own handling and are refused */
    static const char *const adt_events[] = {"A01", "A02", "A03", "A04", "A05", "A06",
                                             "A07", "A08", "A28", "A31", NULL};
    if (!strcmp(type, "ADT")) {
        if (!strcmp(ev, "A40")) {
            m->kind = K_MERGE;
            m->where[0] = 0;
            return 0;
        }
        for (int i = 0; adt_events[i]; i++)
            if (!strcmp(ev, adt_events[i])) {
                m->kind = K_ADT;
                m->where[0] = 0;
                return 0;
            }
        return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_EVENT,
                      "MSH-9: ADT event %.8s not supported", ev);
    }
    if (!strcmp(type, "ORU") || !strcmp(type, "DFT")) {
        int oru = type[0] == 'O';
        if (strcmp(ev, oru ? "R01" : "P03") != 0)
            return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_EVENT,
                          "MSH-9: %s event %.8s not supported", type, ev);
        m->kind = oru ? K_ORU : K_DFT;
        m->where[0] = 0;
        return 0;
    }
    return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_TYPE,
                  "MSH-9: message type %.8s not supported", type);
}

static int order_error(mapping *m, const char *seg, size_t i, const char *why)
{
    int seq = 0; /* the occurrence of this segment, as ERR's location counts */
    for (size_t k = 0; k <= i; k++)
        seq += !strcmp(huren_hl7_seg_name(huren_hl7_msg_segment(m->msg, k)), seg);
    at(m, seg, seq, 0);
    return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "segment %zu (%s): %s", i + 1,
                  seg, why);
}

/* One segment of the walk; pid and orc track the context it needs. */
static int segment_map(mapping *m, const huren_hl7_seg *s, size_t i, const huren_hl7_seg **pid,
                       const huren_hl7_seg **orc)
{
    const char *name = huren_hl7_seg_name(s);
    int need_pid = !strcmp(name, "PV1") || !strcmp(name, "OBR") || !strcmp(name, "FT1") ||
                   !strcmp(name, "DG1") || !strcmp(name, "MRG") ||
                   (!strcmp(name, "OBX") && m->kind == K_ORU);
    if (need_pid && !*pid)
        return order_error(m, name, i, "before PID");
    if (!strcmp(name, "PID")) {
        if (*pid) { /* a PATIENT_RESULT group again: fine while it is the same patient */
            huren_index_rec_patient first = m->patient;
            memset(&m->patient, 0, sizeof m->patient);
            int rc = patient_ids(m, s);
            int same = rc == 0 && !strcmp(first.patient_id, m->patient.patient_id);
            m->patient = first;
            if (rc < 0)
                return rc;
            return same ? 0 : order_error(m, name, i, "a second patient in one message");
        }
        *pid = s;
        return patient_map(m, s);
    }
    if (!strcmp(name, "PV1")) { /* the first visit counts, wherever it comes */
        if (m->has_visit || m->visit.visit_class)
            return 0;
        return visit_map(m, s);
    }
    if (!strcmp(name, "ORC")) {
        *orc = s;
        return 0;
    }
    if (!strcmp(name, "OBR") && m->kind == K_ORU)
        return report_begin(m, s, *orc);
    if (!strcmp(name, "OBX") && m->kind == K_ORU)
        return observation_add(m, s);
    if (!strcmp(name, "FT1") && m->kind == K_DFT)
        return charge_add(m, s);
    if (!strcmp(name, "DG1") && (m->kind == K_DFT || m->kind == K_ADT))
        return diagnosis_add(m, s);
    if (!strcmp(name, "MRG") && m->kind == K_MERGE && !m->merge_from) {
        m->merge_from = V(s, 1, 1);
        if (!m->merge_from) {
            at(m, "MRG", 1, 1);
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "MRG-1 missing");
        }
    }
    /* EVN, PD1, NK1, PV2, SFT, SPM, AL1, IN1, Z-segments and any other: not kept; NTE notes
     * neither, since the archive has no place for them */
    return 0;
}

static int walk(mapping *m)
{
    size_t nseg = huren_hl7_msg_segment_count(m->msg);
    const huren_hl7_seg *pid = NULL, *orc = NULL;
    m->reports = calloc(nseg < MAX_REPORTS ? nseg : MAX_REPORTS, sizeof *m->reports);
    m->obs = calloc(nseg, sizeof *m->obs);
    m->dgs = calloc(nseg, sizeof *m->dgs);
    m->charges = calloc(nseg, sizeof *m->charges);
    if (!m->reports || !m->obs || !m->dgs || !m->charges)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "out of memory");
    for (size_t i = 1; i < nseg; i++)
        if (segment_map(m, huren_hl7_msg_segment(m->msg, i), i, &pid, &orc) < 0)
            return -1;
    if (!pid) {
        at(m, "PID", 1, 0);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "PID segment missing");
    }
    if (m->kind == K_ORU && !m->nreports) {
        at(m, "OBR", 1, 0);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "no OBR segment");
    }
    if ((m->ncharges || m->ndgs) && !m->has_visit && V(pid, 18, 1)) {
        m->visit.visit_number = V(pid, 18, 1); /* the account number names the visit */
        m->has_visit = 1;
    }
    if (m->kind == K_ADT && m->ndgs && !m->has_visit) {
        /* an ADT's diagnoses belong to a visit; without its number they cannot be filed, but
         * the patient can: keep the patient, say so in the ACK */
        note(m, "DG1: no visit number (PV1-19, PID-18), %zu diagnoses not kept", m->ndgs);
        m->ndgs = 0;
    }
    if (m->kind == K_DFT && !m->ncharges) {
        at(m, "FT1", 1, 0);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "no FT1 segment");
    }
    if ((m->ncharges || m->ndgs) && !m->has_visit) {
        at(m, "PV1", 1, 19);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "PV1-19: visit number (or PID-18 account number) required for %s",
                      m->ncharges ? "charges" : "diagnoses");
    }
    if (m->kind == K_MERGE && !m->merge_from) {
        at(m, "MRG", 1, 0);
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "MRG segment missing");
    }
    if (m->strs.failed)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "out of memory");
    return 0;
}

static ingest_result store(node *n, mapping *m, huren_index_put_outcome *outcome)
{
    char mtype[24];
    snprintf(mtype, sizeof mtype, "%.8s^%.8s", huren_hl7_msg_type(m->msg),
             huren_hl7_msg_trigger(m->msg));
    huren_index_records r = {
        .source = m->source,
        .message_id = huren_hl7_msg_control_id(m->msg),
        .message_type = mtype,
        .patient = &m->patient,
        .visit = m->has_visit ? &m->visit : NULL,
        .reports = m->reports,
        .nreports = m->nreports,
        .diagnoses = m->dgs,
        .ndiagnoses = m->ndgs,
        .charges = m->charges,
        .ncharges = m->ncharges,
        .merge_from_patient_id = m->merge_from,
    };
    int rc = huren_index_records_put(n->index, &r, outcome);
    if (rc == 0)
        return INGEST_OK;
    const char *why = huren_index_errmsg(n->index);
    if (rc == HUREN_INDEX_EINVAL || rc == HUREN_INDEX_ENOTFOUND) {
        refuse(m, HUREN_HL7_AE,
               rc == HUREN_INDEX_EINVAL ? HUREN_HL7_ERR_DATA_TYPE : HUREN_HL7_ERR_UNKNOWN_KEY, "%s",
               why);
        return INGEST_INVALID;
    }
    refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "archive cannot store the message now");
    log_error("message '%s' from %s not stored: %s", r.message_id, m->source, why);
    return INGEST_FAILED;
}

ingest_result ingest_hl7_message(node *n, const huren_hl7_msg *msg, huren_hl7_handler_result *res,
                                 huren_index_put_outcome *outcome)
{
    mapping m = {.msg = msg, .res = res};
    ingest_result r = INGEST_INVALID;
    res->code = HUREN_HL7_AE;
    res->text[0] = res->error_code[0] = 0;
    snprintf(m.source, sizeof m.source, "%s|%s", huren_hl7_msg_sending_app(msg),
             huren_hl7_msg_sending_facility(msg));
    if (!*huren_hl7_msg_control_id(msg)) {
        at(&m, "MSH", 1, 10);
        refuse(&m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "MSH-10 (control id) missing");
    } else if (kind_of(&m) == 0 && walk(&m) == 0)
        r = store(n, &m, outcome);
    if (r == INGEST_OK) {
        res->code = HUREN_HL7_AA;
        res->error_code[0] = 0;
        snprintf(res->text, sizeof res->text, "%s",
                 *outcome == HUREN_INDEX_PUT_DUPLICATE ? "duplicate: stored before" : m.note);
        if (m.note[0] && *outcome != HUREN_INDEX_PUT_DUPLICATE)
            log_info("message '%s' from %s stored as read: %s", huren_hl7_msg_control_id(msg),
                     m.source, m.note);
        atomic_fetch_add(*outcome == HUREN_INDEX_PUT_DUPLICATE ? &n->metrics.hl7_duplicate
                                                               : &n->metrics.hl7_stored,
                         1);
    } else {
        atomic_fetch_add(r == INGEST_FAILED ? &n->metrics.hl7_failures : &n->metrics.hl7_refused,
                         1);
    }
    hl7_pool_free(&m.strs);
    free(m.reports);
    free(m.obs);
    free(m.dgs);
    free(m.charges);
    return r;
}
