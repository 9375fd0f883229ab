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
};

static const http_route directory_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL, NULL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN, NULL},
    {"GET", "/api/v1/audit", api_audit, HTTP_ROLE_ADMIN, "audit.read"},
    {"POST", "/api/v1/directory/entries", api_directory_publish, HTTP_ROLE_PEER,
     "directory.publish"},
    {"GET", "/api/v1/directory/records", api_directory_records,
     HTTP_ROLE_PEER | HTTP_ROLE_CLINICIAN, "directory.read"},
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
