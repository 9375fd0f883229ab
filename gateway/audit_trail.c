/* audit_trail.c: the node's side of the audit trail: where the log lives, the HTTP hook that turns
 * a request and its answer into an entry, and the one place append failures are logged. The chain
 * itself (format, hashing, fsync) is index/audit.c. */
#define LOG_COMPONENT "audit"
#include "audit_trail.h"
#include "huren_err.h"
#include "http/auth.h"
#include "log.h"
#include "audit/huren_audit.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int audit_path(const config *cfg, char *buf, size_t len)
{
    int n = cfg->audit_file[0] ? snprintf(buf, len, "%s", cfg->audit_file)
                               : snprintf(buf, len, "%s/audit.log", cfg->data_dir);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int audit_open(node *n, char *err, size_t errlen)
{
    char path[4200], why[512];
    if (audit_path(n->cfg, path, sizeof path) < 0) {
        snprintf(err, errlen, "audit log path too long");
        return -1;
    }
    long repaired = 0;
    if (huren_audit_open(&n->audit, path, n->cfg->audit_fsync, &repaired, why, sizeof why) < 0) {
        snprintf(err, errlen, "audit log %s", why);
        return -1;
    }
    if (repaired)
        log_warnx("audit log %s: removed an incomplete last line (%ld bytes, never acknowledged)",
                  path, repaired);
    char head[65];
    uint64_t count = huren_audit_head(n->audit, head);
    log_info("audit log %s: %llu entries, head %.16s...", path, (unsigned long long)count, head);
    return 0;
}

void audit_close(node *n)
{
    huren_audit_close(n->audit);
    n->audit = NULL;
}

int audit_record(node *n, const huren_audit_entry *e)
{
    if (!n->audit) {
        atomic_fetch_add(&n->metrics.audit_failures, 1);
        log_error("audit log not open: %s by %s not recorded", e->action, e->actor);
        return -1;
    }
    char err[HUREN_ERRLEN];
    if (huren_audit_append(n->audit, e, NULL, err, sizeof err) == 0) {
        atomic_fetch_add(&n->metrics.audit_appends, 1);
        return 0;
    }
    atomic_fetch_add(&n->metrics.audit_failures, 1);
    log_error("audit entry %s by %s not recorded: %s", e->action, e->actor ? e->actor : "", err);
    return -1;
}

const char *audit_outcome_http(int status)
{
    return status < 400                     ? "success"
           : status == 401 || status == 403 ? "refused"
           : status < 500                   ? "failed"
                                            : "error";
}

int audit_http(void *app, const http_request *req, const char *action, const http_response *res)
{
    node *n = app;
    char object[512];
    if (res->audit_object[0])
        snprintf(object, sizeof object, "%s", res->audit_object);
    else
        snprintf(object, sizeof object, "%s %s", req->method, req->path);
    huren_audit_entry e = {
        .actor = req->actor ? req->actor : "",
        .role = auth_role_name(req->roles),
        .institution = req->institution,
        .action = action,
        .patient = res->audit_patient,
        .object = object,
        .outcome = audit_outcome_http(res->status),
        .status = res->status,
        .remote = req->remote,
    };
    return audit_record(n, &e);
}

int audit_since_valid(const char *s)
{
    static const char date[] = "dddd-dd-dd", datetime[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s);
    const char *shape = n == sizeof date - 1 ? date : n == sizeof datetime - 1 ? datetime : NULL;
    if (!shape)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return 1;
}
