/* fuzz_node.h: what the fuzz targets that call HTTP handlers share: a node without listeners
 * (its archive in a temp folder removed at exit, logging silenced) and one call of a handler
 * the way http.c makes it, with the checks every answer must pass. */
#ifndef HUREN_FUZZ_NODE_H
#define HUREN_FUZZ_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "node.h"

/* The process's node of that role ("hospital" or "directory"), made on first use. A hospital
 * node has recognition (region key, the catalogue of conf/) and, when $HUREN_FUZZ_PKI names a
 * folder made by conf/make-test-pki.sh, insurer claims. Aborts if it cannot be made. */
node *fuzz_node(const char *role);

/* A request without a connection: args and headers are name/value pairs (see
 * http_request.direct_args). */
typedef struct fuzz_request {
    const char *method, *path;
    const char *body;
    size_t body_len;
    const char *const *args;
    size_t nargs;
    const char *const *headers;
    size_t nheaders;
    unsigned roles; /* 0: every role */
    const char *institution;
} fuzz_request;

/* Route req to handler on n (captures filled from pattern, NULL = none) and check the answer:
 * never an internal error (handler -1 or 500), an error answer is a JSON object with "error",
 * a JSON answer parses. Aborts (a finding) otherwise. Returns the status. */
int fuzz_call(node *n, http_handler handler, const char *pattern, const fuzz_request *req);

/* Split a fuzz input into up to max NUL-free pieces at each '\n' (at most 256 bytes each,
 * kept in a static buffer until the next call). Returns the count. */
size_t fuzz_split(const uint8_t *in, size_t size, const char **out, size_t max);

/* A path (/proc/self/fd/N of a memfd) whose file holds exactly these bytes, for parsers
 * that read files; rewritten by each call. Aborts if it cannot be made. */
const char *fuzz_file(const uint8_t *in, size_t size);

#endif
