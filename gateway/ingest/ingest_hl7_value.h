/* ingest_hl7_value.h: HL7 v2 data types read for the archive, shared by ingest_hl7.c: coded
 * elements with their alternate identifiers (CE/CWE/CNE), OBX-5 by its OBX-2 value type, and
 * the pool that owns every string built while one message is mapped. */
#ifndef HUREN_GATEWAY_INGEST_HL7_VALUE_H
#define HUREN_GATEWAY_INGEST_HL7_VALUE_H

#include "huren_hl7.h"

#include <stddef.h>

/* Strings built while mapping one message, freed together. */
typedef struct hl7_pool {
    char **v;
    size_t n, cap;
    int failed; /* sticky: memory ran out once, a value may be missing */
} hl7_pool;

/* Takes ownership of s and returns it (borrowed until hl7_pool_free); NULL when s is NULL
 * (out of memory) or memory ran out (s is then freed); both set p->failed. */
const char *hl7_pool_add(hl7_pool *p, char *s);
void hl7_pool_free(hl7_pool *p);

/* The components from..to of repetition rep joined by sep ("code^text"), inner empty
 * components kept and trailing ones dropped; or, with to == 0, component 1 of every
 * repetition joined by sep. NULL when that is empty. */
const char *hl7_join(hl7_pool *p, const huren_hl7_seg *s, int field, int rep, int from, int to,
                     const char *sep);

/* A coded element (CE, CWE, CNE, CF; also the CE-like fields of 2.1/2.2). */
typedef struct hl7_coded {
    const char *code, *text, *system; /* each NULL when empty */
} hl7_coded;

/* Reads repetition rep of field as a coded element. The identifier (component 1) comes with
 * its text and coding system (2, 3); when it is empty the alternate identifier (4, 5, 6) is
 * used, then CWE's second alternate (10, 11, 12). The text falls back to the other triples'
 * texts and to CWE-9, the original text, so that a text-only element keeps its text without a
 * code. Returns 1 when a code or a text was found, else 0 (all NULL). */
int hl7_coded_get(const huren_hl7_seg *s, int field, int rep, hl7_coded *out);

/* OBX-5 read by its value type. */
typedef struct hl7_obx_value {
    const char *value_type; /* as sent; "TX" when OBX-2 is empty but OBX-5 is not; "ST" for a
                               non-numeric NM value (see not_numeric) */
    const char *value;      /* NULL when OBX-5 is empty */
    const char *units;      /* from CQ/MO's second component, when OBX-6 has none */
    int not_numeric;        /* 1: OBX-2 said NM but OBX-5 is not a number; kept as text */
} hl7_obx_value;

/* Reads OBX-2 and OBX-5 of obx. Known types are parsed (NM SN ST TX FT CE CWE CNE CF DT TM
 * DTM TS ID IS CQ MO XTN ...); any other keeps its value as written, unescaped, with its type.
 * Returns 0, or -1 when memory ran out (p->failed). */
int hl7_obx_value_get(hl7_pool *p, const huren_hl7_seg *obx, hl7_obx_value *out);

#endif
