/* dicom_fields.c: the table from archive fields to DICOM attributes (PS3.4 C.6 and PS3.18
 * 10.6 default return keys). Computed fields map to the attributes that report them. */
#include "ingest/dicom_fields.h"

#include "huren_dicom.h"

#define T HUREN_DICOM_TAG

const dicom_field dicom_fields[] = {
    {HUREN_INDEX_F_PATIENT_ID, T(0x0010, 0x0020), "LO", "PatientID"},
    {HUREN_INDEX_F_ISSUER_OF_PATIENT_ID, T(0x0010, 0x0021), "LO", "IssuerOfPatientID"},
    {HUREN_INDEX_F_PATIENT_NAME, T(0x0010, 0x0010), "PN", "PatientName"},
    {HUREN_INDEX_F_PATIENT_BIRTH_DATE, T(0x0010, 0x0030), "DA", "PatientBirthDate"},
    {HUREN_INDEX_F_PATIENT_SEX, T(0x0010, 0x0040), "CS", "PatientSex"},
    {HUREN_INDEX_F_OTHER_PATIENT_IDS, T(0x0010, 0x1000), "LO", "OtherPatientIDs"},
    {HUREN_INDEX_F_PATIENT_NUM_STUDIES, T(0x0020, 0x1200), "IS", "NumberOfPatientRelatedStudies"},
    {HUREN_INDEX_F_PATIENT_NUM_SERIES, T(0x0020, 0x1202), "IS", "NumberOfPatientRelatedSeries"},
    {HUREN_INDEX_F_PATIENT_NUM_INSTANCES, T(0x0020, 0x1204), "IS",
     "NumberOfPatientRelatedInstances"},
    {HUREN_INDEX_F_STUDY_UID, T(0x0020, 0x000D), "UI", "StudyInstanceUID"},
    {HUREN_INDEX_F_STUDY_DATE, T(0x0008, 0x0020), "DA", "StudyDate"},
    {HUREN_INDEX_F_STUDY_TIME, T(0x0008, 0x0030), "TM", "StudyTime"},
    {HUREN_INDEX_F_ACCESSION_NUMBER, T(0x0008, 0x0050), "SH", "AccessionNumber"},
    {HUREN_INDEX_F_STUDY_ID, T(0x0020, 0x0010), "SH", "StudyID"},
    {HUREN_INDEX_F_STUDY_DESCRIPTION, T(0x0008, 0x1030), "LO", "StudyDescription"},
    {HUREN_INDEX_F_REFERRING_PHYSICIAN, T(0x0008, 0x0090), "PN", "ReferringPhysicianName"},
    {HUREN_INDEX_F_INSTITUTION_NAME, T(0x0008, 0x0080), "LO", "InstitutionName"},
    {HUREN_INDEX_F_MODALITIES_IN_STUDY, T(0x0008, 0x0061), "CS", "ModalitiesInStudy"},
    {HUREN_INDEX_F_SOP_CLASSES_IN_STUDY, T(0x0008, 0x0062), "UI", "SOPClassesInStudy"},
    {HUREN_INDEX_F_STUDY_NUM_SERIES, T(0x0020, 0x1206), "IS", "NumberOfStudyRelatedSeries"},
    {HUREN_INDEX_F_STUDY_NUM_INSTANCES, T(0x0020, 0x1208), "IS", "NumberOfStudyRelatedInstances"},
    {HUREN_INDEX_F_SERIES_UID, T(0x0020, 0x000E), "UI", "SeriesInstanceUID"},
    {HUREN_INDEX_F_MODALITY, T(0x0008, 0x0060), "CS", "Modality"},
    {HUREN_INDEX_F_SERIES_NUMBER, T(0x0020, 0x0011), "IS", "SeriesNumber"},
    {HUREN_INDEX_F_SERIES_DESCRIPTION, T(0x0008, 0x103E), "LO", "SeriesDescription"},
    {HUREN_INDEX_F_BODY_PART, T(0x0018, 0x0015), "CS", "BodyPartExamined"},
    {HUREN_INDEX_F_SERIES_DATE, T(0x0008, 0x0021), "DA", "SeriesDate"},
    {HUREN_INDEX_F_SERIES_TIME, T(0x0008, 0x0031), "TM", "SeriesTime"},
    {HUREN_INDEX_F_PPS_START_DATE, T(0x0040, 0x0244), "DA", "PerformedProcedureStepStartDate"},
    {HUREN_INDEX_F_PPS_START_TIME, T(0x0040, 0x0245), "TM", "PerformedProcedureStepStartTime"},
    {HUREN_INDEX_F_SERIES_NUM_INSTANCES, T(0x0020, 0x1209), "IS", "NumberOfSeriesRelatedInstances"},
    {HUREN_INDEX_F_SOP_INSTANCE_UID, T(0x0008, 0x0018), "UI", "SOPInstanceUID"},
    {HUREN_INDEX_F_SOP_CLASS_UID, T(0x0008, 0x0016), "UI", "SOPClassUID"},
    {HUREN_INDEX_F_INSTANCE_NUMBER, T(0x0020, 0x0013), "IS", "InstanceNumber"},
    {HUREN_INDEX_F_ROWS, T(0x0028, 0x0010), "US", "Rows"},
    {HUREN_INDEX_F_COLUMNS, T(0x0028, 0x0011), "US", "Columns"},
    {HUREN_INDEX_F_BITS_ALLOCATED, T(0x0028, 0x0100), "US", "BitsAllocated"},
    {HUREN_INDEX_F_NUMBER_OF_FRAMES, T(0x0028, 0x0008), "IS", "NumberOfFrames"},
    {HUREN_INDEX_F_TRANSFER_SYNTAX_UID, T(0x0002, 0x0010), "UI", "TransferSyntaxUID"},
};

const size_t dicom_nfields = sizeof dicom_fields / sizeof dicom_fields[0];

const dicom_field *dicom_field_by_tag(uint32_t tag)
{
    for (size_t i = 0; i < dicom_nfields; i++)
        if (dicom_fields[i].tag == tag)
            return &dicom_fields[i];
    return NULL;
}

const dicom_field *dicom_field_by_index(huren_index_field f)
{
    for (size_t i = 0; i < dicom_nfields; i++)
        if (dicom_fields[i].field == f)
            return &dicom_fields[i];
    return NULL;
}
