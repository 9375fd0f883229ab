/* compact.c: POST /api/v1/admin/compact (admin): huren_index_compact on the serving node's
 * archive (one pack at a time under the writer; puts wait for that pack only). */
#include "datacare/datacare.h"
#include "log.h"
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int datacare_threshold(const char *s, double *out)
{
    char *end = NULL;
    double v = s && *s ? strtod(s, &end) : -1;
    if (!end || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

int api_compact(http_request *req, http_response *res)
{
    node *n = req->app;
    const char *t = http_request_arg(req, "threshold");
    const char *g = http_request_arg(req, "grace");
    double threshold = 0.3;
    char buf[320], *end = NULL;
    if (t && datacare_threshold(t, &threshold) < 0)
        return http_reply_error(res, 400, "threshold must be a number from 0 to 1");
    long grace = g ? strtol(g, &end, 10) : DATACARE_GRACE_S;
    if (g && (!*g || *end || grace < 0 || grace > 86400))
        return http_reply_error(res, 400, "grace must be seconds from 0 to 86400");
    huren_index_compact_stats st;
    if (huren_index_compact(n->index, threshold, (int)grace, &st) < 0) {
        log_error("compaction: %s", huren_index_errmsg(n->index));
        return http_reply_error(res, 503, "compaction failed");
    }
    log_info("compaction by %s: %lld of %lld packs rewritten, %lld instances moved, %lld bytes "
             "freed",
             req->actor ? req->actor : "", (long long)st.packs_rewritten, (long long)st.packs_seen,
             (long long)st.instances_moved, (long long)st.bytes_freed);
    snprintf(buf, sizeof buf,
             "{\"packs_seen\":%lld,\"packs_rewritten\":%lld,\"instances_moved\":%lld,"
             "\"bytes_freed\":%lld,\"packs_retired\":%lld}",
             (long long)st.packs_seen, (long long)st.packs_rewritten, (long long)st.instances_moved,
             (long long)st.bytes_freed, (long long)st.packs_retired);
    char *body = strdup(buf);
    return body ? http_reply_json(res, 200, body) : http_reply_error(res, 500, "out of memory");
}
