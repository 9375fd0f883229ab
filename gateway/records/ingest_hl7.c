/* ingest_hl7.c: HL7 v2 messages onto the archive's clinical records. ADT^A01/A03/A04/A08
 * (patient, visit), ADT^A40 (merge), ORU^R01 (a report per OBR with its OBX), DFT^P03 (FT1
 * charges, DG1 diagnoses). Walks the segments once, checking their order and required fields,
 * then stores everything with one huren_index_records_put (one transaction, group commit). */
#define LOG_COMPONENT "hl7"
#include "ingest_hl7.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTS 1000

typedef enum msg_kind { K_ADT, K_MERGE, K_ORU, K_DFT } msg_kind;

/* Strings built while mapping (joined repetitions, ...), freed together. */
typedef struct pool {
    char **v;
    size_t n, cap;
} pool;

typedef struct mapping {
    const huren_hl7_msg *msg;
    msg_kind kind;
    pool strs;
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
    /* the refusal, when any */
    huren_hl7_handler_result *res;
} mapping;

static const char *pool_add(mapping *m, char *s)
{
    if (!s)
        return NULL;
    if (m->strs.n == m->strs.cap) {
        size_t cap = m->strs.cap ? m->strs.cap * 2 : 32;
        char **v = realloc(m->strs.v, cap * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        m->strs.v = v;
        m->strs.cap = cap;
    }
    m->strs.v[m->strs.n++] = s;
    return s;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

/* Refuse the message: AE (or AR) with a table 0357 code and a reason naming the position. */
__attribute__((format(printf, 4, 5))) static int refuse(mapping *m, huren_hl7_ack_code code,
                                                        const char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->res->text, sizeof m->res->text, fmt, ap);
    va_end(ap);
    snprintf(m->res->error_code, sizeof m->res->error_code, "%s", err);
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

/* The components from..to of one repetition joined by sep ("code^text"), trailing empties
 * dropped; or the repetitions of component 1 joined by sep when to is 0. */
static const char *join(mapping *m, const huren_hl7_seg *s, int field, int rep, int from, int to,
                        const char *sep)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int n = to ? to : huren_hl7_seg_rep_count(s, field);
    int written = 0;
    for (int i = to ? from : 1; i <= n; i++) {
        const char *v = to ? huren_hl7_seg_get(s, field, rep, i, 1)
                           : huren_hl7_seg_get(s, field, i, 1, 1);
        if (!v)
            continue;
        if (to) { /* keep inner empty components so positions stay readable */
            if (i > from)
                fputs(sep, f);
            fputs(v, f);
            if (*v)
                written = (int)ftell(f);
        } else if (*v) {
            fprintf(f, "%s%s", written ? sep : "", v);
            written = (int)ftell(f);
        }
    }
    fclose(f);
    if (!out)
        return NULL;
    out[written] = 0; /* trailing separators of empty components go */
    if (!*out) {
        free(out);
        return NULL;
    }
    return pool_add(m, out);
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

int ingest_hl7_resident_id_valid(const char *id)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    size_t n = id ? strlen(id) : 0;
    if (n == 15) {
        for (size_t i = 0; i < 15; i++)
            if (!isdigit((unsigned char)id[i]))
                return 0;
        return 1;
    }
    if (n != 18)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (!isdigit((unsigned char)id[i]))
            return 0;
        sum += (id[i] - '0') * weight[i];
    }
    return toupper((unsigned char)id[17]) == check[sum % 11];
}

/* Identifier types (PID-3.5) that carry the national resident id. */
static int national_type(const char *t)
{
    return t && (!strcmp(t, "ID") || !strcmp(t, "NI") || !strcmp(t, "NNCHN"));
}

