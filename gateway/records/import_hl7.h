/* import_hl7.h: `huren import` of files of HL7 v2 messages (one message, several, an
 * FHS/BHS batch, or MLLP frames), through the same ingest path as the MLLP listener. */
#ifndef HUREN_GATEWAY_IMPORT_HL7_H
#define HUREN_GATEWAY_IMPORT_HL7_H

#include <stddef.h>

#include "node.h"

typedef struct import_hl7_counts {
    size_t files, messages, stored, duplicates, refused, failed;
} import_hl7_counts;

/* 1 when the file's content starts like HL7 (MLLP VT, or MSH/FHS/BHS after blanks or a UTF-8
 * BOM) and not like DICOM (the DICM preamble), 0 otherwise. */
int import_hl7_sniff(const char *path);

/* Store every message of the file; each refusal is logged with the file, the message's
 * index and control id, and counted. */
void import_hl7_file(node *n, const char *path, import_hl7_counts *c);

#endif
