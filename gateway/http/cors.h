/* cors.h: Cross-Origin Resource Sharing (Fetch standard; PS3.18 8.9) for the DICOMweb and REST
 * routes, so that a web viewer served from another origin (OHIF) can use the node. The policy
 * is a list of exact origins from [dicomweb] cors_origins; preflights are answered here without
 * running a route, and every answer in scope carries the headers a browser needs. */
#ifndef HUREN_GATEWAY_CORS_H
#define HUREN_GATEWAY_CORS_H

#include <stddef.h>

#include "http.h"

/* Check a cors_origins list: origins "scheme://host[:port]" (http or https, lower case, no
 * path, no trailing slash, never "*" or "null") separated by spaces or commas. Returns 0, or -1
 * with err naming the first bad origin. */
int cors_origins_check(const char *list, char *err, size_t errlen);

/* Does CORS apply to path (DICOMweb /dicom-web/ and /wado, the REST API /api/)? */
int cors_in_scope(const char *path);

/* Is origin (a request's Origin header; NULL = none) one of list (NULL or "" = none)? */
int cors_origin_listed(const char *list, const char *origin);

/* Add the headers of an actual answer to res: Vary: Origin on every answer in scope when a
 * list is configured, and for a listed origin Access-Control-Allow-Origin (that origin),
 * -Allow-Credentials and -Expose-Headers. */
void cors_response_headers(const char *list, const http_request *req, http_response *res);

/* Answer an OPTIONS request to a path whose methods are allow ("GET, POST, OPTIONS"): a
 * preflight (Origin and Access-Control-Request-Method present) from a listed origin, to a path
 * in scope, is 204 with -Allow-Methods, -Allow-Headers and -Max-Age; from any other origin it
 * is 403. Any other OPTIONS is 204 with Allow. Runs no route and needs no credentials. */
int cors_options(const char *list, const http_request *req, const char *allow, http_response *res);

#endif