static int patient_map(mapping *m, const huren_hl7_seg *pid)
{
    huren_index_rec_patient *p = &m->patient;
    int reps = huren_hl7_seg_rep_count(pid, 3);
    for (int r = 1; r <= reps; r++) {
        const char *id = huren_hl7_seg_get(pid, 3, r, 1, 1);
        const char *type = huren_hl7_seg_get(pid, 3, r, 5, 1);
        if (!id || !*id)
            continue;
        if (national_type(type)) {
            if (!ingest_hl7_resident_id_valid(id))
                return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                              "PID-3 repetition %d: type %s is not a valid resident id", r, type);
            if (!p->national_id) {
                p->national_id = id;
                p->national_id_type = type;
            }
        } else if (!p->patient_id) {
            p->patient_id = id; /* PI, MR, PT or untyped: the hospital's own id */
        }
    }
    if (!p->patient_id)
        p->patient_id = V(pid, 2, 1); /* v2.3 senders: the external id */
    if (!p->patient_id)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "PID-3: no local patient identifier");
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
    if (!m->has_visit && m->kind == K_DFT)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "PV1-19: visit number required for charges");
    return 0;
}

/* ---- ORU: OBR and OBX ---- */

/* Diagnostic service sections (OBR-24) whose reports are exams rather than lab results. */
static int exam_section(const char *s)
{
    static const char *const exam[] = {"RAD", "CT", "MR", "MRI", "US", "NM", "XR", "RX", "DX",
                                       "CR", "MG", "PT", "PET", "EC", "ECG", "EN", "CUS", "OUS",
                                       "VUS", "RUS", "NMR", "CTH", "PAT", "SP", "ES", NULL};
    for (int i = 0; s && exam[i]; i++)
        if (strcmp(s, exam[i]) == 0)
            return 1;
    return 0;
}

static int report_begin(mapping *m, const huren_hl7_seg *obr, const huren_hl7_seg *orc)
{
    if (m->nreports == MAX_REPORTS)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_INTERNAL, "more than %d OBR segments",
                      MAX_REPORTS);
    huren_index_report *r = &m->reports[m->nreports++];
    int n = (int)m->nreports;
    memset(r, 0, sizeof *r);
    r->placer_number = V(obr, 2, 1) ? V(obr, 2, 1) : (orc ? V(orc, 2, 1) : NULL);
    r->filler_number = V(obr, 3, 1) ? V(obr, 3, 1) : (orc ? V(orc, 3, 1) : NULL);
    r->item_code = V(obr, 4, 1);
    r->item_name = V(obr, 4, 2);
    r->item_system = V(obr, 4, 3);
    if (!r->item_code)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "OBR %d: OBR-4 missing", n);
    if (!r->placer_number && !r->filler_number)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "OBR %d: OBR-2 or OBR-3 (order number) missing", n);
    r->requested_time = ts(m, obr, 6);
    r->observed_time = ts(m, obr, 7);
    r->specimen = V(obr, 15, 1);
    r->accession_number = V(obr, 18, 1);
    r->reported_time = ts(m, obr, 22);
    r->performing_department = V(obr, 24, 1);
    r->result_status = V(obr, 25, 1);
    r->kind = exam_section(r->performing_department) ? HUREN_INDEX_REPORT_EXAM
                                                     : HUREN_INDEX_REPORT_LAB;
    r->ordering_institution = orc && V(orc, 21, 1) ? V(orc, 21, 1) : NULL;
    r->ordering_department = orc && V(orc, 13, 1) ? V(orc, 13, 1) : m->visit.department;
    r->performing_institution = huren_hl7_msg_sending_facility(m->msg);
    r->sender_app = huren_hl7_msg_sending_app(m->msg);
    r->sender_facility = huren_hl7_msg_sending_facility(m->msg);
    r->obs = m->obs + m->nobs;
    return 0;
}

static int number_valid(const char *v)
{
    char *end;
    errno = 0;
    strtod(v, &end);
    while (*end == ' ')
        end++;
    return end != v && *end == 0 && errno == 0;
}

static const char *const value_types[] = {"NM", "ST", "TX", "FT", "CE", "CWE", "CNE", "SN",
                                          "DT", "TM", "TS", "DTM", "ID", "IS", "CF", "CX",
                                          "ED", "RP", NULL};

