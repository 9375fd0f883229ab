/* routes.c: every HTTP endpoint of the node, with the roles it serves and, for endpoints that
 * touch patient data, the action its answers are audited as (NULL: not audited; refusals are
 * audited always). Adding an endpoint means adding a row here; http.c refuses any role not
 * listed before the handler runs. Insurers reach no DICOMweb or records endpoint. */
#include "api.h"

#include <string.h>

static const http_route hospital_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL, NULL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN, NULL},
    {"GET", "/api/v1/audit", api_audit, HTTP_ROLE_ADMIN, "audit.read"},
    {"GET", "/api/v1/patients/*/reports", api_patient_reports, HTTP_ROLES_STAFF | HTTP_ROLE_PEER,
     "records.read"},
    {"GET", "/api/v1/reports/*", api_report, HTTP_ROLES_STAFF | HTTP_ROLE_PEER, "records.read"},
    {"GET", "/api/v1/patients/*/visits/*", api_patient_visit, HTTP_ROLES_STAFF | HTTP_ROLE_PEER,
     "records.read"},
    /* consents (staff) and insurer claims */
    {"POST", "/api/v1/consents", api_consent_create, HTTP_ROLES_STAFF, "consent.write"},
    {"GET", "/api/v1/patients/*/consents", api_patient_consents, HTTP_ROLES_STAFF,
     "consent.read"},
    {"POST", "/api/v1/consents/*/revoke", api_consent_revoke, HTTP_ROLES_STAFF, "consent.write"},
    {"DELETE", "/api/v1/consents/*", api_consent_revoke, HTTP_ROLES_STAFF, "consent.write"},
    {"POST", "/api/v1/claims", api_claim_create, HTTP_ROLE_INSURER, "claims.create"},
    {"GET", "/api/v1/claims/*", api_claim_get, HTTP_ROLE_INSURER, "claims.read"},
};

static const http_route directory_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL, NULL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN, NULL},
    {"GET", "/api/v1/audit", api_audit, HTTP_ROLE_ADMIN, "audit.read"},
};

const http_route *api_routes(const char *role, size_t *n)
{
    if (strcmp(role, "directory") == 0) {
        *n = sizeof directory_routes / sizeof directory_routes[0];
        return directory_routes;
    }
    *n = sizeof hospital_routes / sizeof hospital_routes[0];
    return hospital_routes;
}
