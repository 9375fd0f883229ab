/* directory_api.h: the regional directory's API (role directory; directory_api.c):
 * POST /api/v1/directory/entries (peers publish a batch for their own institution) and
 * GET /api/v1/directory/records?pseudonym=&kind=&item=&since= (peers, clinicians). */
#ifndef HUREN_GATEWAY_DIRECTORY_API_H
#define HUREN_GATEWAY_DIRECTORY_API_H

#include "http/http.h"
#include "node.h"

int api_directory_publish(http_request *req, http_response *res);
int api_directory_records(http_request *req, http_response *res);
/* GET and PUT /api/v1/directory/reference/{catalogue|institutions|qc} (reference_api.c) */
int api_directory_reference_get(http_request *req, http_response *res);
int api_directory_reference_put(http_request *req, http_response *res);
/* Prometheus text of the directory's counters (caller frees), or NULL. */
char *directory_api_metrics(node *n);

#endif
