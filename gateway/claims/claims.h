/* claims.h: the insurer claims service of a hospital node: the signing key and certificate
 * chain ([claims] key, cert, chain), the per-insurer rate limit, and the two endpoints
 * POST /api/v1/claims and GET /api/v1/claims/{id}. */
#ifndef HUREN_GATEWAY_CLAIMS_H
#define HUREN_GATEWAY_CLAIMS_H

#include <stddef.h>

#include "http/http.h"
#include "node.h"

/* Load n->cfg's [claims] section into n->claims. Without a key and certificate the service
 * stays off (claims answer 503) and this returns 0; a key or certificate that cannot be used
 * is an error: -1 with err. */
int claims_open(node *n, char *err, size_t errlen);
void claims_close(node *n);
/* For `huren check-config`: can [claims] key, cert and chain be used? 0, or -1 with err. */
int claims_check_config(const config *cfg, char *err, size_t errlen);

/* Checks that come before an insurer's body is read: service on, institution known, size,
 * rate limit. 0, or -1 when answered (503, 403, 413, 429). Underwriting takes them too. */
int claims_admit(http_request *req, http_response *res);
/* This node's bundle signer (NULL when [claims] is off), institution code ("" when not
 * configured) and UTC offset in minutes; valid while the node runs. */
struct jws_signer;
const struct jws_signer *claims_signer(const node *n);
const char *claims_hospital(const node *n);
int claims_offset_min(const node *n);

/* POST /api/v1/claims and GET /api/v1/claims/{id} (insurers, mTLS). */
int api_claim_create(http_request *req, http_response *res);
int api_claim_get(http_request *req, http_response *res);
/* POST /api/v1/underwriting (insurers) and POST /api/v1/underwriting/summary (peers): the
 * underwriting summary across hospitals (underwriting*.c, docs/api/underwriting.md). */
int api_underwriting_create(http_request *req, http_response *res);
int api_underwriting_summary(http_request *req, http_response *res);

#endif
