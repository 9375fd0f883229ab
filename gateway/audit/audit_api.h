/* audit_api.h: reading the audit trail: GET /api/v1/audit?since=&patient=&limit= (admins) as
 * JSON (api_audit.c); `huren audit` (verify, export as ATNA XML) is declared in commands.h.
 * Recording entries is the node's service, audit_trail.h. */
#ifndef HUREN_GATEWAY_AUDIT_API_H
#define HUREN_GATEWAY_AUDIT_API_H

#include "http/http.h"

int api_audit(http_request *req, http_response *res);

#endif
