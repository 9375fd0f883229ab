/* routes.c: every HTTP endpoint of the node, with the roles it serves. Adding an endpoint means
 * adding a row here; http.c refuses any role not listed before the handler runs. */
#include "api.h"

#include <string.h>

static const http_route hospital_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN},
    {"GET", "/api/v1/patients/*/reports", api_patient_reports, HTTP_ROLES_STAFF | HTTP_ROLE_PEER},
    {"GET", "/api/v1/reports/*", api_report, HTTP_ROLES_STAFF | HTTP_ROLE_PEER},
    {"GET", "/api/v1/patients/*/visits/*", api_patient_visit, HTTP_ROLES_STAFF | HTTP_ROLE_PEER},
};

static const http_route directory_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN},
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
