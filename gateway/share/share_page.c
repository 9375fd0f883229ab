/* share_page.c: the patient's side of a share, without certificate or login: GET /s/{token}
 * (the phone viewer of that study and its report, or the PIN form), POST /s/{token} (the PIN;
 * SHARE_PIN_TRIES wrong ones in a row lock the share), and the guard of the share-scoped
 * image routes. A revoked or expired share answers 410. The token never reaches a log or the
 * audit trail: they name the share id and a hash prefix of the token. */
#define LOG_COMPONENT "share"
#include "share_int.h"
#include "config.h"
#include "log.h"
#include "node.h"
#include "index/index_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 200

static int token_shape(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n == SHARE_TOKEN_LEN - 1 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static int plain_page(http_response *res, int status, const char *title, const char *text)
{
    huren_buf b = {0};
    share_page_head(&b, title);
    huren_buf_printf(&b, "<h1>%s</h1><p>%s</p>", title, text);
    share_page_foot(&b);
    return share_reply_html(res, status, &b);
}

/* Find the live share of captures[0]. 1 with *sh, else 0 with the answer in res. */
static int share_find(http_request *req, http_response *res, huren_index_share *sh)
{
    node *n = req->app;
    const char *token = req->ncaptures ? req->captures[0] : "";
    snprintf(res->audit_object, sizeof res->audit_object, "share (unknown token)");
    int rc = token_shape(token) ? huren_index_share_by_token(n->index, token, sh)
                                : HUREN_INDEX_ENOTFOUND;
    if (rc == HUREN_INDEX_ENOTFOUND) {
        plain_page(res, 404, "链接无效", "此云胶片链接不存在，请核对二维码或联系开具医院。");
        return 0;
    }
    if (rc < 0) {
        log_error("share: %s", huren_index_errmsg(n->index));
        plain_page(res, 503, "暂时无法访问", "系统繁忙，请稍后再试。");
        return 0;
    }
    char tag[13];
    share_token_tag(sh->token, tag);
    snprintf(res->audit_patient, sizeof res->audit_patient, "%.127s", sh->patient_id);
    snprintf(res->audit_object, sizeof res->audit_object, "share/%lld study %s token %s",
             (long long)sh->id, sh->study_uid, tag);
    const char *status = share_status(sh, time(NULL));
    if (strcmp(status, "revoked") == 0 || strcmp(status, "expired") == 0) {
        plain_page(res, 410, "链接已失效",
                   strcmp(status, "revoked") == 0 ? "此云胶片已被医院撤销，无法再查看。"
                                                  : "此云胶片已过有效期，无法再查看。");
        return 0;
    }
    if (strcmp(status, "locked") == 0) {
        plain_page(res, 403, "已锁定", "密码错误次数过多，此云胶片已锁定，请联系开具医院。");
        return 0;
    }
    return 1;
}

/* Was the PIN given in this browser (the cookie share_pin sets)? 1 also without a PIN. */
static int pin_given(const http_request *req, const huren_index_share *sh)
{
    if (!sh->pin_hash[0])
        return 1;
    char want[65];
    share_pin_cookie(sh->token, sh->pin_hash, want);
    const char *c = http_request_header(req, "Cookie");
    for (const char *p = c ? strstr(c, "hs=") : NULL; p; p = strstr(p + 3, "hs=")) {
        if (p != c && p[-1] != ' ' && p[-1] != ';')
            continue;
        if (strncmp(p + 3, want, 64) == 0 && (p[67] == 0 || p[67] == ';'))
            return 1;
    }
    return 0;
}

static int pin_form(http_response *res, int status, const huren_index_share *sh, const char *msg)
{
    huren_buf b = {0};
    share_page_head(&b, "请输入密码");
    huren_buf_adds(&b, "<h1>请输入 6 位密码</h1>");
    if (msg)
        huren_buf_printf(&b, "<p class=\"err\" id=\"pin-error\">%s</p>", msg);
    huren_buf_printf(&b,
                     "<form method=\"post\" action=\"/s/%s\"><input name=\"pin\" id=\"pin\" "
                     "inputmode=\"numeric\" pattern=\"[0-9]{6}\" maxlength=\"6\" "
                     "autocomplete=\"off\" required> <button type=\"submit\">查看</button>"
                     "</form>",
                     sh->token);
    share_page_foot(&b);
    return share_reply_html(res, status, &b);
}

typedef struct images {
    huren_buf *b;
    const char *token;
    int n;
} images;

static int on_instance(void *payload, const huren_index_row *row)
{
    images *im = payload;
    huren_buf_printf(im->b,
                     "<img class=\"frame\" loading=\"lazy\" alt=\"影像 %d\" "
                     "src=\"/s/%s/studies/%s/series/%s/instances/%s/rendered\">\n",
                     im->n + 1, im->token, row->values[HUREN_INDEX_F_STUDY_UID],
                     row->values[HUREN_INDEX_F_SERIES_UID],
                     row->values[HUREN_INDEX_F_SOP_INSTANCE_UID]);
    im->n++;
    return 0;
}

/* The exam reports linked to the study (by accession number), as text. */
static void reports(http_request *req, huren_buf *b, const huren_index_share *sh)
{
    node *n = req->app;
    huren_index_report_list l;
    huren_index_report_filter f = {.kind = HUREN_INDEX_REPORT_EXAM};
    if (!sh->patient_id[0] || huren_index_reports_find(n->index, sh->patient_id, &f, &l) < 0)
        return;
    for (size_t i = 0; i < l.n; i++) {
        const huren_index_report *r = &l.items[i];
        if (!r->study_uid || strcmp(r->study_uid, sh->study_uid) != 0)
            continue;
        huren_buf_adds(b, "<h2>检查报告</h2><div class=\"report\" id=\"report\">");
        share_html(b, r->item_name);
        for (size_t k = 0; k < r->nobs; k++) {
            huren_buf_adds(b, "\n");
            share_html(b, r->obs[k].value);
        }
        huren_buf_adds(b, "</div>");
    }
    huren_index_report_list_free(&l);
}

static int viewer(http_request *req, http_response *res, const huren_index_share *sh)
{
    node *n = req->app;
    share_study st;
    char day[16], expires[16];
    if (share_study_get(req, sh->study_uid, &st) < 0)
        return plain_page(res, 503, "暂时无法访问", "系统繁忙，请稍后再试。");
    huren_buf b = {0};
    share_page_head(&b, "云胶片");
    share_dicom_date(st.date, day);
    share_day((time_t)sh->expires_at, expires);
    huren_buf_adds(&b, "<h1>云胶片</h1><dl><dt>姓名</dt><dd>");
    share_html(&b, st.patient_name);
    huren_buf_printf(&b, "</dd><dt>检查日期</dt><dd>%s</dd><dt>检查类型</dt><dd>", day);
    share_html(&b, st.modality);
    huren_buf_adds(&b, "</dd><dt>检查项目</dt><dd>");
    share_html(&b, st.description);
    huren_buf_printf(&b, "</dd><dt>有效期至</dt><dd>%s</dd></dl>", expires);
    reports(req, &b, sh);
    huren_buf_adds(&b, "<h2>影像</h2><div id=\"images\">\n");
    huren_index_match m[] = {{HUREN_INDEX_F_STUDY_UID, sh->study_uid}};
    huren_index_query q = {
        .level = HUREN_INDEX_LEVEL_INSTANCE, .matches = m, .nmatches = 1, .limit = MAX_IMAGES};
    images im = {&b, sh->token, 0};
    if (huren_index_find(n->index, &q, on_instance, &im) < 0 || im.n == 0)
        huren_buf_adds(&b, "<p>本机暂无此检查的影像。</p>");
    huren_buf_adds(&b, "</div><p class=\"noprint\">双指可放大查看。</p>");
    share_page_foot(&b);
    huren_index_share_opened(n->index, sh->id);
    log_info("share %lld opened", (long long)sh->id);
    return share_reply_html(res, 200, &b);
}

int share_open(http_request *req, http_response *res)
{
    huren_index_share sh;
    if (!share_find(req, res, &sh))
        return 0;
    if (!pin_given(req, &sh)) {
        strncat(res->audit_object, " pin asked",
                sizeof res->audit_object - 1 - strlen(res->audit_object));
        return pin_form(res, 200, &sh, NULL);
    }
    return viewer(req, res, &sh);
}

int share_pin(http_request *req, http_response *res)
{
    node *n = req->app;
    huren_index_share sh;
    if (!share_find(req, res, &sh))
        return 0;
    if (!sh.pin_hash[0])
        return viewer(req, res, &sh);
    char pin[8] = "";
    const char *p = req->body ? strstr(req->body, "pin=") : NULL;
    if (p && (p == req->body || p[-1] == '&'))
        sscanf(p + 4, "%7[0-9]", pin);
    if (share_pin_check(pin, sh.pin_hash)) {
        char cookie[65], hdr[256];
        share_pin_cookie(sh.token, sh.pin_hash, cookie);
        snprintf(hdr, sizeof hdr, "hs=%s; Path=/s/%s; HttpOnly; SameSite=Strict%s", cookie,
                 sh.token, n->cfg->tls_cert && n->cfg->tls_cert[0] ? "; Secure" : "");
        huren_index_share_pin_ok(n->index, sh.id);
        strncat(res->audit_object, " pin accepted",
                sizeof res->audit_object - 1 - strlen(res->audit_object));
        http_reply_text(res, 303, "text/plain; charset=utf-8", "");
        http_response_header(res, "Set-Cookie", hdr);
        snprintf(hdr, sizeof hdr, "/s/%s", sh.token);
        http_response_header(res, "Location", hdr);
        http_response_header(res, "Cache-Control", "no-store");
        http_response_header(res, "Referrer-Policy", "no-referrer");
        return 0;
    }
    int failures = SHARE_PIN_TRIES;
    huren_index_share_pin_failed(n->index, sh.id, &failures);
    strncat(res->audit_object, " pin refused",
            sizeof res->audit_object - 1 - strlen(res->audit_object));
    log_warnx("share %lld: wrong PIN (%d in a row)", (long long)sh.id, failures);
    if (failures >= SHARE_PIN_TRIES)
        return plain_page(res, 403, "已锁定", "密码错误次数过多，此云胶片已锁定，请联系开具医院。");
    char msg[128];
    snprintf(msg, sizeof msg, "密码错误，还可尝试 %d 次。", SHARE_PIN_TRIES - failures);
    return pin_form(res, 403, &sh, msg);
}

int share_guard(http_request *req, http_response *res)
{
    huren_index_share sh;
    if (!share_find(req, res, &sh))
        return 0;
    if (!pin_given(req, &sh)) {
        http_reply_error(res, 403, "the PIN of this share was not given");
        return 0;
    }
    if (req->ncaptures < 2 || strcmp(req->captures[1], sh.study_uid) != 0) {
        http_reply_error(res, 404, "not a study of this share");
        return 0;
    }
    return 1;
}
