/* fuzz_dicom.c: the DICOM shim (dicom/huren_dicom.h) on bytes read as a Part-10 file: element
 * parse and charset conversion to UTF-8, DICOM JSON, frame extraction; then the parsed
 * elements as a C-FIND identifier mapped onto archive matches through the field table the
 * DIMSE and QIDO-RS services share, and run against a real archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/dicom_fields.h"
#include "huren_err.h"
#include "fuzz_node.h"
#include "huren_dicom.h"

static int on_row(void *payload, const huren_index_row *row)
{
    (void)payload;
    (void)row;
    return 0;
}

static void query(node *n, const huren_dicom_element *el, size_t nel)
{
    huren_index_match m[32];
    size_t nm = 0;
    for (size_t i = 0; i < nel && nm < 32; i++) {
        const dicom_field *f = dicom_field_by_tag(el[i].tag);
        if (f && el[i].value && el[i].value[0] &&
            huren_index_field_kind(f->field) != HUREN_INDEX_KIND_COUNT)
            m[nm++] = (huren_index_match){f->field, el[i].value};
    }
    for (int level = HUREN_INDEX_LEVEL_PATIENT; level <= HUREN_INDEX_LEVEL_INSTANCE; level++) {
        size_t k = 0;
        huren_index_match at[32];
        for (size_t i = 0; i < nm; i++)
            if (huren_index_field_level(m[i].field) <= (huren_index_level)level)
                at[k++] = m[i];
        huren_index_query q = {(huren_index_level)level, at, k, 10, 0};
        huren_index_find(n->index, &q, on_row, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *path = fuzz_file(in, size);
    huren_dicom_file *f = NULL;
    char err[HUREN_ERRLEN];
    if (huren_dicom_file_parse(path, &f, err, sizeof err) != 0)
        return 0;
    size_t nel;
    const huren_dicom_element *el = huren_dicom_file_elements(f, &nel);
    for (size_t i = 0; i < nel; i++)
        if (!el[i].value || strlen(el[i].vr) != 2)
            abort(); /* every element has a value (maybe "") and a VR */
    huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0010, 0x0010));
    huren_dicom_file_transfer_syntax(f);
    huren_dicom_file_charset_warning(f);
    query(fuzz_node("hospital"), el, nel);
    char *json = NULL, *frame = NULL;
    size_t len = 0;
    if (huren_dicom_file_to_json(path, "http://fuzz/bulk/", &json, &len, err, sizeof err) == 0) {
        if (strlen(json) != len)
            abort();
        free(json);
    }
    if (huren_dicom_file_frame(path, 1, &frame, &len, NULL, NULL, err, sizeof err) == 0)
        free(frame);
    huren_dicom_file_free(f);
    return 0;
}
