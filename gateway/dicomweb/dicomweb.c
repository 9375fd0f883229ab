/* dicomweb.c: what the DICOMweb handlers share: the UIDs a path names (validated), the base
 * URL for RetrieveURL, Accept header negotiation (PS3.18 8.7), error answers, and the list of
 * stored instances a WADO request names, with the patient and study for the audit trail. */
#define LOG_COMPONENT "dicomweb"
#include "dicomweb.h"
#include "log.h"
#include "http/multipart.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int dw_error(http_response *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_debug("%d: %s", status, msg);
    return http_reply_error(res, status, msg);
}

int dw_path_parse(http_request *req, http_response *res, dw_path *p)
{
    memset(p, 0, sizeof *p);
    if (snprintf(p->buf, sizeof p->buf, "%s", req->path) >= (int)sizeof p->buf) {
        dw_error(res, 414, "path too long");
        return -1;
    }
    static const char *const names[] = {"studies", "series", "instances", "frames", "bulkdata"};
    const char **slots[] = {&p->study, &p->series, &p->instance, &p->frames, &p->tag};
    char *save = NULL, *prev = NULL;
    for (char *seg = strtok_r(p->buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        for (size_t i = 0; prev && i < sizeof names / sizeof names[0]; i++)
            if (strcmp(prev, names[i]) == 0)
                *slots[i] = seg;
        prev = seg;
    }
    const char *uids[] = {p->study, p->series, p->instance};
    for (size_t i = 0; i < 3; i++)
        if (uids[i] && !huren_dicom_uid_valid(uids[i])) {
            dw_error(res, 400, "not a valid UID in the path: %.64s", uids[i]);
            return -1;
        }
    return 0;
}

void dw_base_url(const http_request *req, char *out, size_t len)
{
    node *n = req->app;
    if (n->cfg->dicomweb_base_url && n->cfg->dicomweb_base_url[0]) {
        snprintf(out, len, "%s", n->cfg->dicomweb_base_url);
        return;
    }
    const char *host = http_request_header(req, "Host");
    int host_ok = host && host[0] && strlen(host) < 256;
    for (const char *c = host; host_ok && *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-:[]", *c))
            host_ok = 0; /* a Host we would not echo back */
    snprintf(out, len, "%s://%s/dicom-web", n->cfg->tls_cert[0] ? "https" : "http",
             host_ok ? host : n->cfg->bind_address);
}

static void trim_copy(char *out, size_t outlen, const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = 0;
}

/* One media range "type/sub; a=b; q=0.5" of length n. */
static void parse_range(const char *s, size_t n, dw_media *m)
{
    char tmp[512];
    memset(m, 0, sizeof *m);
    m->q = 1.0;
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *semi = strchr(tmp, ';');
    trim_copy(m->type, sizeof m->type, tmp, semi ? (size_t)(semi - tmp) : strlen(tmp));
    char v[96];
    if (!semi)
        return;
    /* multipart_param reads parameters of a content type; a media range has the same form */
    if (multipart_param(tmp, "type", v, sizeof v) == 0)
        trim_copy(m->part, sizeof m->part, v, strlen(v));
    if (multipart_param(tmp, "transfer-syntax", v, sizeof v) == 0)
        trim_copy(m->ts, sizeof m->ts, v, strlen(v));
    if (multipart_param(tmp, "q", v, sizeof v) == 0)
        m->q = strtod(v, NULL);
}

size_t dw_accept(const http_request *req, dw_media *out, size_t cap)
{
    const char *a = http_request_header(req, "Accept");
    if (!a || !a[0]) {
        parse_range("*/*", 3, &out[0]);
        return 1;
    }
    size_t n = 0;
    for (const char *p = a; *p && n < cap;) {
        /* a comma inside quotes does not end the range */
        const char *e = p;
        int quoted = 0;
        while (*e && (quoted || *e != ',')) {
            if (*e == '"')
                quoted = !quoted;
            e++;
        }
        parse_range(p, (size_t)(e - p), &out[n]);
        if (out[n].q > 0 && out[n].type[0])
            n++;
        p = *e ? e + 1 : e;
    }
    /* stable sort by q, highest first */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j].q > out[j - 1].q; j--) {
            dw_media t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

int dw_media_accepts(const dw_media *m, const char *type)
{
    if (strcmp(m->type, "*/*") == 0 || strcasecmp(m->type, type) == 0)
        return 1;
    size_t n = strlen(m->type);
    return n > 2 && strcmp(m->type + n - 2, "/*") == 0 && strncasecmp(m->type, type, n - 1) == 0;
}

void dw_audit(http_response *res, const char *patient_id, const char *study_uid)
{
    if (patient_id)
        snprintf(res->audit_patient, sizeof res->audit_patient, "%s", patient_id);
    if (study_uid)
        snprintf(res->audit_object, sizeof res->audit_object, "%s", study_uid);
}

typedef struct find_ctx {
    dw_instances *out;
    size_t max;
    int oom;
} find_ctx;

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int on_row(void *payload, const huren_index_row *row)
{
    find_ctx *c = payload;
    dw_instances *s = c->out;
    if (!row->blob_path)
        return 0; /* rows seeded without files cannot be retrieved */
    if (c->max && s->n == c->max)
        return 1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        dw_instance *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return 1;
        }
        s->v = v;
        s->cap = cap;
    }
    const char *const *val = row->values;
    dw_instance *i = &s->v[s->n];
    *i = (dw_instance){dup_or_empty(row->blob_path),
                       (uint64_t)row->blob_offset,
                       (uint64_t)row->blob_size,
                       dup_or_empty(val[HUREN_INDEX_F_TRANSFER_SYNTAX_UID]),
                       dup_or_empty(val[HUREN_INDEX_F_SOP_CLASS_UID]),
                       dup_or_empty(val[HUREN_INDEX_F_SOP_INSTANCE_UID]),
                       dup_or_empty(val[HUREN_INDEX_F_SERIES_UID]),
                       dup_or_empty(val[HUREN_INDEX_F_STUDY_UID]),
                       NULL,
                       NULL};
    s->n++;
    if (row->copy_of && val[HUREN_INDEX_F_PATIENT_ID]) {
        i->coerce_pid = strdup(val[HUREN_INDEX_F_PATIENT_ID]);
        i->coerce_issuer = dup_or_empty(val[HUREN_INDEX_F_ISSUER_OF_PATIENT_ID]);
        if (!i->coerce_pid || !i->coerce_issuer)
            c->oom = 1;
    }
    if (c->oom || !i->path || !i->ts || !i->sop_class || !i->sop_uid || !i->series_uid ||
        !i->study_uid) {
        c->oom = 1;
        return 1;
    }
    if (!s->patient_id[0] && val[HUREN_INDEX_F_PATIENT_ID])
        snprintf(s->patient_id, sizeof s->patient_id, "%s", val[HUREN_INDEX_F_PATIENT_ID]);
    return 0;
}

