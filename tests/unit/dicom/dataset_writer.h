/* dataset_writer.h: writes the small DICOM files the dicom/ unit tests feed to the parser and
 * to DCMTK's network tools, built at run time with DCMTK (no binary test data in the repo). */
#ifndef TEST_DATASET_WRITER_H
#define TEST_DATASET_WRITER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One element to set (value bytes written as given, no conversion) or, with value NULL, to
 * remove from the default secondary capture dataset. */
typedef struct tdw_kv {
    uint32_t tag;
    const char *value;
} tdw_kv;

/* Write an 8x8 8-bit secondary capture Part-10 file (explicit VR little endian) with defaults
 * for the UIDs, patient and study, changed by kv. Returns 0 or -1. */
int tdw_write(const char *path, const tdw_kv *kv, size_t n);

#ifdef __cplusplus
}
#endif
#endif
