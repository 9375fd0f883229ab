/* fuzz_hl7_ingest.c: HL7 v2 messages parsed and mapped onto the archive's clinical records
 * (gateway/ingest/ingest_hl7.c, its public entry point) on a real archive: ADT, ORU and DFT
 * fields, money, identifiers. Checks: AA only with a stored outcome, and a refusal stores
 * nothing (the archive's counters do not move). Also the money and resident id parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_node.h"
#include "huren_err.h"
#include "identity.h"
#include "ingest/ingest_hl7.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    node *n = fuzz_node("hospital");
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    huren_hl7_msg *msg = NULL;
    char err[HUREN_ERRLEN], text[64];
    int64_t fen;
    snprintf(text, sizeof text, "%.*s", (int)(size < 63 ? size : 63), (const char *)in);
    ingest_hl7_money_parse(text, &fen);
    char norm[IDENTITY_ID_LEN + 1], why[128];
    identity_type type;
    (void)identity_normalise(text, norm, &type, why, sizeof why);
    if (huren_hl7_msg_parse((const char *)in, size, &opts, &msg, err, sizeof err) != 0)
        return 0;
    uint64_t stored = atomic_load(&n->metrics.hl7_stored);
    huren_hl7_handler_result res = {.code = HUREN_HL7_AE};
    huren_index_put_outcome outcome = HUREN_INDEX_PUT_STORED;
    ingest_result r = ingest_hl7_message(n, msg, &res, &outcome);
    if ((r == INGEST_OK) != (res.code == HUREN_HL7_AA))
        abort(); /* AA exactly when stored */
    if (r != INGEST_OK && atomic_load(&n->metrics.hl7_stored) != stored)
        abort(); /* a refused message counted as stored */
    if (memchr(res.text, 0, sizeof res.text) == NULL)
        abort(); /* the ACK text is a C string */
    huren_hl7_msg_free(msg);
    return 0;
}
