/* dicomweb_wado.c: WADO-RS (PS3.18 10.4): study, series and instance retrieval streamed from
 * the blob files as multipart/related (byte-identical to what was stored), /metadata streamed
 * one instance at a time as DICOM JSON, /frames and the pixel data bulk data. */
#define LOG_COMPONENT "dicomweb"
#include "dicomweb.h"
#include "log.h"
#include "huren_err.h"
#include "http/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WADO_MAX_FRAMES 256

/* What a retrieval's Accept allows: 1 multipart/related of application/dicom, 2 a single
 * application/dicom part (instance level), 0 nothing we can send (406 with *why). */
static int retrieve_form(const http_request *req, const dw_instances *set, int instance_level,
                         const char **why)
{
    dw_media m[DW_MAX_MEDIA];
    size_t n = dw_accept(req, m, DW_MAX_MEDIA);
    *why = "WADO-RS retrieval answers multipart/related; type=\"application/dicom\"";
    for (size_t i = 0; i < n; i++) {
        int multi = strcmp(m[i].type, "multipart/related") == 0 || strcmp(m[i].type, "*/*") == 0 ||
                    strcmp(m[i].type, "multipart/*") == 0;
        int single = instance_level && strcmp(m[i].type, "application/dicom") == 0;
        if (!multi && !single)
            continue;
        if (multi && m[i].part[0] && strcmp(m[i].part, "application/dicom") != 0)
            continue;
        if (m[i].ts[0] && strcmp(m[i].ts, "*") != 0) {
            size_t k = 0;
            while (k < set->n && strcmp(set->v[k].ts, m[i].ts) == 0)
                k++;
            if (k < set->n) {
                *why = "instances are served in the transfer syntax they were stored in "
                       "(transcoding is not supported): ask transfer-syntax=*";
                continue;
            }
        }
        return single ? 2 : 1;
    }
    return 0;
}

static void instance_url(const http_request *req, const dw_instance *x, char *out, size_t len)
{
    char base[512];
    dw_base_url(req, base, sizeof base);
    snprintf(out, len, "%s/studies/%s/series/%s/instances/%s", base, x->study_uid, x->series_uid,
             x->sop_uid);
}

static int find_or_404_held(http_request *req, http_response *res, dw_path *p, dw_instances *set);

static void study_read(node *n, const char *study, int delta)
{
    if (study && *study && n->hooks.study_read)
        n->hooks.study_read(n, study, delta);
}

/* keep = 1: the study stays marked as being read (the caller ends the read); else the read
 * is only noted. */
static int find_or_404_ex(http_request *req, http_response *res, dw_path *p, dw_instances *set,
                          int keep);

static int find_or_404(http_request *req, http_response *res, dw_path *p, dw_instances *set)
{
    return find_or_404_ex(req, res, p, set, 0);
}

static int find_or_404_ex(http_request *req, http_response *res, dw_path *p, dw_instances *set,
                          int keep)
{
    if (dw_path_parse(req, res, p) < 0)
        return -1;
    study_read(req->app, p->study, 1);
    int rc = find_or_404_held(req, res, p, set);
    if (rc < 0 || !keep)
        study_read(req->app, p->study, -1);
    return rc;
}

static int find_or_404_held(http_request *req, http_response *res, dw_path *p, dw_instances *set)
{
    if (dw_find_instances(req->app, p, 0, set, res) < 0)
        return res->status == 400 ? -1 : -2;
    node *n = req->app;
    if (set->n == 0 && p->study && n->hooks.study_not_held) {
        /* held elsewhere (the hospital's PACS, a listed prior): fetched, then answered */
        char err[HUREN_ERRLEN] = "";
        int got = n->hooks.study_not_held(n, p->study, err, sizeof err);
        if (got < 0)
            log_warnx("WADO-RS: fetching study %s failed: %s", p->study, err);
        if (got > 0) {
            dw_instances_free(set);
            if (dw_find_instances(req->app, p, 0, set, res) < 0)
                return res->status == 400 ? -1 : -2;
        }
    }
    if (set->n == 0) {
        dw_error(res, 404, "no such %s", p->instance ? "instance" : p->series ? "series" : "study");
        return -1;
    }
    dw_audit(res, set->patient_id, set->v[0].study_uid);
    return 0;
}

