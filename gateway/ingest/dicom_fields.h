/* dicom_fields.h: which DICOM attribute (tag, VR) each archive field holds. One table, used
 * both to index a received instance and to answer C-FIND (and later QIDO-RS). */
#ifndef HUREN_GATEWAY_DICOM_FIELDS_H
#define HUREN_GATEWAY_DICOM_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "huren_index.h"

typedef struct dicom_field {
    huren_index_field field;
    uint32_t tag;
    const char *vr;
    const char *keyword; /* DICOM keyword, for messages and DICOM JSON */
} dicom_field;

extern const dicom_field dicom_fields[];
extern const size_t dicom_nfields;

/* The row for a tag or a field; NULL if the archive does not keep it. */
const dicom_field *dicom_field_by_tag(uint32_t tag);
const dicom_field *dicom_field_by_index(huren_index_field f);

#endif
