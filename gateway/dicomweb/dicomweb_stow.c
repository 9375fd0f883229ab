/* dicomweb_stow.c: STOW-RS (PS3.18 10.5): the multipart/related body streams through the
 * multipart reader into temp files in the archive's tmp dir (never whole in memory); once the
 * body is complete and well formed, each part is parsed and stored through ingest_dicom, with
 * the durability of C-STORE, and the answer lists what was stored and what failed, and why. */
#define LOG_COMPONENT "dicomweb"
#include "dicom_json.h"
#include "huren_err.h"
#include "dicomweb.h"
#include "ingest/ingest_dicom.h"
#include "log.h"
#include "http/multipart.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* PS3.18 Table 10.5.3-2 failure reasons (decimal in the answer) */
#define FAIL_PROCESSING 0x0110
#define FAIL_OUT_OF_RESOURCES 0xA700
#define FAIL_MISMATCH 0xA900
#define FAIL_CANNOT_UNDERSTAND 0xC000

#define TAG_RETRIEVE_URL HUREN_DICOM_TAG(0x0008, 0x1190)
#define TAG_FAILED_SEQ HUREN_DICOM_TAG(0x0008, 0x1198)
#define TAG_REFERENCED_SEQ HUREN_DICOM_TAG(0x0008, 0x1199)
#define TAG_REF_CLASS HUREN_DICOM_TAG(0x0008, 0x1150)
#define TAG_REF_INSTANCE HUREN_DICOM_TAG(0x0008, 0x1155)
#define TAG_FAILURE_REASON HUREN_DICOM_TAG(0x0008, 0x1197)

typedef struct stow_part {
    char *path;          /* its temp file, or NULL (not kept, or consumed) */
    const char *refused; /* why its bytes were dropped (static text), or NULL */
} stow_part;

typedef struct stow {
    node *n;
    multipart_reader *reader;
    stow_part *parts;
    size_t nparts, cap;
    int fd; /* temp file of the part being received */
    uint64_t received;
    int status; /* an error found while streaming (400, 413, 500), or 0 */
    char err[HUREN_ERRLEN];
    char study[65]; /* the study the path names, or "" */
} stow;

static int part_begin(void *payload, const char *headers, size_t len)
{
    stow *s = payload;
    if ((long)s->nparts >= s->n->cfg->dicomweb_max_stow_parts) {
        s->status = 413;
        snprintf(s->err, sizeof s->err, "more than %ld parts ([dicomweb] max_stow_parts)",
                 s->n->cfg->dicomweb_max_stow_parts);
        return -1;
    }
    if (s->nparts == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        stow_part *p = realloc(s->parts, cap * sizeof *p);
        if (!p)
            return -1;
        s->parts = p;
        s->cap = cap;
    }
    stow_part *p = &s->parts[s->nparts++];
    memset(p, 0, sizeof *p);
    /* RFC 2046 5.1: a part without a (valid) Content-Type is text/plain; only
     * application/dicom parts are stored, the others are dropped and answered 0xC000 */
    char ct[256];
    if (multipart_header(headers, len, "Content-Type", ct, sizeof ct) < 0)
        p->refused = "no valid Content-Type header (RFC 2046: text/plain)";
    else if (!multipart_is_type(ct, "application/dicom"))
        p->refused = "Content-Type is not application/dicom";
    if (p->refused)
        return 0;
    const char *dir = huren_index_tmp_dir(s->n->index);
    size_t plen = strlen(dir) + sizeof "/stow-XXXXXX";
    if (!(p->path = malloc(plen)))
        return -1;
    snprintf(p->path, plen, "%s/stow-XXXXXX", dir);
    if ((s->fd = mkstemp(p->path)) < 0) {
        s->status = 500;
        snprintf(s->err, sizeof s->err, "cannot create a temp file: %s", strerror(errno));
        free(p->path);
        p->path = NULL;
        return -1;
    }
    return 0;
}