/* A retrieval's multipart body, with the coerced temp files of the retrieved copies in it
 * (removed once the answer is sent or abandoned). */
typedef struct served {
    node *n;
    char study[65]; /* being read until the answer is sent or abandoned */
    multipart_writer *w;
    char **temps;
    size_t ntemps;
} served;

static void served_free(void *cls)
{
    served *sv = cls;
    if (!sv)
        return;
    if (sv->n)
        study_read(sv->n, sv->study, -1);
    multipart_writer_free(sv->w);
    for (size_t i = 0; i < sv->ntemps; i++) {
        unlink(sv->temps[i]);
        free(sv->temps[i]);
    }
    free(sv->temps);
    free(sv);
}

static served *served_new(size_t n)
{
    served *sv = calloc(1, sizeof *sv);
    if (sv &&
        (!(sv->w = multipart_writer_new()) || !(sv->temps = calloc(n ? n : 1, sizeof(char *))))) {
        served_free(sv);
        sv = NULL;
    }
    return sv;
}

static ssize_t served_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    return multipart_writer_read(((served *)cls)->w, pos, buf, max);
}

/* One part: an own instance's stored bytes, or a retrieved copy coerced to a temp file. */
static int served_add(node *n, served *sv, const char *ct, const char *url, const dw_instance *x)
{
    if (!x->coerce_pid)
        return multipart_writer_add_file(sv->w, ct, url, x->path, x->offset, x->size);
    char path[4096];
    struct stat st;
    int temp;
    if (dw_instance_served(n, x, path, sizeof path, &temp) < 0)
        return -1;
    if (!(sv->temps[sv->ntemps] = strdup(path)) || stat(path, &st) != 0) {
        free(sv->temps[sv->ntemps]);
        dw_instance_done(path, temp);
        return -1;
    }
    sv->ntemps++;
    return multipart_writer_add_file(sv->w, ct, url, path, 0, (uint64_t)st.st_size);
}

int dicomweb_retrieve(http_request *req, http_response *res)
{
    dw_path p;
    dw_instances set;
    int rc = find_or_404_ex(req, res, &p, &set, 1);
    if (rc < 0)
        return rc == -2 ? -1 : 0;
    const char *why;
    int form = retrieve_form(req, &set, p.instance != NULL, &why);
    if (form == 0) {
        dw_instances_free(&set);
        study_read(req->app, p.study, -1);
        return dw_error(res, 406, "%s", why);
    }
    char ct[256];
    if (form == 2) {
        snprintf(ct, sizeof ct, "application/dicom; transfer-syntax=%s", set.v[0].ts);
        rc = dw_reply_instance(req->app, res, ct, &set.v[0]);
        dw_instances_free(&set);
        study_read(req->app, p.study, -1);
        return rc;
    }
    served *sv = served_new(set.n);
    if (sv) { /* the read ends with the answer (served_free) */
        sv->n = req->app;
        snprintf(sv->study, sizeof sv->study, "%s", p.study ? p.study : "");
    } else {
        study_read(req->app, p.study, -1);
    }
    for (size_t i = 0; sv && i < set.n; i++) {
        char url[1024];
        instance_url(req, &set.v[i], url, sizeof url);
        snprintf(ct, sizeof ct, "application/dicom; transfer-syntax=%s", set.v[i].ts);
        if (served_add(req->app, sv, ct, url, &set.v[i]) < 0) {
            served_free(sv);
            sv = NULL;
        }
    }
    dw_instances_free(&set);
    if (!sv)
        return -1;
    snprintf(ct, sizeof ct, "multipart/related; type=\"application/dicom\"; boundary=%s",
             multipart_writer_boundary(sv->w));
    return http_reply_stream(res, 200, ct, multipart_writer_size(sv->w), served_read, sv,
                             served_free);
}

/* ---- metadata: a JSON array produced one instance at a time ---- */

typedef struct meta_stream {
    node *n;
    dw_instances set;
    char base[512];
    size_t next;    /* next instance to render */
    size_t emitted; /* instances written */
    char *buf;      /* pending bytes */
    size_t len, off;
    int closed;
} meta_stream;

static void meta_free(void *cls)
{
    meta_stream *m = cls;
    dw_instances_free(&m->set);
    free(m->buf);
    free(m);
}

