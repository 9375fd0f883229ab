/* delete.c: DELETE /api/v1/studies/{uid} (admin; audited as study.delete through routes.c):
 * huren_index_study_delete removes the rows and queues the directory's tombstone in one
 * transaction, removes own files after it and leaves packed bytes to compaction. */
#include "audit_trail.h"
#include "datacare/datacare.h"
#include "log.h"
#include "node.h"
#include "dicom/huren_dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *deleted_json(const char *uid, const huren_index_study_deleted *d)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"study\":\"%s\",\"instances\":%lld,\"files_removed\":%lld,"
             "\"pack_garbage_bytes\":%lld}",
             uid, (long long)d->instances, (long long)d->files_removed, (long long)d->pack_bytes);
    return strdup(buf);
}

int api_study_delete(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *uid = req->captures[0];
    huren_index_study_deleted d;
    if (!huren_dicom_uid_valid(uid))
        return http_reply_error(res, 400, "malformed StudyInstanceUID");
    snprintf(res->audit_object, sizeof res->audit_object, "study/%s", uid);
    int rc = huren_index_study_delete(n->index, uid, &d);
    if (rc == HUREN_INDEX_ENOTFOUND)
        return http_reply_error(res, 404, "no such study");
    if (rc < 0) {
        log_error("deleting study %s: %s", uid, huren_index_errmsg(n->index));
        return http_reply_error(res, 503, "archive unavailable");
    }
    snprintf(res->audit_patient, sizeof res->audit_patient, "%s", d.patient_id);
    log_info("study %s deleted by %s: %lld instances, %lld files removed, %lld packed bytes", uid,
             req->actor ? req->actor : "", (long long)d.instances, (long long)d.files_removed,
             (long long)d.pack_bytes);
    char *body = deleted_json(uid, &d);
    return body ? http_reply_json(res, 200, body) : http_reply_error(res, 500, "out of memory");
}

int datacare_delete_audited(node *n, const char *uid, const char *actor, const char *role,
                            huren_index_study_deleted *d)
{
    char object[160];
    memset(d, 0, sizeof *d);
    snprintf(object, sizeof object, "study/%s", uid);
    int rc = huren_index_study_delete(n->index, uid, d);
    huren_audit_entry e = {.actor = actor,
                           .role = role,
                           .action = "study.delete",
                           .patient = d->patient_id,
                           .object = object,
                           .outcome = rc == 0                       ? "success"
                                      : rc == HUREN_INDEX_ENOTFOUND ? "failed"
                                                                    : "error",
                           .status = rc == 0                       ? 200
                                     : rc == HUREN_INDEX_ENOTFOUND ? 404
                                                                   : 503,
                           .remote = ""};
    int logged = audit_record(n, &e);
    return rc < 0 ? rc : logged < 0 ? 1 : 0;
}
