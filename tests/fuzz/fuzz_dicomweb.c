/* fuzz_dicomweb.c: DICOMweb request parsing on a real archive (pydicom's test files stored in
 * it): QIDO-RS keys, values, includefield, limit/offset and their matching; WADO-RS Accept
 * negotiation, metadata, frames and rendered parameters; WADO-URI parameters. Input: lines;
 * the first byte picks the route, the rest of line 1 is the path's variable part, line 2 the
 * Accept header, the other lines key=value query parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dicomweb/dicomweb.h"
#include "fuzz_node.h"
#include "ingest/ingest_dicom.h"

#define PYDICOM "/usr/lib/python3/dist-packages/pydicom/data/test_files/"

static const struct {
    const char *prefix, *pattern;
    http_handler handler;
} routes[] = {
    {"/dicom-web/studies", "/dicom-web/studies", dicomweb_search},
    {"/dicom-web/series", "/dicom-web/series", dicomweb_search},
    {"/dicom-web/instances", "/dicom-web/instances", dicomweb_search},
    {"/dicom-web/studies/", "/dicom-web/studies/*/series", dicomweb_search},
    {"/dicom-web/studies/", "/dicom-web/studies/*/series/*/instances", dicomweb_search},
    {"/dicom-web/studies/", "/dicom-web/studies/*", dicomweb_retrieve},
    {"/dicom-web/studies/", "/dicom-web/studies/*/metadata", dicomweb_metadata},
    {"/dicom-web/studies/", "/dicom-web/studies/*/series/*/instances/*/frames/*", dicomweb_frames},
    {"/dicom-web/studies/", "/dicom-web/studies/*/series/*/instances/*/rendered",
     dicomweb_rendered},
    {"/dicom-web/wado", "/dicom-web/wado", dicomweb_wado_uri},
};

/* Store a few instances DCMTK and pydicom agree on, once. */
static void seed(node *n)
{
    static const char *const files[] = {"CT_small.dcm", "MR_small.dcm", "JPEG-lossy.dcm",
                                        "SC_rgb_small_odd.dcm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[256], tmp[512], cmd[1024], err[512];
        snprintf(src, sizeof src, PYDICOM "%s", files[i]);
        snprintf(tmp, sizeof tmp, "%s/seed-%zu.dcm", huren_index_tmp_dir(n->index), i);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s' 2>/dev/null", src, tmp);
        huren_dicom_file *f = NULL;
        if (system(cmd) != 0 || huren_dicom_file_parse(tmp, &f, err, sizeof err) != 0) {
            unlink(tmp);
            continue;
        }
        size_t nel;
        const huren_dicom_element *el = huren_dicom_file_elements(f, &nel);
        huren_index_put_outcome out;
        ingest_dicom_instance(n, el, nel, huren_dicom_file_transfer_syntax(f), tmp, 0, &out, err,
                              sizeof err);
        huren_dicom_file_free(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static node *n;
    if (!n) {
        n = fuzz_node("hospital");
        seed(n);
    }
    if (size < 1)
        return 0;
    const char *lines[34];
    size_t nl = fuzz_split(in + 1, size - 1, lines, 34);
    size_t r = in[0] % (sizeof routes / sizeof routes[0]);
    char path[600];
    snprintf(path, sizeof path, "%s%s", routes[r].prefix, nl > 0 ? lines[0] : "");
    const char *headers[4] = {"Accept", nl > 1 ? lines[1] : "*/*", "Host", "fuzz"};
    const char *args[64];
    size_t na = 0;
    static char kv[32][257];
    for (size_t i = 2; i < nl && na < 32; i++) {
        snprintf(kv[na], sizeof kv[na], "%s", lines[i]);
        char *eq = strchr(kv[na], '=');
        if (eq)
            *eq++ = 0;
        args[2 * na] = kv[na];
        args[2 * na + 1] = eq ? eq : "";
        na++;
    }
    fuzz_request req = {.method = "GET",
                        .path = path,
                        .args = args,
                        .nargs = na,
                        .headers = headers,
                        .nheaders = 2};
    fuzz_call(n, routes[r].handler, routes[r].pattern, &req);
    return 0;
}