/* Refill m->buf with the next piece of the array; 0 when all is out. */
static int meta_refill(meta_stream *m)
{
    free(m->buf);
    m->buf = NULL;
    m->len = m->off = 0;
    while (m->next < m->set.n) {
        dw_instance *x = &m->set.v[m->next];
        char prefix[1024], err[512] = "unreadable", *json = NULL, path[4096];
        size_t jlen = 0;
        int temp, rc = HUREN_DICOM_EIO;
        snprintf(prefix, sizeof prefix, "%s/studies/%s/series/%s/instances/%s/bulkdata/", m->base,
                 x->study_uid, x->series_uid, x->sop_uid);
        if (dw_instance_served(m->n, x, path, sizeof path, &temp) == 0) {
            rc = huren_dicom_file_to_json(path, prefix, &json, &jlen, err, sizeof err);
            dw_instance_done(path, temp);
        }
        m->next++;
        if (rc != HUREN_DICOM_OK) {
            log_warnx("metadata of %s left out: %s", x->sop_uid, err);
            continue;
        }
        if (!(m->buf = malloc(jlen + 2))) {
            free(json);
            return -1;
        }
        m->buf[0] = m->emitted++ ? ',' : '[';
        memcpy(m->buf + 1, json, jlen);
        m->len = jlen + 1;
        free(json);
        return 1;
    }
    if (m->closed)
        return 0;
    m->closed = 1;
    if (!(m->buf = strdup(m->emitted ? "]" : "[]")))
        return -1;
    m->len = strlen(m->buf);
    return 1;
}

static ssize_t meta_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    meta_stream *m = cls;
    (void)pos;
    size_t done = 0;
    while (done < max) {
        if (m->off == m->len) {
            int r = meta_refill(m);
            if (r < 0)
                return -1;
            if (r == 0)
                break;
        }
        size_t n = m->len - m->off < max - done ? m->len - m->off : max - done;
        memcpy(buf + done, m->buf + m->off, n);
        m->off += n;
        done += n;
    }
    return (ssize_t)done;
}

int dicomweb_metadata(http_request *req, http_response *res)
{
    dw_media md[DW_MAX_MEDIA];
    size_t na = dw_accept(req, md, DW_MAX_MEDIA), i = 0;
    while (i < na && !dw_media_accepts(&md[i], "application/dicom+json") &&
           strcmp(md[i].type, "application/json") != 0)
        i++;
    if (i == na)
        return dw_error(res, 406, "metadata is served as application/dicom+json only");
    meta_stream *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    dw_path p;
    int rc = find_or_404(req, res, &p, &m->set);
    if (rc < 0) {
        free(m);
        return rc == -2 ? -1 : 0;
    }
    dw_base_url(req, m->base, sizeof m->base);
    m->n = req->app;
    return http_reply_stream(res, 200, "application/dicom+json", HTTP_SIZE_UNKNOWN, meta_read, m,
                             meta_free);
}

/* ---- frames and bulk data ---- */

