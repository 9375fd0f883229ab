/* cors.c: the CORS policy of the HTTP server: which paths it covers, whether an Origin is
 * listed, the headers of actual answers and the answer to OPTIONS (preflight or not). The list
 * is the configuration's text, scanned per request (a handful of short origins). */
#include "cors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request headers a cross-origin viewer may send: what OHIF and dicomweb-client send
 * (Accept with multipart parameters, Authorization for bearer tokens, Content-Type of STOW-RS)
 * and the usual cache and range headers. */
#define CORS_ALLOW_HEADERS                                                                         \
    "Authorization, Accept, Accept-Language, Content-Language, Content-Type, Cache-Control, "      \
    "Pragma, Range, If-Match, If-None-Match, If-Modified-Since, X-Requested-With"
/* Response headers a viewer's script may read besides the CORS-safelisted ones. */
#define CORS_EXPOSE_HEADERS                                                                        \
    "Content-Type, Content-Length, Content-Location, Content-Disposition, Location, Warning, "     \
    "WWW-Authenticate"
#define CORS_MAX_AGE "600" /* seconds a browser may keep a preflight's answer */
#define CORS_MAX_ORIGIN 256

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',';
}

/* The next origin of a list: *start and *len, or 0 at the end. */
static int next_origin(const char **p, const char **start, size_t *len)
{
    const char *s = *p;
    while (*s && is_sep(*s))
        s++;
    if (!*s)
        return 0;
    const char *e = s;
    while (*e && !is_sep(*e))
        e++;
    *start = s;
    *len = (size_t)(e - s);
    *p = e;
    return 1;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* "scheme://host[:port]" as a browser serialises it (lower case, no default-less quirks). */
static int origin_valid(const char *o, size_t n)
{
    size_t i;
    if (n > 8 && strncmp(o, "https://", 8) == 0)
        i = 8;
    else if (n > 7 && strncmp(o, "http://", 7) == 0)
        i = 7;
    else
        return 0;
    size_t host = i;
    if (o[i] == '[') { /* an IPv6 literal, lower-case hex */
        for (i++; i < n && o[i] != ']'; i++)
            if (!(isdigit((unsigned char)o[i]) || (o[i] >= 'a' && o[i] <= 'f') || o[i] == ':' ||
                  o[i] == '.'))
                return 0;
        if (i == n || i == host + 1)
            return 0;
        i++;
    } else {
        while (i < n && host_char(o[i]))
            i++;
        if (i == host)
            return 0;
    }
    if (i == n)
        return 1;
    if (o[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return 0;
    long port = 0;
    for (size_t k = i + 1; k < n; k++) {
        if (!isdigit((unsigned char)o[k]))
            return 0;
        port = port * 10 + (o[k] - '0');
    }
    return port >= 1 && port <= 65535;
}

int cors_origins_check(const char *list, char *err, size_t errlen)
{
    const char *p = list ? list : "", *s;
    size_t n;
    while (next_origin(&p, &s, &n))
        if (n >= CORS_MAX_ORIGIN || !origin_valid(s, n)) {
            snprintf(err, errlen,
                     "\"%.*s\" is not an origin (scheme://host[:port], http or https, lower "
                     "case, no path or trailing slash; \"*\" is not allowed)",
                     (int)(n > 80 ? 80 : n), s);
            return -1;
        }
    return 0;
}

int cors_in_scope(const char *path)
{
    /* CDS Hooks: "CDS Services SHOULD support CORS" (its clients may be browser apps) */
    static const char *const prefixes[] = {"/dicom-web/", "/api/", "/cds-services/"};
    static const char *const exact[] = {"/dicom-web", "/wado", "/cds-services"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(path, exact[i]) == 0)
            return 1;
    return 0;
}

int cors_origin_listed(const char *list, const char *origin)
{
    if (!list || !origin || !origin[0])
        return 0;
    size_t olen = strlen(origin), n;
    const char *p = list, *s;
    while (next_origin(&p, &s, &n))
        if (n == olen && memcmp(s, origin, n) == 0)
            return 1;
    return 0;
}

static int configured(const char *list)
{
    const char *p = list ? list : "", *s;
    size_t n;
    return next_origin(&p, &s, &n);
}

void cors_response_headers(const char *list, const http_request *req, http_response *res)
{
    if (!configured(list) || !cors_in_scope(req->path))
        return;
    http_response_header(res, "Vary", "Origin");
    const char *origin = http_request_header(req, "Origin");
    if (!cors_origin_listed(list, origin))
        return;
    /* the exact origin, never "*": answers may be for a client with credentials */
    http_response_header(res, "Access-Control-Allow-Origin", origin);
    http_response_header(res, "Access-Control-Allow-Credentials", "true");
    http_response_header(res, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

int cors_options(const char *list, const http_request *req, const char *allow, http_response *res)
{
    const char *origin = http_request_header(req, "Origin");
    const char *method = http_request_header(req, "Access-Control-Request-Method");
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    if (origin && method) {
        if (!cors_in_scope(req->path) || !cors_origin_listed(list, origin))
            return http_reply_error(res, 403,
                                    "cross-origin requests from this origin are not "
                                    "allowed ([dicomweb] cors_origins)");
        http_response_header(res, "Access-Control-Allow-Methods", allow);
        http_response_header(res, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        http_response_header(res, "Access-Control-Max-Age", CORS_MAX_AGE);
    }
    http_response_header(res, "Allow", allow);
    res->status = 204;
    res->content_type = "text/plain";
    return 0;
}
