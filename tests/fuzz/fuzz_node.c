/* fuzz_node.c: a listener-less node for the fuzz targets and the checked call of a handler
 * (see fuzz_node.h). */
#include "fuzz_node.h"
#include "huren_err.h"
#include "claims/claims.h"
#include "log.h"
#include "recognition/recognition.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef HUREN_SOURCE_DIR
#error "HUREN_SOURCE_DIR must name the source tree (the catalogue in conf/)"
#endif

static char tmp_root[64];

static void remove_tmp(void)
{
    if (!tmp_root[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", tmp_root);
}

static void set(config *cfg, const char *section, const char *key, const char *value)
{
    char err[HUREN_ERRLEN];
    if (config_set(cfg, section, key, value, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz: [%s] %s = %s: %s\n", section, key, value, err);
        abort();
    }
}

static node *make(const char *role)
{
    if (!tmp_root[0]) {
        /* in memory where there is a tmpfs: the archive's fsyncs cost nothing there */
        snprintf(tmp_root, sizeof tmp_root, "%s/huren-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(tmp_root))
            abort();
        atexit(remove_tmp);
        if (!getenv("HUREN_FUZZ_LOG"))
            log_init(LOG_LEVEL_ERROR, fopen("/dev/null", "w"));
    }
    config *cfg = calloc(1, sizeof *cfg);
    node *n = calloc(1, sizeof *n);
    char dir[128], err[1024];
    if (!cfg || !n || config_defaults(cfg) < 0)
        abort();
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, role);
    set(cfg, "node", "role", role);
    set(cfg, "node", "data_dir", dir);
    set(cfg, "archive", "fsync", "no");
    set(cfg, "audit", "fsync", "no");
    set(cfg, "dicomweb", "base_url", "http://fuzz/dicom-web");
    if (strcmp(role, "hospital") == 0) {
        set(cfg, "directory", "url", "http://127.0.0.1:9"); /* discard: nothing answers */
        set(cfg, "directory", "region_key", "00112233445566778899aabbccddeeff");
        set(cfg, "directory", "institution", "H1");
        set(cfg, "directory", "catalogue", HUREN_SOURCE_DIR "/conf/recognition-catalogue.csv");
        const char *pki = getenv("HUREN_FUZZ_PKI");
        if (pki && *pki) {
            char p[512];
            snprintf(p, sizeof p, "%s/claims-signer.key", pki);
            set(cfg, "claims", "key", p);
            snprintf(p, sizeof p, "%s/claims-signer.crt", pki);
            set(cfg, "claims", "cert", p);
            set(cfg, "claims", "rate_per_minute", "1000000");
            set(cfg, "claims", "burst", "100000");
        }
    }
    n->cfg = cfg;
    n->started = time(NULL);
    if (node_open_index(n, err, sizeof err) < 0 ||
        (strcmp(role, "hospital") == 0 &&
         (claims_open(n, err, sizeof err) < 0 || recognition_start(n, err, sizeof err) < 0))) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    return n;
}

node *fuzz_node(const char *role)
{
    static node *hospital, *directory;
    node **slot = strcmp(role, "directory") == 0 ? &directory : &hospital;
    if (!*slot)
        *slot = make(role);
    return *slot;
}

/* Like http.c's route_match: '*' takes one segment into the captures. */
static int captures(const char *pattern, const char *path, http_request *req, char buf[][256])
{
    const char *p = pattern, *s = path;
    req->ncaptures = 0;
    while (*p && *s) {
        if (*p == '*') {
            size_t n = strcspn(s, "/");
            if (n == 0 || n >= 256 || req->ncaptures == HTTP_MAX_CAPTURES)
                return 0;
            memcpy(buf[req->ncaptures], s, n);
            buf[req->ncaptures][n] = 0;
            req->captures[req->ncaptures] = buf[req->ncaptures];
            req->ncaptures++;
            s += n;
            p++;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    return *p == 0 && *s == 0;
}

static void check_answer(const http_response *res)
{
    const char *ct = res->content_type ? res->content_type : "application/json";
    if (res->stream_read || !res->body || strncmp(ct, "application/", 12) != 0 ||
        !strstr(ct, "json"))
        return;
    json_error_t je;
    json_t *o = json_loadb(res->body, res->body_len, 0, &je);
    if (!o) {
        fprintf(stderr, "fuzz: %d answer is not JSON: %s\n", res->status, je.text);
        abort();
    }
    if (res->status >= 400 && !json_is_string(json_object_get(o, "error"))) {
        fprintf(stderr, "fuzz: %d answer without an error member\n", res->status);
        abort();
    }
    json_decref(o);
}

int fuzz_call(node *n, http_handler handler, const char *pattern, const fuzz_request *fr)
{
    char buf[HTTP_MAX_CAPTURES][256];
    http_request req = {.method = fr->method,
                        .path = fr->path,
                        .remote = "127.0.0.1",
                        .institution = fr->institution,
                        .actor = "fuzz",
                        .roles = fr->roles ? fr->roles : HTTP_ROLES_ALL,
                        .body = fr->body ? fr->body : "",
                        .body_len = fr->body_len,
                        .app = n,
                        .direct_args = fr->args,
                        .ndirect_args = fr->nargs,
                        .direct_headers = fr->headers,
                        .ndirect_headers = fr->nheaders};
    if (pattern && !captures(pattern, fr->path, &req, buf))
        return 404;
    http_response res = {.status = 200};
    int rc = handler(&req, &res);
    if (rc < 0 || res.status == 500) {
        fprintf(stderr, "fuzz: internal error (handler %d, status %d) on %s %s: %.300s\n", rc,
                res.status, fr->method, fr->path, res.body ? res.body : "");
        abort();
    }
    check_answer(&res);
    if (res.stream_read && res.stream_free)
        res.stream_free(res.stream_cls);
    free(res.body);
    return res.status;
}

size_t fuzz_split(const uint8_t *in, size_t size, const char **out, size_t max)
{
    static char store[64][257];
    size_t n = 0, i = 0;
    if (max > 64)
        max = 64;
    while (n < max && i <= size) {
        size_t len = 0;
        while (i < size && in[i] != '\n') {
            if (len < 256 && in[i])
                store[n][len++] = (char)in[i];
            i++;
        }
        store[n][len] = 0;
        out[n] = store[n];
        n++;
        i++;
    }
    return n;
}

const char *fuzz_file(const uint8_t *in, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        if ((fd = memfd_create("huren-fuzz", MFD_CLOEXEC)) < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, in, size, 0) != (ssize_t)size)
        abort();
    return path;
}
