/* field.c: the table of archive fields: stable name, level, matching kind, and the table alias
 * and column that hold each one. Everything that maps a huren_index_field to SQL reads it. */
#include "index_int.h"

#include <stddef.h>

#define P HUREN_INDEX_LEVEL_PATIENT
#define ST HUREN_INDEX_LEVEL_STUDY
#define SE HUREN_INDEX_LEVEL_SERIES
#define I HUREN_INDEX_LEVEL_INSTANCE
#define TEXT HUREN_INDEX_KIND_TEXT
#define PN HUREN_INDEX_KIND_PN
#define DATE HUREN_INDEX_KIND_DATE
#define TIME HUREN_INDEX_KIND_TIME
#define UID HUREN_INDEX_KIND_UID
#define MULTI HUREN_INDEX_KIND_MULTI
#define COUNT HUREN_INDEX_KIND_COUNT

/* The column name equals the field name, so schema.c, rows.c and query.c agree by construction.
 * Order follows huren_index_field exactly (checked by the unit tests). */
static const huren_index__field_def fields[HUREN_INDEX_F_COUNT] = {
    {"patient_id", P, TEXT, "p"},
    {"issuer_of_patient_id", P, TEXT, "p"},
    {"patient_name", P, PN, "p"},
    {"patient_birth_date", P, DATE, "p"},
    {"patient_sex", P, TEXT, "p"},
    {"other_patient_ids", P, MULTI, "p"},
    {"patient_num_studies", P, COUNT, "p"},
    {"patient_num_series", P, COUNT, "p"},
    {"patient_num_instances", P, COUNT, "p"},
    {"study_uid", ST, UID, "st"},
    {"study_date", ST, DATE, "st"},
    {"study_time", ST, TIME, "st"},
    {"accession_number", ST, TEXT, "st"},
    {"study_id", ST, TEXT, "st"},
    {"study_description", ST, TEXT, "st"},
    {"referring_physician", ST, PN, "st"},
    {"institution_name", ST, TEXT, "st"},
    {"modalities_in_study", ST, MULTI, "st"},
    {"sop_classes_in_study", ST, MULTI, "st"},
    {"study_num_series", ST, COUNT, "st"},
    {"study_num_instances", ST, COUNT, "st"},
    {"series_uid", SE, UID, "se"},
    {"modality", SE, TEXT, "se"},
    {"series_number", SE, TEXT, "se"},
    {"series_description", SE, TEXT, "se"},
    {"body_part", SE, TEXT, "se"},
    {"series_date", SE, DATE, "se"},
    {"series_time", SE, TIME, "se"},
    {"pps_start_date", SE, DATE, "se"},
    {"pps_start_time", SE, TIME, "se"},
    {"series_num_instances", SE, COUNT, "se"},
    {"sop_instance_uid", I, UID, "i"},
    {"sop_class_uid", I, UID, "i"},
    {"instance_number", I, TEXT, "i"},
    {"rows", I, TEXT, "i"},
    {"columns", I, TEXT, "i"},
    {"bits_allocated", I, TEXT, "i"},
    {"number_of_frames", I, TEXT, "i"},
    {"transfer_syntax_uid", I, UID, "i"},
    {"pixel_sha256", I, TEXT, "i"},
};

const huren_index__field_def *huren_index__field(huren_index_field f)
{
    if ((int)f < 0 || f >= HUREN_INDEX_F_COUNT)
        return NULL;
    return &fields[f];
}

huren_index_kind huren_index_field_kind(huren_index_field f)
{
    const huren_index__field_def *d = huren_index__field(f);
    return d ? d->kind : HUREN_INDEX_KIND_COUNT;
}

huren_index_level huren_index_field_level(huren_index_field f)
{
    const huren_index__field_def *d = huren_index__field(f);
    return d ? d->level : HUREN_INDEX_LEVEL_INSTANCE;
}

const char *huren_index_field_name(huren_index_field f)
{
    const huren_index__field_def *d = huren_index__field(f);
    return d ? d->name : "unknown";
}