static int obx_value(mapping *m, const huren_hl7_seg *obx, huren_index_observation *o, int n)
{
    const char *vt = o->value_type;
    int known = 0;
    for (int i = 0; vt && value_types[i]; i++)
        known |= strcmp(vt, value_types[i]) == 0;
    if (vt && !known)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                      "OBX %d: OBX-2 value type not supported", n);
    if (!vt && huren_hl7_seg_rep_count(obx, 5) > 0)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "OBX %d: OBX-2 missing for a value", n);
    if (!vt)
        return 0;
    if (!strcmp(vt, "TX") || !strcmp(vt, "FT") || !strcmp(vt, "ST"))
        o->value = join(m, obx, 5, 1, 0, 0, "\n"); /* text: one line per repetition */
    else if (!strcmp(vt, "SN"))
        o->value = join(m, obx, 5, 1, 1, 4, ""); /* "<^5" -> "<5", "^10^-^20" -> "10-20" */
    else if (!strcmp(vt, "CE") || !strcmp(vt, "CWE") || !strcmp(vt, "CNE"))
        o->value = join(m, obx, 5, 1, 1, 3, "^");
    else
        o->value = V(obx, 5, 1);
    if (!strcmp(vt, "NM") && o->value && !number_valid(o->value))
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                      "OBX %d: OBX-5 is not a number (value type NM)", n);
    return 0;
}

static int observation_add(mapping *m, const huren_hl7_seg *obx)
{
    huren_index_report *r = &m->reports[m->nreports - 1];
    huren_index_observation *o = &m->obs[m->nobs++];
    int n = (int)m->nobs;
    memset(o, 0, sizeof *o);
    r->nobs++;
    o->set_id = V(obx, 1, 1);
    o->value_type = V(obx, 2, 1);
    o->code = V(obx, 3, 1);
    o->name = V(obx, 3, 2);
    o->code_system = V(obx, 3, 3);
    if (!o->code && !o->name)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "OBX %d: OBX-3 missing", n);
    if (obx_value(m, obx, o, n) < 0)
        return -1;
    o->units = V(obx, 6, 1) ? V(obx, 6, 1) : V(obx, 6, 2);
    o->reference_range = V(obx, 7, 1);
    o->abnormal_flags = join(m, obx, 8, 1, 0, 0, "~");
    o->status = V(obx, 11, 1);
    o->observed_time = ts(m, obx, 14);
    if (r->nobs == 1 && V(obx, 23, 1))
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
    c->item_code = V(ft1, 7, 1);
    c->item_name = V(ft1, 7, 2) ? V(ft1, 7, 2) : V(ft1, 8, 1);
    c->quantity = V(ft1, 10, 1);
    c->department = V(ft1, 13, 2) ? V(ft1, 13, 2) : V(ft1, 13, 1);
    if (!c->item_code)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "FT1 %d: FT1-7 missing", n);
    const char *amount = val(ft1, 11, 1, 1), *price = val(ft1, 12, 1, 1);
    if (price) {
        if (ingest_hl7_money_parse(price, &c->unit_price_fen) < 0)
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-12 is not an amount exact to the fen", n);
        c->has_unit_price = 1;
    }
    int64_t qm = 1000;
    if (c->quantity && decimal_parse(c->quantity, 3, &qm) < 0)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                      "FT1 %d: FT1-10 is not a quantity", n);
    if (amount) {
        if (ingest_hl7_money_parse(amount, &c->amount_fen) < 0)
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-11 is not an amount exact to the fen", n);
    } else if (price) {
        int64_t x; /* found by fuzz_hl7_ingest: quantity times price can pass 9.2e18 */
        if (__builtin_mul_overflow(qm, c->unit_price_fen, &x) || x > INT64_MAX - 500 ||
            x < INT64_MIN + 500)
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_DATA_TYPE,
                          "FT1 %d: FT1-10 times FT1-12 is too large an amount", n);
        c->amount_fen = (x >= 0 ? x + 500 : x - 500) / 1000;
    } else {
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
    d->code = V(dg1, 3, 1);
    d->description = V(dg1, 3, 2) ? V(dg1, 3, 2) : V(dg1, 4, 1);
    d->code_system = V(dg1, 3, 3) ? V(dg1, 3, 3) : V(dg1, 2, 1);
    d->diagnosed_time = ts(m, dg1, 5);
    d->type = V(dg1, 6, 1);
    if (!d->code)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "DG1 %d: DG1-3 missing", n);
    return 0;
}

/* ---- the message ---- */

