/* dicomweb_rendered.c: rendered images: WADO-RS /rendered and /thumbnail (PS3.18 10.4.1.1.3,
 * window, quality and viewport parameters; JPEG or PNG by Accept or ?accept=) and WADO-URI
 * (PS3.18 chapter 9, ?requestType=WADO) for older viewers, either as image or as the file. */
#define LOG_COMPONENT "dicomweb"
#include "dicomweb.h"
#include "huren_err.h"
#include "log.h"
#include "http/multipart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THUMBNAIL_SIZE 128

typedef struct render_req {
    huren_dicom_render_options o;
    const char *accept_param; /* ?accept= */
    char err[HUREN_ERRLEN];
} render_req;

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (errno || e == s || *e || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_window(render_req *r, const char *v)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", v);
    char *c = strtok_r(buf, ",", &save), *w = strtok_r(NULL, ",", &save);
    char *fn = strtok_r(NULL, ",", &save);
    if (!c || !w || strtok_r(NULL, ",", &save) ||
        parse_num(c, -1e7, 1e7, &r->o.window_center) < 0 ||
        parse_num(w, 1e-6, 1e7, &r->o.window_width) < 0)
        return -1;
    r->o.window_set = 1;
    if (!fn || strcmp(fn, "linear") == 0)
        r->o.voi_function = HUREN_DICOM_VOI_LINEAR;
    else if (strcmp(fn, "linear-exact") == 0)
        r->o.voi_function = HUREN_DICOM_VOI_LINEAR_EXACT;
    else if (strcmp(fn, "sigmoid") == 0)
        r->o.voi_function = HUREN_DICOM_VOI_SIGMOID;
    else
        return -1;
    return 0;
}

static int parse_viewport(render_req *r, const char *v)
{
    unsigned vw, vh;
    char extra;
    if (sscanf(v, "%u,%u%c", &vw, &vh, &extra) != 2 || vw < 1 || vh < 1 || vw > 8192 || vh > 8192)
        return -1; /* the source-rectangle form (sx,sy,sw,sh) is not supported */
    r->o.viewport_width = vw;
    r->o.viewport_height = vh;
    return 0;
}

static int on_render_arg(void *payload, const char *key, const char *value)
{
    render_req *r = payload;
    double q;
    if (strcmp(key, "window") == 0) {
        if (parse_window(r, value) < 0)
            goto bad;
    } else if (strcmp(key, "quality") == 0) {
        if (parse_num(value, 1, 100, &q) < 0)
            goto bad;
        r->o.quality = (int)q;
    } else if (strcmp(key, "viewport") == 0) {
        if (parse_viewport(r, value) < 0)
            goto bad;
    } else if (strcmp(key, "accept") == 0) {
        r->accept_param = value;
    } else {
        snprintf(r->err, sizeof r->err, "unknown or unsupported parameter \"%.64s\"", key);
        return -1;
    }
    return 0;
bad:
    snprintf(r->err, sizeof r->err, "bad %s \"%.64s\"", key, value);
    return -1;
}

/* JPEG or PNG from ?accept= or the Accept header; -1 if neither is acceptable. */
static int pick_format(const http_request *req, const char *param)
{
    if (param) {
        if (strncmp(param, "image/png", 9) == 0)
            return HUREN_DICOM_IMAGE_PNG;
        if (strncmp(param, "image/jpeg", 10) == 0 || strcmp(param, "image/*") == 0 ||
            strcmp(param, "*/*") == 0)
            return HUREN_DICOM_IMAGE_JPEG;
        return -1;
    }
    dw_media m[DW_MAX_MEDIA];
    size_t n = dw_accept(req, m, DW_MAX_MEDIA);
    for (size_t i = 0; i < n; i++) {
        if (dw_media_accepts(&m[i], "image/jpeg"))
            return HUREN_DICOM_IMAGE_JPEG;
        if (dw_media_accepts(&m[i], "image/png"))
            return HUREN_DICOM_IMAGE_PNG;
    }
    return -1;
}

