/* routes.h: the node's route table (routes.c) listing every HTTP endpoint with the roles it
 * serves, and the node-wide endpoints of the root (api_health.c). Each feature declares its own
 * handlers in its folder's header; only the root sees them all. */
#ifndef HUREN_GATEWAY_ROUTES_H
#define HUREN_GATEWAY_ROUTES_H

#include <stddef.h>

#include "http/http.h"
#include "node.h"

/* api_health.c: GET /healthz (liveness) and GET /readyz (readiness: archive, disk, directory,
 * outbox), both without credentials and without patient data; GET /api/v1/health (any
 * identified client) and GET /metrics (admins, Prometheus). */
int api_healthz(http_request *req, http_response *res);
int api_readyz(http_request *req, http_response *res);
int api_health(http_request *req, http_response *res);
int api_metrics(http_request *req, http_response *res);

/* share_images.c: a cloud film share's rendered images (share/ guards, dicomweb/ renders). */
int share_rendered(http_request *req, http_response *res);

/* The route table for a node's role. */
const http_route *api_routes(const char *role, size_t *n);
/* The routes of that table whose bodies are streamed (http_options.body_routes). */
const http_body_route *api_body_routes(const char *role, size_t *n);

#endif