/* Media type of a compressed transfer syntax's frames (PS3.18 Table 8.7.3-2). */
static const char *frame_media(const char *ts)
{
    static const struct {
        const char *prefix, *type;
    } map[] = {
        {"1.2.840.10008.1.2.4.50", "image/jpeg"},     {"1.2.840.10008.1.2.4.51", "image/jpeg"},
        {"1.2.840.10008.1.2.4.57", "image/jpeg"},     {"1.2.840.10008.1.2.4.70", "image/jpeg"},
        {"1.2.840.10008.1.2.4.80", "image/jls"},      {"1.2.840.10008.1.2.4.81", "image/jls"},
        {"1.2.840.10008.1.2.4.90", "image/jp2"},      {"1.2.840.10008.1.2.4.91", "image/jp2"},
        {"1.2.840.10008.1.2.5", "image/x-dicom-rle"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(ts, map[i].prefix) == 0)
            return map[i].type;
    return "application/octet-stream";
}

/* The part type to send frames as, given the stored syntax and Accept; NULL if none fits. */
static const char *frames_type(const http_request *req, const char *ts, int encapsulated)
{
    dw_media m[DW_MAX_MEDIA];
    size_t n = dw_accept(req, m, DW_MAX_MEDIA);
    const char *native = encapsulated ? frame_media(ts) : "application/octet-stream";
    for (size_t i = 0; i < n; i++) {
        int multi = strcmp(m[i].type, "multipart/related") == 0 || strcmp(m[i].type, "*/*") == 0;
        if (!multi)
            continue;
        if (!m[i].part[0] || strcmp(m[i].part, "*/*") == 0 || strcmp(m[i].part, native) == 0)
            return native;
        /* compressed frames as octet-stream only when any transfer syntax is acceptable */
        if (strcmp(m[i].part, "application/octet-stream") == 0 &&
            (!encapsulated || strcmp(m[i].ts, "*") == 0 || strcmp(m[i].ts, ts) == 0))
            return "application/octet-stream";
    }
    return NULL;
}

static int parse_frames(const char *list, unsigned *out, size_t cap, size_t *n)
{
    *n = 0;
    for (const char *p = list; *p;) {
        char *e;
        unsigned long f = strtoul(p, &e, 10);
        if (e == p || f == 0 || f > 1000000 || (*e && *e != ',') || *n == cap)
            return -1;
        out[(*n)++] = (unsigned)f;
        p = *e ? e + 1 : e;
    }
    return *n ? 0 : -1;
}

/* Answer frames (list; NULL = the whole pixel data) of the instance p names. */
static int send_frames(http_request *req, http_response *res, const unsigned *frames, size_t nf)
{
    dw_path p;
    dw_instances set;
    int rc = find_or_404(req, res, &p, &set);
    if (rc < 0)
        return rc == -2 ? -1 : 0;
    char path[4096];
    int temp;
    if (dw_instance_file(req->app, &set.v[0], path, sizeof path, &temp) < 0) {
        dw_instances_free(&set);
        return -1;
    }
    multipart_writer *w = multipart_writer_new();
    const char *type = NULL;
    char ct[256], err[512];
    int status = 0;
    for (size_t i = 0; w && i < (frames ? nf : 1) && !status; i++) {
        char *data;
        size_t len;
        int encap = 0;
        rc = huren_dicom_file_frame(path, frames ? frames[i] : 0, &data, &len, NULL, &encap, err,
                                    sizeof err);
        if (rc != HUREN_DICOM_OK) {
            status = rc == HUREN_DICOM_ERANGE ? 404 : rc == HUREN_DICOM_ENOTSUP ? 400 : 500;
            break;
        }
        if (!type && !(type = frames_type(req, set.v[0].ts, encap))) {
            free(data);
            status = 406;
            snprintf(err, sizeof err,
                     "frames are stored as %s (%s); decompression is not "
                     "supported: accept that type or transfer-syntax=*",
                     frame_media(set.v[0].ts), set.v[0].ts);
            break;
        }
        snprintf(ct, sizeof ct, "%s; transfer-syntax=%s", type,
                 encap ? set.v[0].ts : "1.2.840.10008.1.2.1");
        if (multipart_writer_add_data(w, ct, NULL, data, len) < 0) {
            multipart_writer_free(w);
            w = NULL;
        }
    }
    dw_instance_done(path, temp);
    dw_instances_free(&set);
    if (!w || status) {
        multipart_writer_free(w);
        return status && status != 500 ? dw_error(res, status, "%s", err) : -1;
    }
    snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s", type,
             multipart_writer_boundary(w));
    return http_reply_stream(res, 200, ct, multipart_writer_size(w), multipart_writer_read, w,
                             (void (*)(void *))multipart_writer_free);
}

int dicomweb_frames(http_request *req, http_response *res)
{
    dw_path p;
    if (dw_path_parse(req, res, &p) < 0)
        return 0;
    unsigned frames[WADO_MAX_FRAMES];
    size_t nf;
    if (!p.frames || parse_frames(p.frames, frames, WADO_MAX_FRAMES, &nf) < 0)
        return dw_error(res, 400, "frames: a comma-separated list of 1 to %d frame numbers",
                        WADO_MAX_FRAMES);
    return send_frames(req, res, frames, nf);
}

int dicomweb_bulkdata(http_request *req, http_response *res)
{
    dw_path p;
    if (dw_path_parse(req, res, &p) < 0)
        return 0;
    if (!p.tag || strcasecmp(p.tag, "7FE00010") != 0)
        return dw_error(res, 404, "bulk data is available for PixelData (7FE00010) only");
    return send_frames(req, res, NULL, 0);
}
