/* ingest_dicom.h: one received DICOM instance (from C-STORE, STOW-RS or import) into the
 * archive: checks its identity, maps its attributes to archive fields and stores it durably. */
#ifndef HUREN_GATEWAY_INGEST_DICOM_H
#define HUREN_GATEWAY_INGEST_DICOM_H

#include "huren_dicom.h"
#include "huren_index.h"
#include "index/index_recognition.h"
#include "ingest/ingest.h"
#include "node.h"

/* Store the Part-10 file tmp_path (inside the archive's tmp dir) whose text elements are
 * el[0..nel). The file is consumed, except that with HUREN_INDEX_PUT_KEEP_TMP in put_flags a
 * file whose bytes were copied into a pack is left for the caller to reuse. Counts the outcome
 * in n->metrics. err gets the reason. */
ingest_result ingest_dicom_instance(node *n, const huren_dicom_element *el, size_t nel,
                                    const char *transfer_syntax_uid, const char *tmp_path,
                                    unsigned put_flags, huren_index_put_outcome *outcome, char *err,
                                    size_t errlen);

/* A retrieved copy of another hospital's instance: indexed under this hospital's patient
 * (patient_id, issuer; other_patient_ids when not NULL) and marked with its source, whose
 * PatientID and IssuerOfPatientID are taken from the instance when source.patient_id is NULL. */
typedef struct ingest_copy {
    const char *patient_id, *issuer;
    const char *other_patient_ids;
    huren_index_copy source;
} ingest_copy;

/* ingest_dicom_instance for a retrieved copy. */
ingest_result ingest_dicom_copy(node *n, const huren_dicom_element *el, size_t nel,
                                const char *transfer_syntax_uid, const char *tmp_path,
                                const ingest_copy *copy, huren_index_put_outcome *outcome,
                                char *err, size_t errlen);

#endif
