/* dimse.h: the node's answers to DICOM DIMSE requests (C-STORE into the archive, C-FIND from
 * it, C-MOVE/C-GET of its files, destinations from config), given to dicom/ as handlers. */
#ifndef HUREN_GATEWAY_DIMSE_H
#define HUREN_GATEWAY_DIMSE_H

#include "huren_dicom.h"
#include "node.h"

#include <stdint.h>

/* An association request, before negotiation (dimse_tls.c): on the TLS port, a client that
 * shows a certificate must be the [client] of that subject, calling with its ae_title, in a
 * role with DICOM services; refusals are audited. 0 admits; else why is set. */
int dimse_admit(const huren_dicom_peer *peer, char *why, size_t whylen, void *payload);

/* The [client] a DICOM peer is: by its verified certificate on the TLS port, else by its
 * calling AE title; NULL if none (dimse_tls.c). */
const config_client *dimse_client(node *n, const huren_dicom_peer *peer);

/* Fill h with the node's handlers (payload = n). */
void dimse_handlers_init(huren_dicom_handlers *h, node *n);

/* DIMSE requests refused because their audit entry could not be written, since start. */
uint64_t dimse_audit_failures(void);

/* The DICOM side's refusals at every stage (associations refused or closed, datasets nested
 * too deep, identifiers refused, audit failures) as Prometheus text; the caller frees it. NULL
 * when out of memory. */
char *dimse_metrics(node *n);

#endif
