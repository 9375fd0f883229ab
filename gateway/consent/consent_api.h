/* consent_api.h: recording and revoking patients' consents (staff; api_consents.c). The rules
 * that decide whether a consent allows an access are the node's, consent.h at the root, which
 * claims and recognition check too. */
#ifndef HUREN_GATEWAY_CONSENT_API_H
#define HUREN_GATEWAY_CONSENT_API_H

#include "http/http.h"

int api_consent_create(http_request *req, http_response *res);
int api_patient_consents(http_request *req, http_response *res);
int api_consent_revoke(http_request *req, http_response *res);

#endif