static int kind_of(mapping *m)
{
    const char *type = huren_hl7_msg_type(m->msg), *ev = huren_hl7_msg_trigger(m->msg);
    static const char *const adt_events[] = {"A01", "A03", "A04", "A08", NULL};
    if (!strcmp(type, "ADT")) {
        if (!strcmp(ev, "A40")) {
            m->kind = K_MERGE;
            return 0;
        }
        for (int i = 0; adt_events[i]; i++)
            if (!strcmp(ev, adt_events[i])) {
                m->kind = K_ADT;
                return 0;
            }
        return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_EVENT,
                      "ADT event %.8s not supported", ev);
    }
    if (!strcmp(type, "ORU") || !strcmp(type, "DFT")) {
        int oru = type[0] == 'O';
        if (strcmp(ev, oru ? "R01" : "P03") != 0)
            return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_EVENT,
                          "%s event %.8s not supported", type, ev);
        m->kind = oru ? K_ORU : K_DFT;
        return 0;
    }
    return refuse(m, HUREN_HL7_AR, HUREN_HL7_ERR_UNSUPPORTED_TYPE,
                  "message type %.8s not supported", type);
}

static int order_error(mapping *m, const char *seg, size_t i, const char *why)
{
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
        if (*pid)
            return order_error(m, name, i, "one patient per message");
        *pid = s;
        return patient_map(m, s);
    }
    if (!strcmp(name, "PV1")) {
        if (m->nreports || m->ncharges || m->ndgs)
            return order_error(m, name, i, "PV1 after results, charges or diagnoses");
        return visit_map(m, s);
    }
    if (!strcmp(name, "ORC")) {
        *orc = s;
        return 0;
    }
    if (!strcmp(name, "OBR") && m->kind == K_ORU)
        return report_begin(m, s, *orc);
    if (!strcmp(name, "OBX") && m->kind == K_ORU) {
        if (!m->nreports)
            return order_error(m, name, i, "OBX before any OBR");
        return observation_add(m, s);
    }
    if (!strcmp(name, "FT1") && m->kind == K_DFT)
        return charge_add(m, s);
    if (!strcmp(name, "DG1") && (m->kind == K_DFT || m->kind == K_ADT))
        return diagnosis_add(m, s);
    if (!strcmp(name, "MRG") && m->kind == K_MERGE && !m->merge_from) {
        m->merge_from = V(s, 1, 1);
        if (!m->merge_from)
            return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "MRG-1 missing");
    }
    return 0; /* EVN, PD1, NK1, PV2, NTE, SPM, AL1, IN1, Z-segments: not kept */
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
    if (!pid)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "PID segment missing");
    if (m->kind == K_ORU && !m->nreports)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "no OBR segment");
    if (m->kind == K_DFT && (!m->has_visit || !m->ncharges))
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE,
                      !m->has_visit ? "PV1 with a visit number missing" : "no FT1 segment");
    if (m->kind == K_MERGE && !m->merge_from)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_SEGMENT_SEQUENCE, "MRG segment missing");
    if (m->ndgs && !m->has_visit)
        return refuse(m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD,
                      "PV1-19: visit number required for diagnoses");
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
               rc == HUREN_INDEX_EINVAL ? HUREN_HL7_ERR_DATA_TYPE : HUREN_HL7_ERR_UNKNOWN_KEY,
               "%s", why);
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
    if (!*huren_hl7_msg_control_id(msg))
        refuse(&m, HUREN_HL7_AE, HUREN_HL7_ERR_REQUIRED_FIELD, "MSH-10 (control id) missing");
    else if (kind_of(&m) == 0 && walk(&m) == 0)
        r = store(n, &m, outcome);
    if (r == INGEST_OK) {
        res->code = HUREN_HL7_AA;
        res->error_code[0] = 0;
        snprintf(res->text, sizeof res->text, "%s",
                 *outcome == HUREN_INDEX_PUT_DUPLICATE ? "duplicate: stored before" : "");
        atomic_fetch_add(*outcome == HUREN_INDEX_PUT_DUPLICATE ? &n->metrics.hl7_duplicate
                                                               : &n->metrics.hl7_stored,
                         1);
    } else {
        atomic_fetch_add(r == INGEST_FAILED ? &n->metrics.hl7_failures : &n->metrics.hl7_refused,
                         1);
    }
    pool_free(&m.strs);
    free(m.reports);
    free(m.obs);
    free(m.dgs);
    free(m.charges);
    return r;
}
