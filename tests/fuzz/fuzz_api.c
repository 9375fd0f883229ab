/* fuzz_api.c: the REST API's request parsing, handlers called as http.c calls them on a real
 * archive: every JSON request body (consents, claims, recognition decisions, retrievals,
 * directory entries) and the query parameters and path segments of the reads (records,
 * consents, claims, recognition, retrievals, directory, audit). Input: the first byte picks
 * the route; line 1 (after it) is the path's variable part; for a POST the rest is the body,
 * for a GET the other lines are key=value parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "audit/audit_api.h"
#include "claims/claims.h"
#include "consent/consent_api.h"
#include "directory/directory_api.h"
#include "records/records.h"
#include "fuzz_node.h"
#include "recognition/recognition.h"

static const struct {
    const char *method, *role, *prefix, *suffix, *pattern;
    http_handler handler;
} routes[] = {
    {"POST", "hospital", "/api/v1/consents", "", "/api/v1/consents", api_consent_create},
    {"POST", "hospital", "/api/v1/consents/", "/revoke", "/api/v1/consents/*/revoke",
     api_consent_revoke},
    {"GET", "hospital", "/api/v1/patients/", "/consents", "/api/v1/patients/*/consents",
     api_patient_consents},
    {"POST", "hospital", "/api/v1/claims", "", "/api/v1/claims", api_claim_create},
    {"GET", "hospital", "/api/v1/claims/", "", "/api/v1/claims/*", api_claim_get},
    {"POST", "hospital", "/api/v1/recognition/decisions", "", "/api/v1/recognition/decisions",
     api_recognition_decision},
    {"GET", "hospital", "/api/v1/recognition", "", "/api/v1/recognition", api_recognition_query},
    {"GET", "hospital", "/api/v1/recognition/stats", "", "/api/v1/recognition/stats",
     api_recognition_stats},
    {"POST", "hospital", "/api/v1/retrievals", "", "/api/v1/retrievals", api_retrieval_create},
    {"GET", "hospital", "/api/v1/retrievals/", "", "/api/v1/retrievals/*", api_retrieval_get},
    {"GET", "hospital", "/api/v1/patients/", "/reports", "/api/v1/patients/*/reports",
     api_patient_reports},
    {"GET", "hospital", "/api/v1/reports/", "", "/api/v1/reports/*", api_report},
    {"GET", "hospital", "/api/v1/patients/", "/visits/V1", "/api/v1/patients/*/visits/*",
     api_patient_visit},
    {"GET", "hospital", "/api/v1/audit", "", "/api/v1/audit", api_audit},
    {"POST", "directory", "/api/v1/directory/entries", "", "/api/v1/directory/entries",
     api_directory_publish},
    {"GET", "directory", "/api/v1/directory/records", "", "/api/v1/directory/records",
     api_directory_records},
};

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    size_t r = in[0] % (sizeof routes / sizeof routes[0]);
    node *n = fuzz_node(routes[r].role);
    const uint8_t *nl = memchr(in + 1, '\n', size - 1);
    size_t seglen = nl ? (size_t)(nl - in - 1) : size - 1;
    char seg[257], path[600];
    snprintf(seg, sizeof seg, "%.*s", (int)(seglen < 256 ? seglen : 256), (const char *)in + 1);
    if (strlen(seg) != (seglen < 256 ? seglen : 256))
        return 0; /* a NUL: http.c never routes such a path */
    snprintf(path, sizeof path, "%s%s%s", routes[r].prefix, seg, routes[r].suffix);
    const uint8_t *rest = nl ? nl + 1 : in + size;
    size_t restlen = (size_t)(in + size - rest);
    fuzz_request req = {.method = routes[r].method, .path = path, .institution = "INS1"};
    const char *lines[64], *args[64];
    static char kv[32][257];
    char *body = NULL;
    if (strcmp(routes[r].method, "POST") == 0) {
        if (!(body = malloc(restlen + 1))) /* http.c hands handlers a NUL-terminated body */
            return 0;
        memcpy(body, rest, restlen);
        body[restlen] = 0;
        req.body = body;
        req.body_len = restlen;
    } else {
        size_t k = fuzz_split(rest, restlen, lines, 32), na = 0;
        for (size_t i = 0; i < k && restlen; i++, na++) {
            snprintf(kv[na], sizeof kv[na], "%s", lines[i]);
            char *eq = strchr(kv[na], '=');
            if (eq)
                *eq++ = 0;
            args[2 * na] = kv[na];
            args[2 * na + 1] = eq ? eq : "";
        }
        req.args = args;
        req.nargs = na;
    }
    fuzz_call(n, routes[r].handler, routes[r].pattern, &req);
    free(body);
    return 0;
}
