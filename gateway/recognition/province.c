/* province.c: the province's reference data applied to a prompt: the item as the province's
 * catalogue gives it, the issuer's and the asker's entries in the registry, the issuer's QC
 * passes, handed to rules.c's rec_reference_check; and the registry's names for the page. */
#include "recognition_int.h"
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#define QC_MAX 256 /* QC passes of one institution considered */

int rec_province_item(recognition *rec, const char *code, rec_ref_item *it)
{
    const ref_table *t = rec_reference(rec, REF_CATALOGUE);
    long row = ref_find(t, REF_CAT_CODE, code);
    if (row < 0)
        return 0;
    size_t r = (size_t)row;
    *it = (rec_ref_item){.code = ref_cell(t, r, REF_CAT_CODE),
                         .group = ref_cell(t, r, REF_CAT_GROUP),
                         .valid_from = ref_cell(t, r, REF_CAT_VALID_FROM),
                         .valid_to = ref_cell(t, r, REF_CAT_VALID_TO),
                         .window_days = (int)strtol(ref_cell(t, r, REF_CAT_WINDOW_DAYS), NULL, 10),
                         .scope = ref_cell(t, r, REF_CAT_SCOPE),
                         .issuers = ref_cell(t, r, REF_CAT_ISSUERS)};
    return 1;
}

static int inst_of(const ref_table *t, const char *code, rec_ref_inst *out)
{
    long row = ref_find(t, REF_INST_CODE, code);
    if (row < 0)
        return 0;
    out->city = ref_cell(t, (size_t)row, REF_INST_CITY);
    out->klass = ref_cell(t, (size_t)row, REF_INST_CLASS);
    return 1;
}

rec_exclusion rec_province_check(recognition *rec, const rec_ref_item *it, const char *order_date,
                                 const char *holder, const char *asker, const char *result_date)
{
    const ref_table *reg = rec_reference(rec, REF_INSTITUTIONS), *qct = rec_reference(rec, REF_QC);
    rec_ref_inst h, a;
    int has_h = inst_of(reg, holder, &h), has_a = inst_of(reg, asker, &a);
    rec_qc_pass qc[QC_MAX];
    size_t n = 0;
    for (size_t i = 0; i < ref_table_rows(qct) && n < QC_MAX; i++)
        if (!strcmp(ref_cell(qct, i, REF_QC_INSTITUTION), holder))
            qc[n++] = (rec_qc_pass){ref_cell(qct, i, REF_QC_ITEM), ref_cell(qct, i, REF_QC_FROM),
                                    ref_cell(qct, i, REF_QC_TO)};
    return rec_reference_check(it, order_date, result_date, has_h ? &h : NULL, has_a ? &a : NULL,
                               qc, n);
}

void rec_province_institution(recognition *rec, const char *code, json_t *o)
{
    const ref_table *reg = rec_reference(rec, REF_INSTITUTIONS);
    long row = ref_find(reg, REF_INST_CODE, code);
    if (row < 0)
        return;
    json_object_set_new(o, "institution_name",
                        json_string(ref_cell(reg, (size_t)row, REF_INST_NAME)));
    json_object_set_new(o, "institution_short_name",
                        json_string(ref_cell(reg, (size_t)row, REF_INST_SHORT)));
    json_object_set_new(o, "institution_class",
                        json_string(ref_cell(reg, (size_t)row, REF_INST_CLASS)));
    json_object_set_new(o, "institution_city",
                        json_string(ref_cell(reg, (size_t)row, REF_INST_CITY)));
}
