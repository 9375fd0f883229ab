/* forward.h: [forward "NAME"] rules. An instance that arrives the rule's way (a peer's
 * retrieval, a C-STORE from an AE, STOW-RS), of its modality if it names one, is queued in the
 * index (forward_queue, kept across restarts) and sent by C-STORE to the destination (a [pacs]
 * or a [dicom_aes] AE) by one sender thread, with backoff while the destination fails. A
 * retrieved copy goes with this hospital's patient ids (coerced). Backlog and failures are
 * in /metrics. */
#ifndef HUREN_GATEWAY_FORWARD_H
#define HUREN_GATEWAY_FORWARD_H

#include "node.h"

/* Start the sender when there are [forward] rules (n->forwarder; NULL without). -1 with err. */
int forward_start(node *n, char *err, size_t errlen);
/* Stop the sender (a send in flight finishes) and free. NULL-safe. */
void forward_stop(node *n);
/* The node hook instance_stored: queue the instance for each rule it matches. */
void forward_note(node *n, config_fwd_source source, const char *calling_ae, const char *sop_uid,
                  const char *modality);
/* Prometheus text (backlog, failing, sent, failures per rule); caller frees; NULL without. */
char *forward_metrics(node *n);

#endif
