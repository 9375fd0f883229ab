/* dicomweb_qido.c: QIDO-RS (PS3.18 10.6): /studies, /series, /instances and their nested forms
 * become one archive query through the field table (dicom_fields.c), the same mapping C-FIND
 * uses; rows come back as DICOM JSON with the default attributes of PS3.18 10.6.3.3. */
#define LOG_COMPONENT "dicomweb"
#include "ingest/dicom_fields.h"
#include "huren_err.h"
#include "dicom_json.h"
#include "dicomweb.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QIDO_MAX_KEYS 64
#define QIDO_MAX_OFFSET 1000000000L
#define TAG_CHARSET HUREN_DICOM_TAG(0x0008, 0x0005)
#define TAG_AVAILABILITY HUREN_DICOM_TAG(0x0008, 0x0056)
#define TAG_RETRIEVE_URL HUREN_DICOM_TAG(0x0008, 0x1190)
#define TAG_TIMEZONE HUREN_DICOM_TAG(0x0008, 0x0201)

typedef struct qido {
    node *n;
    huren_index_level level;
    huren_index_match m[QIDO_MAX_KEYS];
    size_t nm;
    char *owned[QIDO_MAX_KEYS];
    size_t nowned;
    unsigned char ret[HUREN_INDEX_F_COUNT]; /* fields to return */
    int include_all, has_limit, fuzzy;
    long limit, offset;
    char err[HUREN_ERRLEN];
    json_t *arr;
    size_t rows;
    int more;
    char base[512];
} qido;

/* PS3.18 Table 10.6.3-3 (study), 10.6.3-4 (series), 10.6.3-5 (instance); StudyDescription too,
 * which viewers show in study lists. */
static const huren_index_field study_defaults[] = {HUREN_INDEX_F_STUDY_DATE,
                                                   HUREN_INDEX_F_STUDY_TIME,
                                                   HUREN_INDEX_F_ACCESSION_NUMBER,
                                                   HUREN_INDEX_F_MODALITIES_IN_STUDY,
                                                   HUREN_INDEX_F_REFERRING_PHYSICIAN,
                                                   HUREN_INDEX_F_PATIENT_NAME,
                                                   HUREN_INDEX_F_PATIENT_ID,
                                                   HUREN_INDEX_F_PATIENT_BIRTH_DATE,
                                                   HUREN_INDEX_F_PATIENT_SEX,
                                                   HUREN_INDEX_F_STUDY_UID,
                                                   HUREN_INDEX_F_STUDY_ID,
                                                   HUREN_INDEX_F_STUDY_NUM_SERIES,
                                                   HUREN_INDEX_F_STUDY_NUM_INSTANCES,
                                                   HUREN_INDEX_F_STUDY_DESCRIPTION};
static const huren_index_field series_defaults[] = {HUREN_INDEX_F_MODALITY,
                                                    HUREN_INDEX_F_SERIES_DESCRIPTION,
                                                    HUREN_INDEX_F_SERIES_UID,
                                                    HUREN_INDEX_F_SERIES_NUMBER,
                                                    HUREN_INDEX_F_SERIES_NUM_INSTANCES,
                                                    HUREN_INDEX_F_PPS_START_DATE,
                                                    HUREN_INDEX_F_PPS_START_TIME,
                                                    HUREN_INDEX_F_STUDY_UID};
static const huren_index_field instance_defaults[] = {
    HUREN_INDEX_F_SOP_CLASS_UID,    HUREN_INDEX_F_SOP_INSTANCE_UID,
    HUREN_INDEX_F_INSTANCE_NUMBER,  HUREN_INDEX_F_ROWS,
    HUREN_INDEX_F_COLUMNS,          HUREN_INDEX_F_BITS_ALLOCATED,
    HUREN_INDEX_F_NUMBER_OF_FRAMES, HUREN_INDEX_F_STUDY_UID,
    HUREN_INDEX_F_SERIES_UID};

#define MARK(q, list)                                                                              \
    for (size_t i_ = 0; i_ < sizeof list / sizeof list[0]; i_++)                                   \
    (q)->ret[list[i_]] = 1

static const struct {
    const char *keyword;
    uint32_t tag;
} extra_keywords[] = {
    {"SpecificCharacterSet", TAG_CHARSET},
    {"InstanceAvailability", TAG_AVAILABILITY},
    {"RetrieveURL", TAG_RETRIEVE_URL},
    {"TimezoneOffsetFromUTC", TAG_TIMEZONE},
};

/* An attribute ID (keyword or 8 hex digits): 1 with *f for an archive field, 0 for a tag the
 * archive does not keep, -1 if not an attribute at all. */
