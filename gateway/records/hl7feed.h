/* hl7feed.h: the node's HL7 v2 feed: the MLLP listener of hl7/ started with the [hl7]
 * options, its handler storing each message through ingest_hl7.c, its events in our log. */
#ifndef HUREN_GATEWAY_HL7FEED_H
#define HUREN_GATEWAY_HL7FEED_H

#include "node.h"

/* Start the listener into n->mllp (stopped by huren_hl7_mllp_stop). Returns 0 or -1 (logged). */
int hl7feed_start(node *n);

#endif