int dw_find_instances(node *n, const dw_path *p, size_t max, dw_instances *out, http_response *res)
{
    memset(out, 0, sizeof *out);
    huren_index_match m[3];
    size_t nm = 0;
    if (p->study)
        m[nm++] = (huren_index_match){HUREN_INDEX_F_STUDY_UID, p->study};
    if (p->series)
        m[nm++] = (huren_index_match){HUREN_INDEX_F_SERIES_UID, p->series};
    if (p->instance)
        m[nm++] = (huren_index_match){HUREN_INDEX_F_SOP_INSTANCE_UID, p->instance};
    find_ctx c = {out, max, 0};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, m, nm, 0, 0};
    int rc = huren_index_find(n->index, &q, on_row, &c);
    if (c.oom || (rc < 0 && rc != HUREN_INDEX_ECANCEL)) {
        if (rc == HUREN_INDEX_EINVAL)
            dw_error(res, 400, "%s", huren_index_errmsg(n->index));
        else
            log_error("retrieve: %s", c.oom ? "out of memory" : huren_index_errmsg(n->index));
        dw_instances_free(out);
        return -1;
    }
    return 0;
}

void dw_instances_free(dw_instances *s)
{
    for (size_t i = 0; i < s->n; i++) {
        dw_instance *x = &s->v[i];
        free(x->path);
        free(x->ts);
        free(x->sop_class);
        free(x->sop_uid);
        free(x->series_uid);
        free(x->study_uid);
        free(x->coerce_pid);
        free(x->coerce_issuer);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct file_stream {
    int fd;
    uint64_t offset, size;
} file_stream;

static ssize_t file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    file_stream *f = cls;
    if (pos >= f->size)
        return 0;
    if (max > f->size - pos)
        max = (size_t)(f->size - pos);
    ssize_t r = pread(f->fd, buf, max, (off_t)(f->offset + pos));
    return r <= 0 ? -1 : r;
}

static void file_free(void *cls)
{
    file_stream *f = cls;
    close(f->fd);
    free(f);
}

int dw_reply_file(http_response *res, const char *content_type, const char *path, uint64_t offset,
                  uint64_t size)
{
    file_stream *f = malloc(sizeof *f);
    if (!f)
        return -1;
    f->offset = offset;
    f->size = size;
    if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        log_warn("%s", path);
        free(f);
        return -1;
    }
    return http_reply_stream(res, 200, content_type, size, file_read, f, file_free);
}