static int resolve(const char *id, const dicom_field **f)
{
    *f = NULL;
    size_t len = strlen(id);
    if (len == 8 && strspn(id, "0123456789abcdefABCDEF") == 8) {
        *f = dicom_field_by_tag((uint32_t)strtoul(id, NULL, 16));
        return *f ? 1 : 0;
    }
    for (size_t i = 0; i < dicom_nfields; i++)
        if (strcmp(dicom_fields[i].keyword, id) == 0) {
            *f = &dicom_fields[i];
            return 1;
        }
    for (size_t i = 0; i < sizeof extra_keywords / sizeof extra_keywords[0]; i++)
        if (strcmp(extra_keywords[i].keyword, id) == 0)
            return 0;
    return -1;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || e == v || *e || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int include(qido *q, const char *list)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *id = strtok_r(buf, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        const dicom_field *f;
        if (strcmp(id, "all") == 0) {
            q->include_all = 1;
            continue;
        }
        int r = resolve(id, &f);
        if (r < 0) {
            snprintf(q->err, sizeof q->err, "includefield: unknown attribute \"%.64s\"", id);
            return -1;
        }
        if (r > 0 && huren_index_field_level(f->field) <= q->level)
            q->ret[f->field] = 1; /* attributes below the level, or not kept: not returned */
    }
    return 0;
}

/* A matching value in the archive's syntax: QIDO lists UIDs and codes with ',' where DICOM
 * uses '\'. */
static char *match_value(const dicom_field *f, const char *v)
{
    char *copy = strdup(v);
    int list = huren_index_field_kind(f->field) == HUREN_INDEX_KIND_UID ||
               f->field == HUREN_INDEX_F_MODALITY || f->field == HUREN_INDEX_F_MODALITIES_IN_STUDY;
    for (char *c = copy; copy && list && *c; c++)
        if (*c == ',')
            *c = '\\';
    return copy;
}

static int add_match(qido *q, const char *key, const char *value)
{
    const dicom_field *f;
    int r = resolve(key, &f);
    if (r <= 0) {
        snprintf(q->err, sizeof q->err, "%s query key \"%.64s\"",
                 r < 0 ? "unknown" : "unsupported (not kept by the archive)", key);
        return -1;
    }
    if (huren_index_field_level(f->field) > q->level) {
        snprintf(q->err, sizeof q->err, "%s is not an attribute of this query level", f->keyword);
        return -1;
    }
    q->ret[f->field] = 1;
    if (!value[0])
        return 0; /* universal matching: only asks for the attribute */
    if (huren_index_field_kind(f->field) == HUREN_INDEX_KIND_COUNT) {
        snprintf(q->err, sizeof q->err, "%s cannot be matched", f->keyword);
        return -1;
    }
    for (size_t i = 0; i < q->nm; i++)
        if (q->m[i].field == f->field) {
            snprintf(q->err, sizeof q->err, "%s given twice", f->keyword);
            return -1;
        }
    if (q->nm == QIDO_MAX_KEYS || !(q->owned[q->nowned] = match_value(f, value))) {
        snprintf(q->err, sizeof q->err, "too many query keys");
        return -1;
    }
    q->m[q->nm++] = (huren_index_match){f->field, q->owned[q->nowned++]};
    return 0;
}

static int on_arg(void *payload, const char *key, const char *value)
{
    qido *q = payload;
    if (strcmp(key, "limit") == 0) {
        long max = q->n->cfg->qido_max_results;
        q->has_limit = 1;
        if (parse_long(value, 1, max, &q->limit) < 0) {
            snprintf(q->err, sizeof q->err,
                     "limit must be a number from 1 to %ld ([dicomweb] qido_max_results)", max);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "offset") == 0) {
        if (parse_long(value, 0, QIDO_MAX_OFFSET, &q->offset) < 0) {
            snprintf(q->err, sizeof q->err, "offset must be a number from 0 to %ld",
                     QIDO_MAX_OFFSET);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "fuzzymatching") == 0) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(q->err, sizeof q->err, "fuzzymatching must be true or false");
            return -1;
        }
        q->fuzzy = strcmp(value, "true") == 0;
        return 0;
    }
    if (strcmp(key, "includefield") == 0)
        return include(q, value);
    return add_match(q, key, value);
}

static void retrieve_url(const qido *q, const huren_index_row *row, char *out, size_t len)
{
    const char *const *v = row->values;
    int n = snprintf(out, len, "%s/studies/%s", q->base, v[HUREN_INDEX_F_STUDY_UID]);
    if (q->level >= HUREN_INDEX_LEVEL_SERIES && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, "/series/%s", v[HUREN_INDEX_F_SERIES_UID]);
    if (q->level >= HUREN_INDEX_LEVEL_INSTANCE && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, "/instances/%s", v[HUREN_INDEX_F_SOP_INSTANCE_UID]);
}

