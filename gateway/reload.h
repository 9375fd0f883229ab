/* reload.h: SIGHUP: the node's TLS certificates, keys and CA bundles, and the recognition
 * catalogue, loaded again. */
#ifndef HUREN_GATEWAY_RELOAD_H
#define HUREN_GATEWAY_RELOAD_H

#include "node.h"

#include <stdint.h>

/* Check every file as check-config does, then give the HTTPS server and the DICOM TLS port
 * their files again for new connections (open connections and associations keep theirs),
 * and the publisher and the prompts the catalogue.
 * Any problem found by the checks refuses the whole reload: everything stays as it was. Logs
 * one line with the outcome. 0 reloaded, -1 refused or failed. */
int reload_node(node *n);

/* Reloads since start, by outcome (for /metrics). */
uint64_t reload_count(int ok);

#endif
