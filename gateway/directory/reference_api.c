/* reference_api.c: the province's reference data at the directory (role directory):
 * GET /api/v1/directory/reference/{catalogue|institutions|qc} serves the stored table
 * (reference.h) as text/csv with its version as the ETag (a conditional GET answers 304), and
 * PUT of the same path (operators) imports a CSV body as the next version, like
 * `huren catalogue import`: nothing is stored on any error, which is answered 422 by line. */
#define LOG_COMPONENT "directory"
#include "directory_api.h"
#include "log.h"
#include "reference.h"
#include "huren_err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void folder_of(const node *n, char *out, size_t len)
{
    snprintf(out, len, "%s/reference", n->cfg->data_dir);
}

/* The version a stored table's first line gives, 0 without. */
static long version_of(const char *data)
{
    return strncmp(data, "# version:", 10) ? 0 : strtol(data + 10, NULL, 10);
}

int api_directory_reference_get(http_request *req, http_response *res)
{
    node *n = req->app;
    ref_kind k;
    char dir[4200], err[HUREN_ERRLEN], etag[40];
    if (req->ncaptures < 1 || ref_kind_parse(req->captures[0], &k) < 0)
        return http_reply_error(res, 404, "reference data: catalogue, institutions or qc");
    folder_of(n, dir, sizeof dir);
    char *data = NULL;
    size_t len = 0;
    int r = ref_store_read(dir, k, &data, &len, err, sizeof err);
    if (r < 0) {
        log_warnx("reference %s: %s", ref_kind_name(k), err);
        return http_reply_error(res, 503, "reference data unreadable");
    }
    if (r > 0)
        return http_reply_error(res, 404, "nothing imported for this kind yet");
    snprintf(etag, sizeof etag, "\"%ld\"", version_of(data));
    http_response_header(res, "ETag", etag);
    const char *inm = http_request_header(req, "If-None-Match");
    if (inm && !strcmp(inm, etag)) {
        free(data);
        res->status = 304;
        return 0;
    }
    res->status = 200;
    res->body = data;
    res->body_len = len;
    res->content_type = "text/csv; charset=utf-8";
    return 0;
}

int api_directory_reference_put(http_request *req, http_response *res)
{
    node *n = req->app;
    ref_kind k;
    char dir[4200], err[8192];
    long version = 0;
    if (req->ncaptures < 1 || ref_kind_parse(req->captures[0], &k) < 0)
        return http_reply_error(res, 404, "reference data: catalogue, institutions or qc");
    folder_of(n, dir, sizeof dir);
    if (ref_import(dir, k, req->body ? req->body : "", req->body_len, &version, err, sizeof err) <
        0) {
        json_t *errors = json_array();
        for (char *save = NULL, *l = strtok_r(err, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            json_array_append_new(errors, json_string(l));
        json_t *o = json_pack("{s:s, s:o}", "error", "invalid reference data: nothing stored",
                              "errors", errors);
        int rc = http_reply_json(res, 422, o ? json_dumps(o, JSON_COMPACT) : NULL);
        json_decref(o);
        return rc;
    }
    snprintf(res->audit_object, sizeof res->audit_object, "reference %s version %ld",
             ref_kind_name(k), version);
    log_info("reference %s: version %ld imported by %s", ref_kind_name(k), version,
             req->actor ? req->actor : "?");
    json_t *o = json_pack("{s:s, s:I}", "kind", ref_kind_name(k), "version", (json_int_t)version);
    int rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}