static int on_row(void *payload, const huren_index_row *row)
{
    qido *q = payload;
    if (++q->rows > (size_t)q->limit) {
        q->more = 1;
        return 1;
    }
    json_t *o = json_object();
    if (!o)
        return 1;
    for (size_t i = 0; i < dicom_nfields; i++) {
        const dicom_field *f = &dicom_fields[i];
        if (huren_index_field_level(f->field) > q->level)
            continue;
        if (q->ret[f->field] || (q->include_all && f->field != HUREN_INDEX_F_TRANSFER_SYNTAX_UID))
            dicom_json_put(o, f->tag, f->vr, row->values[f->field]);
    }
    char url[1024];
    retrieve_url(q, row, url, sizeof url);
    dicom_json_put(o, TAG_CHARSET, "CS", "ISO_IR 192");
    dicom_json_put(o, TAG_RETRIEVE_URL, "UR", url);
    if (q->level != HUREN_INDEX_LEVEL_SERIES)
        dicom_json_put(o, TAG_AVAILABILITY, "CS", row->held_at ? "NEARLINE" : "ONLINE");
    return json_array_append_new(q->arr, o) < 0;
}

/* The level a path searches, and the defaults it returns (PS3.18 10.6.3.3: a search not
 * scoped to a study or series also returns that level's defaults). */
static int setup_level(qido *q, const dw_path *p, const char *path)
{
    const char *last = strrchr(path, '/');
    if (!last)
        return -1;
    if (strcmp(last, "/studies") == 0)
        q->level = HUREN_INDEX_LEVEL_STUDY;
    else if (strcmp(last, "/series") == 0)
        q->level = HUREN_INDEX_LEVEL_SERIES;
    else
        q->level = HUREN_INDEX_LEVEL_INSTANCE;
    if (q->level == HUREN_INDEX_LEVEL_STUDY || !p->study)
        MARK(q, study_defaults);
    if (q->level == HUREN_INDEX_LEVEL_SERIES ||
        (q->level == HUREN_INDEX_LEVEL_INSTANCE && !p->series))
        MARK(q, series_defaults);
    if (q->level == HUREN_INDEX_LEVEL_INSTANCE)
        MARK(q, instance_defaults);
    if (p->study)
        q->m[q->nm++] = (huren_index_match){HUREN_INDEX_F_STUDY_UID, p->study};
    if (p->series)
        q->m[q->nm++] = (huren_index_match){HUREN_INDEX_F_SERIES_UID, p->series};
    return 0;
}

static int accepts_json(const http_request *req)
{
    dw_media m[DW_MAX_MEDIA];
    size_t n = dw_accept(req, m, DW_MAX_MEDIA);
    for (size_t i = 0; i < n; i++)
        if (dw_media_accepts(&m[i], "application/dicom+json") ||
            strcmp(m[i].type, "application/json") == 0)
            return 1;
    return 0;
}

static int answer(http_request *req, http_response *res, qido *q)
{
    if (q->fuzzy)
        http_response_header(res, "Warning",
                             "299 huren \"The fuzzymatching parameter is not supported. Only "
                             "literal matching has been performed.\"");
    if (q->more)
        http_response_header(res, "Warning",
                             "299 huren \"There are additional results that can be requested.\"");
    if (json_array_size(q->arr) == 0) {
        res->status = 204; /* PS3.18 8.3.4.4.1: no matches */
        res->content_type = "application/dicom+json";
        return 0;
    }
    char *text = json_dumps(q->arr, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return -1;
    (void)req;
    return http_reply_buffer(res, 200, "application/dicom+json", text, strlen(text));
}

static void qido_free(qido *q)
{
    for (size_t i = 0; i < q->nowned; i++)
        free(q->owned[i]);
    json_decref(q->arr);
}

int dicomweb_search(http_request *req, http_response *res)
{
    dw_path p;
    if (dw_path_parse(req, res, &p) < 0)
        return 0;
    if (!accepts_json(req))
        return dw_error(res, 406, "QIDO-RS answers application/dicom+json only");
    qido q = {.n = req->app, .limit = 0};
    if (setup_level(&q, &p, req->path) < 0)
        return dw_error(res, 404, "not found");
    if (http_request_args(req, on_arg, &q) != 0) {
        qido_free(&q);
        return dw_error(res, 400, "%s", q.err[0] ? q.err : "bad query");
    }
    if (!q.has_limit)
        q.limit = q.n->cfg->qido_max_results;
    dw_base_url(req, q.base, sizeof q.base);
    if (!(q.arr = json_array()))
        return -1;
    huren_index_query iq = {q.level, q.m, q.nm, (size_t)q.limit + 1, (size_t)q.offset};
    int rc = huren_index_find(q.n->index, &iq, on_row, &q);
    int ret = 0;
    if (rc == HUREN_INDEX_EINVAL)
        ret = dw_error(res, 400, "%s", huren_index_errmsg(q.n->index));
    else if (rc < 0 && !(rc == HUREN_INDEX_ECANCEL && q.more))
        log_error("QIDO-RS %s: %s", req->path, huren_index_errmsg(q.n->index)), ret = -1;
    else
        ret = answer(req, res, &q);
    /* the audit trail records whom and what a search was about, when it names them */
    for (size_t i = 0; i < q.nm; i++)
        if (q.m[i].field == HUREN_INDEX_F_PATIENT_ID)
            dw_audit(res, q.m[i].value, NULL);
        else if (q.m[i].field == HUREN_INDEX_F_STUDY_UID)
            dw_audit(res, NULL, q.m[i].value);
    qido_free(&q);
    return ret;
}
