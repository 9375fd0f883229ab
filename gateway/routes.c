/* routes.c: every HTTP endpoint of the node, with the roles it serves and, for endpoints that
 * touch patient data, the action its answers are audited as (NULL: not audited; refusals are
 * audited always). Adding an endpoint means adding a row here; http.c refuses any role not
 * listed before the handler runs. Insurers reach no DICOMweb or records endpoint. */
#include "routes.h"
#include "audit/audit_api.h"
#include "claims/claims.h"
#include "consent/consent_api.h"
#include "datacare/datacare.h"
#include "dicomweb/dicomweb.h"
#include "directory/directory_api.h"
#include "his/his.h"
#include "recognition/recognition.h"
#include "records/records.h"
#include "share/share.h"
#include "ui/ui.h"

#include <string.h>

#define DW "/dicom-web"
#define DW_INSTANCE DW "/studies/*/series/*/instances/*"
/* staff, and a doctor in a HIS-launched session (bound to one patient by http/session.c) */
#define SESSION_STAFF (HTTP_ROLES_STAFF | HTTP_ROLE_HIS_DOCTOR)
#define DW_READ (DICOMWEB_ROLES | HTTP_ROLE_HIS_DOCTOR)

static const http_route hospital_routes[] = {
    {"GET", "/healthz", api_healthz, HTTP_ROLE_ANYONE, NULL},
    {"GET", "/readyz", api_readyz, HTTP_ROLE_ANYONE, NULL},
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL, NULL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN, NULL},
    {"GET", "/api/v1/audit", api_audit, HTTP_ROLE_ADMIN, "audit.read"},
    {"GET", "/api/v1/patients/*/reports", api_patient_reports, SESSION_STAFF | HTTP_ROLE_PEER,
     "records.read"},
    {"GET", "/api/v1/reports/*", api_report, SESSION_STAFF | HTTP_ROLE_PEER, "records.read"},
    {"GET", "/api/v1/patients/*/visits/*", api_patient_visit, HTTP_ROLES_STAFF | HTTP_ROLE_PEER,
     "records.read"},
    /* DICOMweb (PS3.18): QIDO-RS */
    {"GET", DW "/studies", dicomweb_search, DW_READ, "dicomweb.read"},
    {"GET", DW "/series", dicomweb_search, DW_READ, "dicomweb.read"},
    {"GET", DW "/instances", dicomweb_search, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/series", dicomweb_search, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/instances", dicomweb_search, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/series/*/instances", dicomweb_search, DW_READ, "dicomweb.read"},
    /* WADO-RS */
    {"GET", DW "/studies/*", dicomweb_retrieve, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/series/*", dicomweb_retrieve, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE, dicomweb_retrieve, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/metadata", dicomweb_metadata, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/series/*/metadata", dicomweb_metadata, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/metadata", dicomweb_metadata, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/frames/*", dicomweb_frames, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/bulkdata/*", dicomweb_bulkdata, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/rendered", dicomweb_rendered, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/frames/*/rendered", dicomweb_rendered, DW_READ, "dicomweb.read"},
    {"GET", DW_INSTANCE "/thumbnail", dicomweb_thumbnail, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/series/*/thumbnail", dicomweb_thumbnail, DW_READ, "dicomweb.read"},
    {"GET", DW "/studies/*/thumbnail", dicomweb_thumbnail, DW_READ, "dicomweb.read"},
    /* WADO-URI */
    {"GET", DW "/wado", dicomweb_wado_uri, DW_READ, "dicomweb.read"},
    {"GET", "/wado", dicomweb_wado_uri, DW_READ, "dicomweb.read"},
    /* STOW-RS (bodies streamed: see hospital_body_routes) */
    {"POST", DW "/studies", dicomweb_store, DICOMWEB_ROLES, "dicomweb.write"},
    {"POST", DW "/studies/*", dicomweb_store, DICOMWEB_ROLES, "dicomweb.write"},
    /* consents (staff) and insurer claims */
    {"POST", "/api/v1/consents", api_consent_create, HTTP_ROLES_STAFF, "consent.write"},
    {"GET", "/api/v1/patients/*/consents", api_patient_consents, HTTP_ROLES_STAFF, "consent.read"},
    {"POST", "/api/v1/consents/*/revoke", api_consent_revoke, HTTP_ROLES_STAFF, "consent.write"},
    {"DELETE", "/api/v1/consents/*", api_consent_revoke, HTTP_ROLES_STAFF, "consent.write"},
    {"DELETE", "/api/v1/studies/*", api_study_delete, HTTP_ROLE_ADMIN, "study.delete"},
    {"POST", "/api/v1/admin/compact", api_compact, HTTP_ROLE_ADMIN, NULL},
    /* the doctors' web page (gateway/ui/): staff only, page views audited like API reads; a
     * HIS-launched session (his/, HTTP_ROLE_HIS_DOCTOR) reaches its one patient only */
    {"GET", "/ui/launch", his_launch, HTTP_ROLE_ANYONE, "his.launch"},
    {"GET", "/api/v1/his/session", his_session_get, HTTP_ROLE_HIS_DOCTOR, "his.session"},
    {"GET", "/ui", ui_page, SESSION_STAFF, "ui.view"},
    {"GET", "/ui/", ui_page, SESSION_STAFF, "ui.view"},
    {"GET", "/ui/static/*", ui_static, SESSION_STAFF, NULL},
    {"GET", "/ui/*", ui_page, SESSION_STAFF, "ui.view"},
    {"POST", "/api/v1/claims", api_claim_create, HTTP_ROLE_INSURER, "claims.create"},
    {"GET", "/api/v1/claims/*", api_claim_get, HTTP_ROLE_INSURER, "claims.read"},
    {"POST", "/api/v1/underwriting", api_underwriting_create, HTTP_ROLE_INSURER,
     "underwriting.create"},
    {"POST", "/api/v1/underwriting/summary", api_underwriting_summary, HTTP_ROLE_PEER,
     "underwriting.disclose"},
    /* mutual recognition (鲁医互认): the query across hospitals, decisions, statistics */
    {"GET", "/api/v1/recognition", api_recognition_query, SESSION_STAFF, "recognition.query"},
    {"POST", "/api/v1/recognition/decisions", api_recognition_decision, SESSION_STAFF,
     "recognition.decision"},
    {"POST", "/api/v1/recognition/decisions/*/revoke", api_recognition_revoke, HTTP_ROLES_STAFF,
     "recognition.revoke"},
    {"GET", "/api/v1/recognition/reasons", api_recognition_reasons, HTTP_ROLES_STAFF, NULL},
    /* the order check for a HIS ([client] role = his), also as a CDS Hooks service */
    {"POST", "/api/v1/recognition/order-check", api_recognition_order_check, HTTP_ROLE_HIS,
     "recognition.order_check"},
    {"GET", "/cds-services", api_cds_discovery, HTTP_ROLE_HIS, NULL},
    {"POST", "/cds-services/huren-order-select", api_cds_order_select, HTTP_ROLE_HIS,
     "recognition.order_check"},
    {"GET", "/api/v1/recognition/stats", api_recognition_stats, HTTP_ROLES_STAFF,
     "recognition.stats"},
    {"GET", "/api/v1/patients/*/timeline", api_patient_timeline, SESSION_STAFF,
     "recognition.timeline"},
    {"POST", "/api/v1/retrievals", api_retrieval_create, SESSION_STAFF, "retrieval.create"},
    {"GET", "/api/v1/retrievals/*", api_retrieval_get, SESSION_STAFF, "retrieval.read"},
    /* cloud film (云胶片, share/): staff make, list, print and revoke shares; a patient opens
     * one with no certificate or login (the token in the path is the credential, checked by
     * the handler), and sees that study's images and report only; every opening audited */
    {"POST", "/api/v1/shares", api_share_create, HTTP_ROLES_STAFF, "share.create"},
    {"GET", "/api/v1/shares", api_shares_list, HTTP_ROLES_STAFF, "share.read"},
    {"DELETE", "/api/v1/shares/*", api_share_revoke, HTTP_ROLES_STAFF, "share.revoke"},
    {"GET", "/api/v1/shares/*/slip", api_share_slip, HTTP_ROLES_STAFF, "share.slip"},
    {"GET", "/s/*", share_open, HTTP_ROLE_ANYONE, "share.open"},
    {"POST", "/s/*", share_pin, HTTP_ROLE_ANYONE, "share.pin"},
    {"GET", "/s/*/studies/*/series/*/instances/*/rendered", share_rendered, HTTP_ROLE_ANYONE,
     "share.image"},
};

/* Routes whose request bodies stream to a sink instead of the bounded buffer. */
static const http_body_route hospital_body_routes[] = {
    {"POST", DW "/studies", &dicomweb_stow_sink},
    {"POST", DW "/studies/*", &dicomweb_stow_sink},
};

static const http_route directory_routes[] = {
    {"GET", "/healthz", api_healthz, HTTP_ROLE_ANYONE, NULL},
    {"GET", "/readyz", api_readyz, HTTP_ROLE_ANYONE, NULL},
    {"GET", "/api/v1/health", api_health, HTTP_ROLES_ALL, NULL},
    {"GET", "/metrics", api_metrics, HTTP_ROLE_ADMIN, NULL},
    {"GET", "/api/v1/audit", api_audit, HTTP_ROLE_ADMIN, "audit.read"},
    {"POST", "/api/v1/directory/entries", api_directory_publish, HTTP_ROLE_PEER,
     "directory.publish"},
    {"GET", "/api/v1/directory/records", api_directory_records,
     HTTP_ROLE_PEER | HTTP_ROLE_CLINICIAN, "directory.read"},
    /* the province's reference data: hospitals pull it; the platform operator (or an admin)
     * loads it */
    {"GET", "/api/v1/directory/reference/*", api_directory_reference_get, HTTP_ROLES_ALL, NULL},
    {"PUT", "/api/v1/directory/reference/*", api_directory_reference_put,
     HTTP_ROLE_ADMIN | HTTP_ROLE_OPERATOR, "reference.import"},
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

const http_body_route *api_body_routes(const char *role, size_t *n)
{
    if (strcmp(role, "directory") == 0) {
        *n = 0;
        return NULL;
    }
    *n = sizeof hospital_body_routes / sizeof hospital_body_routes[0];
    return hospital_body_routes;
}
