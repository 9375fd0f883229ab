/* dicom_json.h: DICOM JSON (PS3.18 F.2) attributes built with jansson from archive text values:
 * the VR decides the JSON type (numbers for IS/DS/US/..., PN as Alphabetic/Ideographic/
 * Phonetic objects, multiple values split at '\'). */
#ifndef HUREN_GATEWAY_DICOM_JSON_H
#define HUREN_GATEWAY_DICOM_JSON_H

#include <jansson.h>
#include <stdint.h>

/* Set attribute tag of obj to value (UTF-8 text as DICOM writes it; NULL or "" = present but
 * empty: {"vr": vr}). Returns 0, or -1 if out of memory. */
int dicom_json_put(json_t *obj, uint32_t tag, const char *vr, const char *value);
/* Set an attribute holding one integer (US, UL, IS, ...). */
int dicom_json_put_int(json_t *obj, uint32_t tag, const char *vr, long long v);
/* Set a sequence attribute; items (an array of objects) is stolen. */
int dicom_json_put_seq(json_t *obj, uint32_t tag, json_t *items);
/* The tag key "0010ABCD" of a tag. buf must hold 9 bytes. */
const char *dicom_json_key(uint32_t tag, char buf[9]);

#endif
