/* multipart.c: the multipart/related reader (a state machine over chunks: the delimiter is
 * searched with memmem over the held tail plus the next piece, so parts stream through in
 * constant memory) and the writer that streams parts from files for WADO-RS. */
#include "multipart.h"
#include "random_id.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- Content-Type helpers ------------------------------------------------------------------ */

int multipart_is_type(const char *ct, const char *type)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

int multipart_param(const char *ct, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = ct ? strchr(ct, ';') : NULL;
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return -1;
        const char *ne = eq;
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = 0;
        int match = (size_t)(ne - p) == nlen && strncasecmp(p, name, nlen) == 0;
        if (*v == '"') {
            v++;
            const char *q = strchr(v, '"');
            if (!q)
                return -1;
            len = (size_t)(q - v);
            p = strchr(q, ';');
        } else {
            len = strcspn(v, "; \t");
            p = strchr(v, ';');
        }
        if (match) {
            if (len >= outlen)
                return -1;
            memcpy(out, v, len);
            out[len] = 0;
            return 0;
        }
    }
    return -1;
}

int multipart_header(const char *headers, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if ((size_t)(ve - v) >= outlen)
                return -1;
            for (const char *c = v; c < ve; c++)
                if ((unsigned char)*c < 0x20 && *c != '\t')
                    return -1; /* a NUL, bare CR or LF: a malformed header line */
            memcpy(out, v, (size_t)(ve - v));
            out[ve - v] = 0;
            return 0;
        }
        p = eol + 2;
    }
    return -1;
}

/* ---- Reader -------------------------------------------------------------------------------- */

enum { ST_PREAMBLE, ST_AFTER_DELIM, ST_HEADERS, ST_BODY, ST_EPILOGUE, ST_FAILED };

#define PIECE 65536

struct multipart_reader {
    multipart_callbacks cb;
    void *payload;
    int state;
    int ad; /* ST_AFTER_DELIM sub-state: 0 start, 1 saw '-', 2 LWSP, 3 saw CR */
    char delim[MULTIPART_MAX_BOUNDARY + 5]; /* CRLF "--" boundary */
    size_t dlen;
    char hold[MULTIPART_MAX_BOUNDARY + 5]; /* tail that may start a delimiter */
    size_t hold_len;
    char *hdr;
    size_t hdr_len;
    size_t parts;
    const char *error;
    char work[PIECE + MULTIPART_MAX_BOUNDARY + 5];
};

multipart_reader *multipart_reader_new(const char *boundary, const multipart_callbacks *cb,
                                       void *payload)
{
    size_t n = strlen(boundary);
    if (n == 0 || n > MULTIPART_MAX_BOUNDARY)
        return NULL;
    multipart_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->hdr = malloc(MULTIPART_MAX_HEADERS))) {
        free(r);
        return NULL;
    }
    r->cb = *cb;
    r->payload = payload;
    r->dlen = (size_t)snprintf(r->delim, sizeof r->delim, "\r\n--%s", boundary);
    memcpy(r->hold, "\r\n", 2); /* the first delimiter may open the body without a CRLF */
    r->hold_len = 2;
    return r;
}

void multipart_reader_free(multipart_reader *r)
{
    if (!r)
        return;
    free(r->hdr);
    free(r);
}

static int fail(multipart_reader *r, const char *why)
{
    r->state = ST_FAILED;
    r->error = why;
    return -1;
}

/* BODY or PREAMBLE over work[*i..n): emit data up to a delimiter, or hold the tail. */
static int scan_delim(multipart_reader *r, const char *w, size_t n, size_t *i)
{
    const char *start = w + *i, *m = memmem(start, n - *i, r->delim, r->dlen);
    size_t avail = n - *i,
           emit = m ? (size_t)(m - start) : (avail >= r->dlen ? avail - (r->dlen - 1) : 0);
    if (r->state == ST_BODY && emit && r->cb.part_data(r->payload, start, emit) < 0)
        return fail(r, "part refused");
    if (!m) {
        r->hold_len = avail - emit;
        memcpy(r->hold, start + emit, r->hold_len);
        *i = n;
        return 0;
    }
    if (r->state == ST_BODY && r->cb.part_end(r->payload) < 0)
        return fail(r, "part refused");
    *i += emit + r->dlen;
    r->state = ST_AFTER_DELIM;
    r->ad = 0;
    return 0;
}