/* Copy size bytes at offset of src into a new temp file (name in out). */
static int copy_range(const char *src, uint64_t offset, uint64_t size, const char *dir, char *out,
                      size_t len)
{
    snprintf(out, len, "%s/wado-XXXXXX", dir);
    int in = open(src, O_RDONLY | O_CLOEXEC), fd = in >= 0 ? mkstemp(out) : -1, rc = -1;
    char buf[65536];
    uint64_t done = 0;
    while (fd >= 0 && done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t r = pread(in, buf, want, (off_t)(offset + done));
        if (r <= 0 || write(fd, buf, (size_t)r) != r)
            break;
        done += (uint64_t)r;
    }
    if (fd >= 0 && done == size)
        rc = 0;
    if (fd >= 0 && (close(fd) != 0 || rc < 0)) {
        unlink(out);
        rc = -1;
    }
    if (in >= 0)
        close(in);
    return rc;
}

int dw_instance_file(node *n, const dw_instance *x, char *out, size_t len, int *temp)
{
    struct stat st;
    *temp = 0;
    if (x->offset == 0 && stat(x->path, &st) == 0 && (uint64_t)st.st_size == x->size) {
        snprintf(out, len, "%s", x->path);
        return 0;
    }
    *temp = 1;
    if (copy_range(x->path, x->offset, x->size, huren_index_tmp_dir(n->index), out, len) < 0) {
        log_warn("%s: cannot copy instance %s out of its pack", x->path, x->sop_uid);
        return -1;
    }
    return 0;
}

void dw_instance_done(const char *path, int temp)
{
    if (temp)
        unlink(path);
}

int dw_instance_served(node *n, const dw_instance *x, char *out, size_t len, int *temp)
{
    if (!x->coerce_pid)
        return dw_instance_file(n, x, out, len, temp);
    char src[4096], err[512];
    int src_temp, fd;
    if (dw_instance_file(n, x, src, sizeof src, &src_temp) < 0)
        return -1;
    snprintf(out, len, "%s/coerce-XXXXXX", huren_index_tmp_dir(n->index));
    if ((fd = mkstemp(out)) < 0) {
        log_warn("%s: a temp file for instance %s", out, x->sop_uid);
        dw_instance_done(src, src_temp);
        return -1;
    }
    close(fd);
    huren_dicom_coercion c = {x->coerce_pid, x->coerce_issuer};
    int rc = huren_dicom_file_coerce(src, &c, out, err, sizeof err);
    dw_instance_done(src, src_temp);
    if (rc != HUREN_DICOM_OK) {
        log_warnx("retrieved copy %s not served: %s", x->sop_uid, err);
        unlink(out);
        return -1;
    }
    *temp = 1;
    return 0;
}

int dw_reply_instance(node *n, http_response *res, const char *content_type, const dw_instance *x)
{
    if (!x->coerce_pid)
        return dw_reply_file(res, content_type, x->path, x->offset, x->size);
    char path[4096];
    struct stat st;
    int temp, rc = -1;
    if (dw_instance_served(n, x, path, sizeof path, &temp) < 0)
        return -1;
    /* the answer holds the file open: its name can go at once */
    if (stat(path, &st) == 0)
        rc = dw_reply_file(res, content_type, path, 0, (uint64_t)st.st_size);
    dw_instance_done(path, temp);
    return rc;
}
