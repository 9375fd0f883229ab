/* ingest_hl7.h: one parsed HL7 v2 message (from MLLP or `huren import`) into the archive:
 * checks its type, segment order and required fields, maps ADT/ORU/DFT segments onto
 * index/'s clinical records and stores them in one transaction; answers the ACK code. */
#ifndef HUREN_GATEWAY_INGEST_HL7_H
#define HUREN_GATEWAY_INGEST_HL7_H

#include "huren_hl7.h"
#include "ingest/ingest.h"
#include "node.h"

/* Map and store msg. Fills res (code AA only after the commit; AE with an ERR reason and table
 * 0357 code when a required field is missing, a value is malformed or the archive cannot store
 * it; AR for a message type or event we do not take) and *outcome (STORED or DUPLICATE when
 * AA). Returns INGEST_OK, INGEST_INVALID (refused: nothing stored) or INGEST_FAILED (archive
 * error: nothing stored). Counts the result in n->metrics. Never logs patient data. */
ingest_result ingest_hl7_message(node *n, const huren_hl7_msg *msg, huren_hl7_handler_result *res,
                                 huren_index_put_outcome *outcome);

/* "123.45" -> 12345 fen. Refuses anything not exact to the fen, signs other than one leading
 * '+' or '-' (HL7 NM), and more than 15 digits. Returns 0 or -1. */
int ingest_hl7_money_parse(const char *text, int64_t *fen);

#endif
