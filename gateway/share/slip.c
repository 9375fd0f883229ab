/* slip.c: GET /api/v1/shares/{id}/slip (staff): the printable slip (中文) handed to the
 * patient: hospital, study date, modality, description, expiry, and the QR code of the share
 * URL as inline SVG (libqrencode). Audited as share.slip. The PIN is not on it: it was given
 * once, at creation. */
#define LOG_COMPONENT "share"
#include "share_int.h"
#include "config.h"
#include "log.h"
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void row(huren_buf *b, const char *label, const char *value)
{
    huren_buf_printf(b, "<dt>%s</dt><dd>", label);
    share_html(b, value && *value ? value : "—");
    huren_buf_adds(b, "</dd>");
}

static const char *hospital(const node *n)
{
    const config *c = n->cfg;
    if (c->share_hospital_name && *c->share_hospital_name)
        return c->share_hospital_name;
    if (c->claims_institution && *c->claims_institution)
        return c->claims_institution;
    return c->dir_institution ? c->dir_institution : "";
}

static void slip_body(huren_buf *b, const node *n, const huren_index_share *sh,
                      const share_study *st, const char *url, const char *svg)
{
    char day[16], expires[16];
    share_page_head(b, "云胶片");
    huren_buf_adds(b, "<h1>");
    share_html(b, hospital(n));
    huren_buf_adds(b, " · 云胶片</h1><div class=\"qrbox\">");
    huren_buf_adds(b, svg);
    huren_buf_adds(b, "</div><p>请用手机扫描二维码查看本次检查的影像和报告。</p><dl>");
    share_dicom_date(st->date, day);
    row(b, "检查日期", day);
    row(b, "检查类型", st->modality);
    row(b, "检查项目", st->description);
    share_day((time_t)sh->expires_at, expires);
    row(b, "有效期至", expires);
    row(b, "密码", sh->pin_hash[0] ? "需要（见短信或开单时告知的 6 位数字）" : "无需密码");
    huren_buf_adds(b, "</dl><p class=\"url\">");
    share_html(b, url);
    huren_buf_adds(b, "</p><p>此二维码等同于您的影像资料，请妥善保管，勿转发给他人。</p>");
    share_page_foot(b);
}

int api_share_slip(http_request *req, http_response *res)
{
    node *n = req->app;
    int64_t id = share_id_arg(req);
    huren_index_share sh;
    if (!id)
        return http_reply_error(res, 400, "malformed share id");
    snprintf(res->audit_object, sizeof res->audit_object, "share/%lld slip", (long long)id);
    int rc = huren_index_share_get(n->index, id, &sh);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such share");
    if (rc < 0) {
        log_error("share slip: %s", huren_index_errmsg(n->index));
        return http_reply_error(res, 503, "archive unavailable");
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%.127s", sh.patient_id);
    if (strcmp(share_status(&sh, time(NULL)), "active") != 0)
        return http_reply_error(res, 410, "this share is revoked, expired or locked");
    share_study st;
    if (share_study_get(req, sh.study_uid, &st) < 0)
        return http_reply_error(res, 503, "archive unavailable");
    char url[512];
    share_url(req, sh.token, url, sizeof url);
    char *svg = share_qr_svg(url);
    if (!svg)
        return -1;
    huren_buf b = {0};
    slip_body(&b, n, &sh, &st, url, svg);
    free(svg);
    return share_reply_html(res, 200, &b);
}
