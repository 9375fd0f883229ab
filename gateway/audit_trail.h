/* audit_trail.h: the node's audit trail, a service of the node every feature records into. Every
 * read or write of patient data over any interface, and every refused access, becomes one entry of
 * the hash-chained log kept by index/ (format in huren_index.h): HTTP through the hook http.c
 * calls, DIMSE from dimse.c, HL7 from its ingest. */
#ifndef HUREN_GATEWAY_AUDIT_TRAIL_H
#define HUREN_GATEWAY_AUDIT_TRAIL_H

#include "config.h"
#include "http/http.h"
#include "node.h"
#include "audit/huren_audit.h"

/* The audit log's path: [audit] file, or DATA/audit.log. Returns 0, -1 if too long. */
int audit_path(const config *cfg, char *buf, size_t len);
/* Open the log of n->cfg into n->audit. Returns 0, or -1 with err. */
int audit_open(node *n, char *err, size_t errlen);
void audit_close(node *n);

/* Append one entry (thread-safe). On failure logs it at error level and returns -1: callers
 * that can still refuse the request do so. */
int audit_record(node *n, const huren_audit_entry *e);

/* The http_audit_fn of the node (app is the node). */
int audit_http(void *app, const http_request *req, const char *action, const http_response *res);

/* "success", "refused" (401/403), "failed" (other 4xx) or "error" (5xx) for an HTTP status. */
const char *audit_outcome_http(int status);

/* Is s a --since/since= value: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS? */
int audit_since_valid(const char *s);

#endif