/* Render the first instance of set that renders; the answer goes into res. */
static int render_set(node *n, http_response *res, const dw_instances *set, const render_req *r)
{
    char err[HUREN_ERRLEN] = "no instance";
    int rc = HUREN_DICOM_ENOTSUP;
    for (size_t i = 0; i < set->n; i++) {
        char *img;
        size_t len;
        char path[4096];
        int temp;
        if (dw_instance_file(n, &set->v[i], path, sizeof path, &temp) < 0)
            return -1;
        rc = huren_dicom_render(path, &r->o, &img, &len, NULL, NULL, err, sizeof err);
        dw_instance_done(path, temp);
        if (rc == HUREN_DICOM_OK)
            return http_reply_buffer(
                res, 200, r->o.format == HUREN_DICOM_IMAGE_PNG ? "image/png" : "image/jpeg", img,
                len);
        if (rc == HUREN_DICOM_ERANGE)
            break;
    }
    if (rc == HUREN_DICOM_ERANGE)
        return dw_error(res, 404, "%s", err);
    if (rc == HUREN_DICOM_ENOTSUP)
        return dw_error(res, 400, "%s", err);
    /* the request was fine: the stored instance could not be read or decoded */
    log_warnx("rendering failed: %s", err);
    return dw_error(res, 500, "%s", err);
}

static int rendered(http_request *req, http_response *res, int thumbnail)
{
    dw_path p;
    if (dw_path_parse(req, res, &p) < 0)
        return 0;
    render_req r = {.o = HUREN_DICOM_RENDER_OPTIONS_INIT};
    if (thumbnail) {
        r.o.viewport_width = r.o.viewport_height = THUMBNAIL_SIZE;
        r.o.quality = 75;
    }
    if (p.frames) {
        char *e;
        unsigned long f = strtoul(p.frames, &e, 10);
        if (*e || f == 0 || f > 1000000)
            return dw_error(res, 400, "rendered: one frame number");
        r.o.frame = (unsigned)f;
    }
    if (http_request_args(req, on_render_arg, &r) != 0)
        return dw_error(res, 400, "%s", r.err);
    int fmt = pick_format(req, r.accept_param);
    if (fmt < 0)
        return dw_error(res, 406, "rendered images are image/jpeg or image/png");
    r.o.format = (huren_dicom_image_format)fmt;
    dw_instances set;
    /* a study or series thumbnail shows its first instances: a few tries are enough */
    if (dw_find_instances(req->app, &p, p.instance ? 1 : 8, &set, res) < 0)
        return res->status == 400 ? 0 : -1;
    if (set.n == 0)
        return dw_error(res, 404, "no such instance");
    dw_audit(res, set.patient_id, set.v[0].study_uid);
    int rc = render_set(req->app, res, &set, &r);
    dw_instances_free(&set);
    return rc;
}

int dicomweb_rendered(http_request *req, http_response *res)
{
    return rendered(req, res, 0);
}

int dicomweb_thumbnail(http_request *req, http_response *res)
{
    return rendered(req, res, 1);
}

/* ---- WADO-URI ---- */

typedef struct uri_req {
    const char *request_type, *study, *series, *object, *content_type, *transfer_syntax;
    render_req r;
    long rows, columns;
    double wc, ww;
    int has_wc, has_ww;
} uri_req;

static int on_uri_arg(void *payload, const char *key, const char *value)
{
    uri_req *u = payload;
    double v;
    const char **slots[] = {&u->request_type, &u->study,        &u->series,
                            &u->object,       &u->content_type, &u->transfer_syntax};
    static const char *const names[] = {"requestType", "studyUID",    "seriesUID",
                                        "objectUID",   "contentType", "transferSyntax"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(key, names[i]) == 0) {
            *slots[i] = value;
            return 0;
        }
    if (strcmp(key, "charset") == 0)
        return 0; /* served in UTF-8 */
    int ok = 1;
    if (strcmp(key, "frameNumber") == 0)
        ok = parse_num(value, 1, 1000000, &v) == 0 && (u->r.o.frame = (unsigned)v);
    else if (strcmp(key, "rows") == 0)
        ok = parse_num(value, 1, 8192, &v) == 0 && (u->r.o.viewport_height = (unsigned)v);
    else if (strcmp(key, "columns") == 0)
        ok = parse_num(value, 1, 8192, &v) == 0 && (u->r.o.viewport_width = (unsigned)v);
    else if (strcmp(key, "imageQuality") == 0)
        ok = parse_num(value, 1, 100, &v) == 0 && (u->r.o.quality = (int)v);
    else if (strcmp(key, "windowCenter") == 0)
        ok = parse_num(value, -1e7, 1e7, &u->wc) == 0 && (u->has_wc = 1);
    else if (strcmp(key, "windowWidth") == 0)
        ok = parse_num(value, 1e-6, 1e7, &u->ww) == 0 && (u->has_ww = 1);
    else {
        snprintf(u->r.err, sizeof u->r.err, "unknown or unsupported parameter \"%.64s\"", key);
        return -1;
    }
    if (!ok)
        snprintf(u->r.err, sizeof u->r.err, "bad %s \"%.64s\"", key, value);
    return !ok;
}

