/* recognition.h: mutual recognition (鲁医互认) on a hospital node: the query that finds a
 * patient's recognisable results at every hospital (directory lookup, then metadata from the
 * holding peers in parallel), the doctors' decisions and the statistics. Its state (the
 * catalogue and the region key) is loaded once at start and immutable afterwards. */
#ifndef HUREN_GATEWAY_RECOGNITION_H
#define HUREN_GATEWAY_RECOGNITION_H

#include <stddef.h>

#include "http/http.h"
#include <jansson.h>
#include "node.h"

/* Role hospital with [directory] url, region_key, institution and catalogue set: load them
 * into n->recognition. Otherwise leave it NULL (the endpoints answer 503). Returns -1 with err
 * when they are set but cannot be loaded. */
int recognition_start(node *n, char *err, size_t errlen);
void recognition_stop(node *n); /* NULL-safe */
/* SIGHUP: the [directory] catalogue read again for the prompts from now on. 0 done, 1 no
 * recognition here, -1 with err (the file's line) and the old catalogue kept. */
int recognition_catalogue_reload(node *n, char *err, size_t errlen);

/* The versions of the province's reference data this node holds, for /api/v1/health (a new
 * object, NULL without recognition). */
json_t *recognition_reference_health(node *n);

/* GET /api/v1/recognition?patient=&item=[&at=&doctor=&dept=] (api_recognition.c) */
int api_recognition_query(http_request *req, http_response *res);
/* GET /api/v1/recognition/reasons: the platform's reason list (reasons.c) */
int api_recognition_reasons(http_request *req, http_response *res);
/* POST /api/v1/recognition/decisions (api_decisions.c) */
int api_recognition_decision(http_request *req, http_response *res);
/* POST /api/v1/recognition/order-check {"patient", "orders": [{"id", "code"}], "doctor",
 * "department", "visit"}: per draft order the recognition prompt (api_order_check.c) */
int api_recognition_order_check(http_request *req, http_response *res);
/* GET /cds-services: CDS Hooks discovery; POST /cds-services/huren-order-select: the
 * order-select hook answered with cards (cds_hooks.c) */
int api_cds_discovery(http_request *req, http_response *res);
int api_cds_order_select(http_request *req, http_response *res);
/* POST /api/v1/recognition/decisions/{id}/revoke (api_decisions.c) */
int api_recognition_revoke(http_request *req, http_response *res);
/* GET /api/v1/recognition/stats?from=&to=&by=item|department|institution|month[&format=csv] */
int api_recognition_stats(http_request *req, http_response *res);

/* GET /api/v1/patients/{id}/timeline?scope=region: the patient's results at every hospital of
 * the region (from the directory, with the recognition consent), marked local, other or copy,
 * newest first and grouped by item (api_timeline.c) */
int api_patient_timeline(http_request *req, http_response *res);

/* POST /api/v1/retrievals {"prompt_id", "result_key"}: a study a prompt listed, fetched from
 * its holder over WADO-RS and stored here (retrieval.c) */
int api_retrieval_create(http_request *req, http_response *res);
/* GET /api/v1/retrievals/{id}: the progress of a background retrieval (jobs.c) */
int api_retrieval_get(http_request *req, http_response *res);

/* With [recognition] retrieve_on_move: when a recognition prompt listed study study_uid, fetch
 * it from the gateway holding it and store it here (for a C-MOVE or C-GET of a study this node
 * does not hold). Returns 1 when something was fetched, 0 when not applicable (off, never
 * listed), -1 with err when the retrieval failed. Blocks for the transfer. */
int recognition_retrieve_study(node *n, const char *study_uid, char *err, size_t errlen);

#endif