static int part_data(void *payload, const char *data, size_t len)
{
    stow *s = payload;
    while (s->fd >= 0 && len) {
        ssize_t w = write(s->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->status = 500;
            snprintf(s->err, sizeof s->err, "cannot write a temp file: %s", strerror(errno));
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int part_end(void *payload)
{
    stow *s = payload;
    if (s->fd >= 0 && close(s->fd) != 0) {
        s->fd = -1;
        s->status = 500;
        snprintf(s->err, sizeof s->err, "cannot write a temp file: %s", strerror(errno));
        return -1;
    }
    s->fd = -1;
    return 0;
}

static const multipart_callbacks stow_callbacks = {part_begin, part_data, part_end};

static int refuse(http_response *res, int status, const char *msg)
{
    dw_error(res, status, "%s", msg);
    return -1;
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

/* Before any body byte: content type, size, study UID of the path, Accept. */
static int stow_open(http_request *req, http_response *res, void **ctx)
{
    node *n = req->app;
    dw_path p;
    if (dw_path_parse(req, res, &p) < 0)
        return -1;
    const char *ct = http_request_header(req, "Content-Type");
    char type[128], boundary[MULTIPART_MAX_BOUNDARY + 1];
    if (!multipart_is_type(ct, "multipart/related"))
        return refuse(res, 415, "STOW-RS takes multipart/related; type=\"application/dicom\"");
    if (multipart_param(ct, "type", type, sizeof type) == 0 &&
        !multipart_is_type(type, "application/dicom"))
        return refuse(res, 415,
                      "only application/dicom parts are supported (not the "
                      "metadata and bulk data form)");
    if (multipart_param(ct, "boundary", boundary, sizeof boundary) < 0 || !boundary[0])
        return refuse(res, 400, "multipart/related without a valid boundary parameter");
    if (!accepts_json(req))
        return refuse(res, 406, "STOW-RS answers application/dicom+json only");
    const char *cl = http_request_header(req, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)n->cfg->dicomweb_max_stow_bytes)
        return refuse(res, 413, "body larger than [dicomweb] max_stow_bytes");
    stow *s = calloc(1, sizeof *s);
    if (!s)
        return refuse(res, 500, "out of memory");
    s->n = n;
    s->fd = -1;
    snprintf(s->study, sizeof s->study, "%s", p.study ? p.study : "");
    if (!(s->reader = multipart_reader_new(boundary, &stow_callbacks, s))) {
        free(s);
        return refuse(res, 500, "out of memory");
    }
    *ctx = s;
    return 0;
}

/* Past max_stow_bytes the connection is closed (only a body without Content-Length gets this
 * far); a malformed body is read to its end and dropped, then answered 400. */
static int stow_write(void *ctx, const char *data, size_t len)
{
    stow *s = ctx;
    s->received += len;
    if (s->received > (uint64_t)s->n->cfg->dicomweb_max_stow_bytes)
        return -1;
    if (s->status)
        return 0;
    if (multipart_reader_feed(s->reader, data, len) < 0 && !s->status) {
        s->status = 400;
        snprintf(s->err, sizeof s->err, "%s", multipart_reader_error(s->reader));
    }
    return 0;
}

static void stow_close(void *ctx)
{
    stow *s = ctx;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].path) {
            unlink(s->parts[i].path); /* parts not stored (an error ended the request) */
            free(s->parts[i].path);
        }
    multipart_reader_free(s->reader);
    free(s->parts);
    free(s);
}

const http_body_sink dicomweb_stow_sink = {stow_open, stow_write, stow_close};

/* ---- after the body: store each part ---- */

typedef struct stow_result {
    json_t *ref, *failed;
    size_t stored;
    char patient[128];
    char study[65];
    int several_studies;
    char base[512];
} stow_result;

static void add_failed(stow_result *r, const char *sop_class, const char *sop, unsigned reason)
{
    json_t *item = json_object();
    if (sop_class)
        dicom_json_put(item, TAG_REF_CLASS, "UI", sop_class);
    if (sop)
        dicom_json_put(item, TAG_REF_INSTANCE, "UI", sop);
    dicom_json_put_int(item, TAG_FAILURE_REASON, "US", reason);
    json_array_append_new(r->failed, item);
}

static void add_ref(stow_result *r, const char *sop_class, const char *sop, const char *study,
                    const char *series, const char *patient)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s", r->base, study, series, sop);
    json_t *item = json_object();
    dicom_json_put(item, TAG_REF_CLASS, "UI", sop_class);
    dicom_json_put(item, TAG_REF_INSTANCE, "UI", sop);
    dicom_json_put(item, TAG_RETRIEVE_URL, "UR", url);
    json_array_append_new(r->ref, item);
    if (r->stored++ == 0) {
        snprintf(r->study, sizeof r->study, "%s", study);
        snprintf(r->patient, sizeof r->patient, "%s", patient ? patient : "");
    } else if (strcmp(r->study, study) != 0) {
        r->several_studies = 1;
    }
}

/* A Part-10 file starts with a 128-byte preamble and "DICM" (PS3.10 7.1). */
static int is_part10(const char *path)
{
    char b[132];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, b, sizeof b, 0) : -1;
    if (fd >= 0)
        close(fd);
    return n == (ssize_t)sizeof b && memcmp(b + 128, "DICM", 4) == 0;
}