static int after_delim(multipart_reader *r, char c)
{
    switch (r->ad) {
    case 0:
        if (c == '-') {
            r->ad = 1;
            return 0;
        }
        /* fall through */
    case 2:
        if (c == ' ' || c == '\t') {
            r->ad = 2;
            return 0;
        }
        if (c == '\r') {
            r->ad = 3;
            return 0;
        }
        return fail(r, "malformed multipart: boundary not followed by CRLF");
    case 1:
        if (c != '-')
            return fail(r, "malformed multipart: boundary not followed by CRLF");
        r->state = ST_EPILOGUE;
        return 0;
    default:
        if (c != '\n')
            return fail(r, "malformed multipart: boundary not followed by CRLF");
        r->state = ST_HEADERS;
        r->hdr_len = 0;
        return 0;
    }
}

static int headers(multipart_reader *r, const char *w, size_t n, size_t *i)
{
    size_t old = r->hdr_len, take = n - *i;
    if (old + take > MULTIPART_MAX_HEADERS)
        take = MULTIPART_MAX_HEADERS - old;
    memcpy(r->hdr + old, w + *i, take);
    r->hdr_len += take;
    size_t body_at;
    if (r->hdr_len >= 2 && memcmp(r->hdr, "\r\n", 2) == 0) {
        body_at = 2; /* no headers at all */
    } else {
        size_t from = old >= 3 ? old - 3 : 0;
        const char *m = memmem(r->hdr + from, r->hdr_len - from, "\r\n\r\n", 4);
        if (!m) {
            if (r->hdr_len == MULTIPART_MAX_HEADERS)
                return fail(r, "malformed multipart: part headers too long");
            *i = n;
            return 0;
        }
        body_at = (size_t)(m - r->hdr) + 4;
    }
    *i += body_at - old;
    r->parts++;
    if (r->cb.part_begin(r->payload, r->hdr, body_at >= 4 ? body_at - 4 : 0) < 0)
        return fail(r, "part refused");
    r->state = ST_BODY;
    r->hold_len = 0;
    return 0;
}

static int process(multipart_reader *r, const char *w, size_t n)
{
    size_t i = 0;
    while (i < n) {
        switch (r->state) {
        case ST_PREAMBLE:
        case ST_BODY:
            if (scan_delim(r, w, n, &i) < 0)
                return -1;
            break;
        case ST_AFTER_DELIM:
            if (after_delim(r, w[i++]) < 0)
                return -1;
            break;
        case ST_HEADERS:
            if (headers(r, w, n, &i) < 0)
                return -1;
            break;
        case ST_EPILOGUE:
            return 0;
        default:
            return -1;
        }
    }
    return 0;
}

int multipart_reader_feed(multipart_reader *r, const char *data, size_t len)
{
    if (r->state == ST_FAILED)
        return -1;
    while (len) {
        size_t piece = len < PIECE ? len : PIECE, n = 0;
        if (r->state == ST_BODY || r->state == ST_PREAMBLE) {
            memcpy(r->work, r->hold, r->hold_len);
            n = r->hold_len;
            r->hold_len = 0;
        }
        memcpy(r->work + n, data, piece);
        if (process(r, r->work, n + piece) < 0)
            return -1;
        data += piece;
        len -= piece;
    }
    return 0;
}

int multipart_reader_finish(multipart_reader *r)
{
    if (r->state == ST_FAILED)
        return -1;
    if (r->state == ST_EPILOGUE)
        return 0;
    return fail(r, r->state == ST_PREAMBLE ? "malformed multipart: no boundary delimiter found"
                                           : "malformed multipart: truncated (no close delimiter)");
}

const char *multipart_reader_error(const multipart_reader *r)
{
    return r->error ? r->error : "no error";
}

size_t multipart_reader_parts(const multipart_reader *r)
{
    return r->parts;
}

/* ---- Writer -------------------------------------------------------------------------------- */

typedef struct wpart {
    char *head; /* delimiter line and headers */
    size_t head_len;
    char *path;      /* file body, or */
    char *data;      /* memory body */
    uint64_t offset; /* of the body in the file */
    uint64_t size;
} wpart;

struct multipart_writer {
    char boundary[40];
    wpart *parts;
    size_t n, cap;
    uint64_t total;
    /* read cursor */
    uint64_t pos;
    size_t cur; /* part index; n = the close delimiter */
    int in_body;
    uint64_t off;
    int fd;
};

