/* ingest_dicom.c: maps a DICOM instance's elements onto archive fields (dicom_fields.c) and
 * hands the file to index/, which makes it durable before we acknowledge anything. */
#define LOG_COMPONENT "ingest"
#include "ingest/ingest_dicom.h"
#include "ingest/dicom_fields.h"
#include "log.h"
#include "index/index_recognition.h"

#include <stdio.h>
#include <unistd.h>

static const struct {
    huren_index_field field;
    const char *name;
} required_uids[] = {
    {HUREN_INDEX_F_STUDY_UID, "StudyInstanceUID"},
    {HUREN_INDEX_F_SERIES_UID, "SeriesInstanceUID"},
    {HUREN_INDEX_F_SOP_INSTANCE_UID, "SOPInstanceUID"},
    {HUREN_INDEX_F_SOP_CLASS_UID, "SOPClassUID"},
};

static ingest_result ingest(node *n, const huren_dicom_element *el, size_t nel,
                            const char *transfer_syntax_uid, const char *tmp_path,
                            unsigned put_flags, const ingest_copy *copy,
                            huren_index_put_outcome *outcome, char *err, size_t errlen)
{
    const char *values[HUREN_INDEX_F_COUNT] = {0};
    for (size_t i = 0; i < dicom_nfields; i++)
        values[dicom_fields[i].field] = huren_dicom_elements_find(el, nel, dicom_fields[i].tag);
    values[HUREN_INDEX_F_TRANSFER_SYNTAX_UID] = transfer_syntax_uid;
    huren_index_copy source = {0};
    if (copy) {
        /* the source's ids stay with the copy; the index keys it under ours */
        source = copy->source;
        if (!source.patient_id) {
            source.patient_id = values[HUREN_INDEX_F_PATIENT_ID];
            source.issuer = values[HUREN_INDEX_F_ISSUER_OF_PATIENT_ID];
        }
        values[HUREN_INDEX_F_PATIENT_ID] = copy->patient_id;
        values[HUREN_INDEX_F_ISSUER_OF_PATIENT_ID] = copy->issuer;
        if (copy->other_patient_ids)
            values[HUREN_INDEX_F_OTHER_PATIENT_IDS] = copy->other_patient_ids;
    }

    for (size_t i = 0; i < sizeof required_uids / sizeof required_uids[0]; i++) {
        const char *uid = values[required_uids[i].field];
        if (!uid || !uid[0]) {
            snprintf(err, errlen, "%s is missing", required_uids[i].name);
            goto invalid;
        }
        if (!huren_dicom_uid_valid(uid)) {
            snprintf(err, errlen, "%s is not a valid UID", required_uids[i].name);
            goto invalid;
        }
    }
    /* provenance: the pixel fingerprint goes with the instance ("" = no PixelData); one that
     * cannot be read stays unknown rather than refusing what DCMTK accepted */
    char pixel[65] = "";
    int drc = huren_dicom_file_pixel_digest(tmp_path, pixel, err, errlen);
    if (drc == 0 || drc == HUREN_DICOM_ENOTSUP)
        values[HUREN_INDEX_F_PIXEL_SHA256] = pixel;
    else
        log_warnx("%s: no pixel fingerprint: %s", values[HUREN_INDEX_F_SOP_INSTANCE_UID], err);
    err[0] = '\0';
    int rc = copy ? huren_index_instance_put_copy(n->index, values, tmp_path, put_flags, &source,
                                                  outcome)
                  : huren_index_instance_put_ex(n->index, values, tmp_path, put_flags, outcome);
    if (rc == HUREN_INDEX_EINVAL) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        goto invalid;
    }
    if (rc < 0) {
        snprintf(err, errlen, "archive: %s", huren_index_errmsg(n->index));
        atomic_fetch_add(&n->metrics.store_failures, 1);
        return INGEST_FAILED;
    }
    switch (*outcome) {
    case HUREN_INDEX_PUT_STORED:
        atomic_fetch_add(&n->metrics.instances_stored, 1);
        break;
    case HUREN_INDEX_PUT_DUPLICATE:
        atomic_fetch_add(&n->metrics.instances_duplicate, 1);
        break;
    case HUREN_INDEX_PUT_REPLACED:
        atomic_fetch_add(&n->metrics.instances_replaced, 1);
        break;
    }
    return INGEST_OK;
invalid:
    unlink(tmp_path);
    atomic_fetch_add(&n->metrics.instances_rejected, 1);
    return INGEST_INVALID;
}

ingest_result ingest_dicom_instance(node *n, const huren_dicom_element *el, size_t nel,
                                    const char *transfer_syntax_uid, const char *tmp_path,
                                    unsigned put_flags, huren_index_put_outcome *outcome, char *err,
                                    size_t errlen)
{
    return ingest(n, el, nel, transfer_syntax_uid, tmp_path, put_flags, NULL, outcome, err, errlen);
}

ingest_result ingest_dicom_copy(node *n, const huren_dicom_element *el, size_t nel,
                                const char *transfer_syntax_uid, const char *tmp_path,
                                const ingest_copy *copy, huren_index_put_outcome *outcome,
                                char *err, size_t errlen)
{
    return ingest(n, el, nel, transfer_syntax_uid, tmp_path, 0, copy, outcome, err, errlen);
}
