/* dimse.h: the node's answers to DICOM DIMSE requests (C-STORE into the archive, C-FIND from
 * it, C-MOVE/C-GET of its files, destinations from config), given to dicom/ as handlers. */
#ifndef HUREN_GATEWAY_DIMSE_H
#define HUREN_GATEWAY_DIMSE_H

#include "huren_dicom.h"
#include "node.h"

/* Fill h with the node's handlers (payload = n). */
void dimse_handlers_init(huren_dicom_handlers *h, node *n);

#endif
