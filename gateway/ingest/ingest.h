/* ingest.h: the ingest area, what turns received DICOM instances and HL7 messages into
 * archive records. DIMSE, DICOMweb, the HL7 feed, import and recognition's retrieval call it;
 * it calls no feature. This header holds what every ingest path answers; the paths themselves
 * are ingest_dicom.h (instances, retrieved copies), ingest_hl7.h (messages) and dicom_fields.h
 * (the one table of DICOM attributes and archive fields). */
#ifndef HUREN_GATEWAY_INGEST_H
#define HUREN_GATEWAY_INGEST_H

typedef enum ingest_result {
    INGEST_OK = 0,       /* stored, a duplicate kept once, or replaced: see *outcome */
    INGEST_INVALID = -1, /* the data is unacceptable (missing or bad UID): not stored */
    INGEST_FAILED = -2   /* the archive could not store it (disk, database): not stored */
} ingest_result;

#endif