/* Store one received part; its temp file is consumed in every case. */
static void store_part(stow *s, size_t i, stow_result *r)
{
    stow_part *p = &s->parts[i];
    if (p->refused) {
        log_warnx("STOW-RS part %zu refused: %s", i + 1, p->refused);
        add_failed(r, NULL, NULL, FAIL_CANNOT_UNDERSTAND);
        return;
    }
    huren_dicom_file *f = NULL;
    char err[HUREN_ERRLEN] = "not a DICOM Part-10 file";
    if (!is_part10(p->path) || huren_dicom_file_parse(p->path, &f, err, sizeof err) != 0) {
        log_warnx("STOW-RS part %zu refused: %s", i + 1, err);
        add_failed(r, NULL, NULL, FAIL_CANNOT_UNDERSTAND);
        goto done;
    }
    size_t nel;
    const huren_dicom_element *el = huren_dicom_file_elements(f, &nel);
    const char *cls = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0008, 0x0016));
    const char *sop = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0008, 0x0018));
    const char *study = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0020, 0x000D));
    const char *series = huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0020, 0x000E));
    if (s->study[0] && (!study || strcmp(study, s->study) != 0)) {
        log_warnx("STOW-RS %s refused: not of study %s", sop ? sop : "?", s->study);
        add_failed(r, cls, sop, FAIL_MISMATCH);
        goto done;
    }
    huren_index_put_outcome outcome;
    ingest_result ir =
        ingest_dicom_instance(s->n, el, nel, huren_dicom_file_transfer_syntax(f), p->path,
                              HUREN_INDEX_PUT_DEFER_SYNC, &outcome, err, sizeof err);
    free(p->path); /* consumed */
    p->path = NULL;
    if (ir == INGEST_OK) {
        add_ref(r, cls, sop, study, series,
                huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0010, 0x0020)));
    } else {
        if (ir == INGEST_INVALID)
            log_warnx("STOW-RS %s refused: %s", sop ? sop : "?", err);
        else
            log_error("STOW-RS %s not stored: %s", sop ? sop : "?", err);
        add_failed(r, cls, sop, ir == INGEST_INVALID ? FAIL_MISMATCH : FAIL_OUT_OF_RESOURCES);
    }
done:
    if (p->path) {
        unlink(p->path);
        free(p->path);
        p->path = NULL;
    }
    huren_dicom_file_free(f);
}

static int stow_answer(http_response *res, stow_result *r, const char *path_study)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    const char *study = path_study[0] ? path_study : r->several_studies ? NULL : r->study;
    if (study && study[0]) {
        char url[1024];
        snprintf(url, sizeof url, "%s/studies/%s", r->base, study);
        dicom_json_put(o, TAG_RETRIEVE_URL, "UR", url);
    }
    size_t nfailed = json_array_size(r->failed);
    if (nfailed)
        dicom_json_put_seq(o, TAG_FAILED_SEQ, json_incref(r->failed));
    if (r->stored)
        dicom_json_put_seq(o, TAG_REFERENCED_SEQ, json_incref(r->ref));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return -1;
    /* PS3.18 10.5.3: all stored 200, some 202, none 409 */
    int status = r->stored == 0 ? 409 : nfailed ? 202 : 200;
    dw_audit(res, r->patient, study ? study : r->study);
    return http_reply_buffer(res, status, "application/dicom+json", text, strlen(text));
}

int dicomweb_store(http_request *req, http_response *res)
{
    stow *s = req->body_ctx;
    if (!s)
        return dw_error(res, 500, "no body sink");
    if (s->status)
        return dw_error(res, s->status, "%s; nothing stored", s->err);
    if (multipart_reader_finish(s->reader) < 0)
        return dw_error(res, 400, "%s; nothing stored", multipart_reader_error(s->reader));
    if (s->nparts == 0)
        return dw_error(res, 400, "no parts in the body");
    stow_result r = {.ref = json_array(), .failed = json_array()};
    dw_base_url(req, r.base, sizeof r.base);
    int rc = -1;
    if (r.ref && r.failed) {
        for (size_t i = 0; i < s->nparts; i++)
            store_part(s, i, &r);
        /* the parts' WAL syncs ran behind their puts, together: one wait before the answer */
        if (huren_index_durable_wait(s->n->index) < 0) {
            log_error("STOW-RS from %s: %s", req->remote, huren_index_errmsg(s->n->index));
            rc = dw_error(res, 503, "the archive could not make the instances durable; send again");
        } else {
            log_info("STOW-RS from %s: %zu of %zu instances stored", req->remote, r.stored,
                     s->nparts);
            rc = stow_answer(res, &r, s->study);
        }
    }
    json_decref(r.ref);
    json_decref(r.failed);
    return rc;
}
