/* share_common.c: what the share pages and the API have in common: the study from the index,
 * a share's status, its URL, HTML escaping and the HTML answer with its headers. */
#include "share_int.h"
#include "config.h"
#include "node.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Styles inline (the page is one answer, printable offline); no script runs anywhere. */
#define SHARE_CSP                                                                                  \
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "          \
    "base-uri 'none'; frame-ancestors 'none'"

typedef struct study_cb {
    share_study *out;
    int found;
} study_cb;

static void put(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v ? v : "");
}

/* A DICOM person name as a person reads it: the ideographic group when there is one
 * ("Li^Lei=李^雷" -> "李雷"), components joined without a space for CJK, else with one. */
static void person_name(char *out, size_t cap, const char *pn)
{
    const char *v = pn ? pn : "", *eq = strchr(v, '=');
    if (eq && eq[1] && eq[1] != '=')
        v = eq + 1;
    size_t len = strcspn(v, "="), k = 0;
    int cjk = (unsigned char)v[0] >= 0x80;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        if (v[i] != '^')
            out[k++] = v[i];
        else if (!cjk && k && out[k - 1] != ' ')
            out[k++] = ' ';
    }
    while (k && out[k - 1] == ' ')
        k--;
    out[k] = 0;
}

static int on_study(void *payload, const huren_index_row *row)
{
    study_cb *c = payload;
    put(c->out->patient_id, sizeof c->out->patient_id, row->values[HUREN_INDEX_F_PATIENT_ID]);
    person_name(c->out->patient_name, sizeof c->out->patient_name,
                row->values[HUREN_INDEX_F_PATIENT_NAME]);
    put(c->out->date, sizeof c->out->date, row->values[HUREN_INDEX_F_STUDY_DATE]);
    put(c->out->modality, sizeof c->out->modality, row->values[HUREN_INDEX_F_MODALITIES_IN_STUDY]);
    put(c->out->description, sizeof c->out->description,
        row->values[HUREN_INDEX_F_STUDY_DESCRIPTION]);
    c->found = 1;
    return 1;
}

int share_study_get(http_request *req, const char *study_uid, share_study *out)
{
    node *n = req->app;
    memset(out, 0, sizeof *out);
    huren_index_match m[] = {{HUREN_INDEX_F_STUDY_UID, study_uid}};
    huren_index_query q = {
        .level = HUREN_INDEX_LEVEL_STUDY, .matches = m, .nmatches = 1, .limit = 1};
    study_cb c = {out, 0};
    int rc = huren_index_find(n->index, &q, on_study, &c);
    if (rc < 0 && rc != HUREN_INDEX_ECANCEL)
        return -1;
    return c.found;
}

const char *share_status(const huren_index_share *s, time_t now)
{
    if (s->revoked_at)
        return "revoked";
    if (s->expires_at <= (int64_t)now)
        return "expired";
    if (s->pin_hash[0] && s->pin_failures >= SHARE_PIN_TRIES)
        return "locked";
    return "active";
}

void share_url(const http_request *req, const char *token, char *out, size_t len)
{
    node *n = req->app;
    const char *base = n->cfg->share_base_url;
    if (base && *base) {
        size_t bl = strlen(base);
        snprintf(out, len, "%.*s/s/%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base,
                 token);
        return;
    }
    const char *host = http_request_header(req, "Host");
    int host_ok = host && host[0] && strlen(host) < 256;
    for (const char *c = host; host_ok && *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-:[]", *c))
            host_ok = 0; /* a Host we would not echo back */
    snprintf(out, len, "%s://%s/s/%s", n->cfg->tls_cert && n->cfg->tls_cert[0] ? "https" : "http",
             host_ok ? host : n->cfg->bind_address, token);
}

void share_html(huren_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            huren_buf_adds(b, "&lt;");
            break;
        case '>':
            huren_buf_adds(b, "&gt;");
            break;
        case '&':
            huren_buf_adds(b, "&amp;");
            break;
        case '"':
            huren_buf_adds(b, "&quot;");
            break;
        case '\'':
            huren_buf_adds(b, "&#39;");
            break;
        default:
            huren_buf_addc(b, *s);
        }
    }
}

void share_day(time_t t, char out[16])
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

void share_dicom_date(const char *da, char out[16])
{
    if (da && strlen(da) == 8 && strspn(da, "0123456789") == 8)
        snprintf(out, 16, "%.4s-%.2s-%.2s", da, da + 4, da + 6);
    else
        snprintf(out, 16, "%s", da ? da : "");
}

int share_reply_html(http_response *res, int status, huren_buf *b)
{
    if (b->failed) {
        huren_buf_free(b);
        return -1;
    }
    size_t len = b->len;
    char *body = huren_buf_release(b);
    if (!body)
        body = calloc(1, 1);
    if (!body || http_reply_buffer(res, status, "text/html; charset=utf-8", body, len) < 0)
        return -1;
    http_response_header(res, "Content-Security-Policy", SHARE_CSP);
    http_response_header(res, "Referrer-Policy", "no-referrer");
    http_response_header(res, "Cache-Control", "no-store");
    http_response_header(res, "X-Content-Type-Options", "nosniff");
    http_response_header(res, "X-Robots-Tag", "noindex");
    return 0;
}

void share_page_head(huren_buf *b, const char *title)
{
    huren_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                      "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    share_html(b, title);
    huren_buf_adds(b, "</title><style>body{font-family:sans-serif;margin:0 auto;max-width:720px;"
                      "padding:12px;color:#222}h1{font-size:1.3em}img.frame{width:100%;height:auto;"
                      "background:#000;margin:4px 0}dl{display:grid;grid-template-columns:auto 1fr;"
                      "gap:4px 12px}dt{color:#666}.report{white-space:pre-wrap;background:#f6f6f6;"
                      "padding:8px}svg.qr{width:45mm;height:45mm}input,button{font-size:1.2em;"
                      "padding:6px}.err{color:#b00}@media print{.noprint{display:none}}</style>"
                      "</head><body>\n");
}

void share_page_foot(huren_buf *b)
{
    huren_buf_adds(b, "</body></html>\n");
}