static const char *close_fmt = "\r\n--%s--\r\n";

multipart_writer *multipart_writer_new(void)
{
    multipart_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    char id[RANDOM_ID_LEN];
    if (random_id(id) < 0) { /* a boundary the parts cannot contain by chance */
        free(w);
        return NULL;
    }
    sprintf(w->boundary, "huren-%s", id);
    w->total = strlen(w->boundary) + 8; /* close delimiter */
    w->fd = -1;
    return w;
}

void multipart_writer_free(multipart_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->parts[i].head);
        free(w->parts[i].path);
        free(w->parts[i].data);
    }
    free(w->parts);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

const char *multipart_writer_boundary(const multipart_writer *w)
{
    return w->boundary;
}

static int add(multipart_writer *w, const char *ct, const char *location, char *path, char *data,
               uint64_t offset, uint64_t size)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        wpart *p = realloc(w->parts, cap * sizeof *p);
        if (!p)
            return -1;
        w->parts = p;
        w->cap = cap;
    }
    char head[1024];
    int len = snprintf(head, sizeof head, "%s--%s\r\nContent-Type: %s\r\n%s%s%s\r\n",
                       w->n ? "\r\n" : "", w->boundary, ct, location ? "Content-Location: " : "",
                       location ? location : "", location ? "\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof head)
        return -1;
    char *h = strdup(head);
    if (!h)
        return -1;
    w->parts[w->n++] = (wpart){h, (size_t)len, path, data, offset, size};
    w->total += (uint64_t)len + size;
    return 0;
}

int multipart_writer_add_file(multipart_writer *w, const char *content_type, const char *location,
                              const char *path, uint64_t offset, uint64_t size)
{
    char *copy = strdup(path);
    if (!copy || add(w, content_type, location, copy, NULL, offset, size) < 0) {
        free(copy);
        return -1;
    }
    return 0;
}

int multipart_writer_add_data(multipart_writer *w, const char *content_type, const char *location,
                              char *data, size_t len)
{
    if (add(w, content_type, location, NULL, data, 0, len) < 0) {
        free(data);
        return -1;
    }
    return 0;
}

uint64_t multipart_writer_size(const multipart_writer *w)
{
    return w->total;
}

/* Bytes of the current segment at w->off into buf; 0 when the segment is done, -1 on error. */
static ssize_t segment(multipart_writer *w, char *buf, size_t max)
{
    if (w->cur == w->n) {
        char tail[MULTIPART_MAX_BOUNDARY + 16];
        size_t len = (size_t)snprintf(tail, sizeof tail, close_fmt, w->boundary);
        size_t n = len - w->off < max ? len - w->off : max;
        memcpy(buf, tail + w->off, n);
        return (ssize_t)n;
    }
    wpart *p = &w->parts[w->cur];
    if (!w->in_body) {
        size_t n = p->head_len - w->off < max ? p->head_len - w->off : max;
        memcpy(buf, p->head + w->off, n);
        return (ssize_t)n;
    }
    uint64_t left = p->size - w->off;
    size_t n = left < max ? (size_t)left : max;
    if (n == 0)
        return 0;
    if (p->data) {
        memcpy(buf, p->data + w->off, n);
        return (ssize_t)n;
    }
    if (w->fd < 0 && (w->fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    ssize_t r = pread(w->fd, buf, n, (off_t)(p->offset + w->off));
    return r <= 0 ? -1 : r; /* a file shorter than indexed is an error, not an end */
}

static void next_segment(multipart_writer *w)
{
    w->off = 0;
    if (w->cur == w->n)
        return;
    if (!w->in_body) {
        w->in_body = 1;
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    w->in_body = 0;
    w->cur++;
}

ssize_t multipart_writer_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    multipart_writer *w = cls;
    if (pos != w->pos)
        return -1;
    size_t done = 0;
    while (done < max && w->pos < w->total) {
        ssize_t n = segment(w, buf + done, max - done);
        if (n < 0)
            return done ? (ssize_t)done : -1;
        if (n == 0) {
            next_segment(w);
            continue;
        }
        done += (size_t)n;
        w->off += (uint64_t)n;
        w->pos += (uint64_t)n;
        if (w->cur < w->n && ((!w->in_body && w->off == w->parts[w->cur].head_len) ||
                              (w->in_body && w->off == w->parts[w->cur].size)))
            next_segment(w);
    }
    return (ssize_t)done;
}
