/* share_images.c: the wiring of a share's images (GET /s/{token}/studies/{uid}/series/{uid}/
 * instances/{uid}/rendered): share/ checks that the token names a live share of that study
 * (and that its PIN was given), then dicomweb/ renders the instance as for a doctor, found
 * within that study only. Here at the root because a feature folder does not call another. */
#include "routes.h"
#include "dicomweb/dicomweb.h"
#include "share/share.h"

#include <stdio.h>

int share_rendered(http_request *req, http_response *res)
{
    int ok = share_guard(req, res);
    if (ok <= 0)
        return ok;
    char object[sizeof res->audit_object];
    snprintf(object, sizeof object, "%s", res->audit_object);
    int rc = dicomweb_rendered(req, res);
    if (res->status >= 400 || !res->audit_object[0])
        snprintf(res->audit_object, sizeof res->audit_object, "%.200s image", object);
    http_response_header(res, "Cache-Control", "no-store");
    http_response_header(res, "Referrer-Policy", "no-referrer");
    return rc;
}
