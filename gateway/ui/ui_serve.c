/* ui_serve.c: serves the doctors' web page (GET /ui/..., files of gateway/ui/www/ embedded at
 * build time by embed.cmake) with its content type and a self-only Content-Security-Policy.
 * Page views (/ui, /ui/patient, ...) are audited as "ui.view" (routes.c); the scripts and
 * styles under /ui/static/ are not patient data and are not audited. */
#include "ui.h"
#include "ui_files.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the page loads comes from the node itself: no CDN, no inline script. */
#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

/* The pages a HIS can open; all are the same shell (index.html), app.js draws the page the
 * path names. */
static const char *const pages[] = {"patient", "study", "report", "recognition", "stats", "index"};

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
};

const char *ui_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static const ui_file *find_file(const char *name)
{
    for (size_t i = 0; i < ui_nfiles; i++)
        if (strcmp(ui_files[i].name, name) == 0)
            return &ui_files[i];
    return NULL;
}

static int reply_file(http_response *res, const ui_file *f)
{
    char *body = malloc(f->len ? f->len : 1);
    if (!body)
        return -1;
    memcpy(body, f->data, f->len);
    if (http_reply_buffer(res, 200, ui_content_type(f->name), body, f->len) < 0)
        return -1;
    http_response_header(res, "Content-Security-Policy", UI_CSP);
    http_response_header(res, "Referrer-Policy", "no-referrer");
    return 0;
}

/* An identifier worth naming in the audit trail: 1..64 of [A-Za-z0-9._-] (patient ids,
 * resident ids, UIDs, report ids); anything else is left out rather than logged raw. */
static int audit_safe(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* GET /ui, /ui/ and /ui/{page}: the page shell, audited with the patient it is opened for. */
int ui_page(http_request *req, http_response *res)
{
    const char *page = req->ncaptures ? req->captures[0] : "index";
    int known = 0;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        known |= strcmp(page, pages[i]) == 0;
    if (!known)
        return http_reply_error(res, 404, "no such page");
    const ui_file *f = find_file("index.html");
    if (!f)
        return -1;
    const char *patient = http_request_arg(req, "id");
    if (!patient)
        patient = http_request_arg(req, "patient");
    if (audit_safe(patient))
        snprintf(res->audit_patient, sizeof res->audit_patient, "%s", patient);
    const char *object = http_request_arg(req, "study");
    if (!object)
        object = http_request_arg(req, "report");
    if (!object)
        object = http_request_arg(req, "item");
    snprintf(res->audit_object, sizeof res->audit_object, "ui/%s%s%s", page,
             audit_safe(object) ? " " : "", audit_safe(object) ? object : "");
    return reply_file(res, f);
}

/* GET /ui/static/{file}: a script, style sheet or icon (not index.html: pages go by name). */
int ui_static(http_request *req, http_response *res)
{
    const char *name = req->ncaptures ? req->captures[0] : "";
    const ui_file *f = strcmp(name, "index.html") == 0 ? NULL : find_file(name);
    if (!f)
        return http_reply_error(res, 404, "not found");
    return reply_file(res, f);
}
