/* api.h: the node's HTTP endpoints (handlers for http.c) and the route table that lists them
 * with the roles each one serves. */
#ifndef HUREN_GATEWAY_API_H
#define HUREN_GATEWAY_API_H

#include <stddef.h>

#include "http.h"
#include "node.h"

int api_health(http_request *req, http_response *res);
int api_metrics(http_request *req, http_response *res);
/* api_records.c: clinical records (reports, one report with history, a visit) */
int api_patient_reports(http_request *req, http_response *res);
int api_report(http_request *req, http_response *res);
int api_patient_visit(http_request *req, http_response *res);
/* GET /api/v1/audit?since=&patient=&limit= (admins): audit entries as JSON (api_audit.c). */
int api_audit(http_request *req, http_response *res);

/* api_consents.c: patients' consents (staff) */
int api_consent_create(http_request *req, http_response *res);
int api_patient_consents(http_request *req, http_response *res);
int api_consent_revoke(http_request *req, http_response *res);
/* claims.c: insurer claims (insurers, mTLS) */
int api_claim_create(http_request *req, http_response *res);
int api_claim_get(http_request *req, http_response *res);
/* directory_api.c (role directory): POST /api/v1/directory/entries (peers publish a batch
 * for their own institution), GET /api/v1/directory/records?pseudonym=&kind=&item=&since=
 * (peers, clinicians); Prometheus text of the directory's counters (caller frees). */
int api_directory_publish(http_request *req, http_response *res);
int api_directory_records(http_request *req, http_response *res);
char *directory_api_metrics(node *n);

/* The route table for a node's role. */
const http_route *api_routes(const char *role, size_t *n);
/* The routes of that table whose bodies are streamed (http_options.body_routes). */
const http_body_route *api_body_routes(const char *role, size_t *n);

#endif