/* The transfer syntax a WADO-URI request for the file asks for (PS3.18 9.1.2.3.x: the
 * transferSyntax parameter, or a transfer-syntax parameter of contentType); "" = any. Returns 0,
 * or -1 with a 400 answered when it is not a UID. */
static int uri_transfer_syntax(const uri_req *u, const char *ct, char *ts, size_t len,
                               http_response *res)
{
    ts[0] = 0;
    if (u->transfer_syntax)
        snprintf(ts, len, "%s", u->transfer_syntax);
    else if (multipart_param(ct, "transfer-syntax", ts, len) < 0)
        return 0; /* not asked */
    if (strcmp(ts, "*") == 0) {
        ts[0] = 0;
        return 0;
    }
    if (!huren_dicom_uid_valid(ts)) {
        dw_error(res, 400, "transferSyntax: not a UID: \"%.64s\"", ts);
        return -1;
    }
    return 0;
}

int dicomweb_wado_uri(http_request *req, http_response *res)
{
    uri_req u = {.r.o = HUREN_DICOM_RENDER_OPTIONS_INIT};
    if (http_request_args(req, on_uri_arg, &u) != 0)
        return dw_error(res, 400, "%s", u.r.err);
    if (!u.request_type || strcmp(u.request_type, "WADO") != 0)
        return dw_error(res, 400, "requestType=WADO is required");
    if (!u.study || !u.series || !u.object)
        return dw_error(res, 400, "studyUID, seriesUID and objectUID are required");
    if (!huren_dicom_uid_valid(u.study) || !huren_dicom_uid_valid(u.series) ||
        !huren_dicom_uid_valid(u.object))
        return dw_error(res, 400, "not a valid UID");
    if (u.has_wc != u.has_ww)
        return dw_error(res, 400, "windowCenter and windowWidth go together");
    u.r.o.window_set = u.has_wc;
    u.r.o.window_center = u.wc;
    u.r.o.window_width = u.ww;
    const char *ct = u.content_type ? u.content_type : "image/jpeg";
    int dicom = strncmp(ct, "application/dicom", 17) == 0 && (!ct[17] || strchr(",; ", ct[17]));
    if (!dicom && strncmp(ct, "image/jpeg", 10) != 0 && strncmp(ct, "image/png", 9) != 0)
        return dw_error(res, 406, "contentType: application/dicom, image/jpeg or image/png");
    u.r.o.format =
        strncmp(ct, "image/png", 9) == 0 ? HUREN_DICOM_IMAGE_PNG : HUREN_DICOM_IMAGE_JPEG;
    char ts[80] = ""; /* a transfer syntax only means something for the file */
    if (dicom && uri_transfer_syntax(&u, ct, ts, sizeof ts, res) < 0)
        return 0;
    dw_path p = {.study = u.study, .series = u.series, .instance = u.object};
    dw_instances set;
    if (dw_find_instances(req->app, &p, 1, &set, res) < 0)
        return res->status == 400 ? 0 : -1;
    if (set.n == 0)
        return dw_error(res, 404, "no such instance");
    dw_audit(res, set.patient_id, set.v[0].study_uid);
    if (ts[0] && strcmp(ts, set.v[0].ts) != 0) { /* no transcoding: like WADO-RS, 406 */
        dw_error(res, 406,
                 "the instance is stored as %s and served only so (transcoding is not "
                 "supported): ask transferSyntax=%s or leave it out",
                 set.v[0].ts, set.v[0].ts);
        dw_instances_free(&set);
        return 0;
    }
    int rc = dicom ? dw_reply_instance(req->app, res, "application/dicom", &set.v[0])
                   : render_set(req->app, res, &set, &u.r);
    dw_instances_free(&set);
    return rc;
}
