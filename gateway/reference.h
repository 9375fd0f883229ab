/* reference.h: the province's reference data, as the directory serves it and hospitals keep it:
 * the recognition catalogue (items, groups, validity windows, scope, issuing institution
 * classes), the institution registry and the QC register. Each is a CSV table with a fixed
 * header, versioned by a "# version: N" first line; checked column by column so that a mistake
 * is reported as "line N: column: what". Tables are immutable once parsed. Stored as files in
 * a folder (<data_dir>/reference/<kind>.csv), each replaced atomically. */
#ifndef HUREN_GATEWAY_REFERENCE_H
#define HUREN_GATEWAY_REFERENCE_H

#include <stddef.h>

#define REF_MAX_ROWS 100000
#define REF_MAX_BYTES (16 << 20) /* one table's CSV */
#define REF_MAX_ERRORS 20        /* errors reported per import, one per line */

typedef enum ref_kind { REF_CATALOGUE = 0, REF_INSTITUTIONS, REF_QC, REF_NKINDS } ref_kind;

/* the columns of each kind, in file order */
enum {
    REF_CAT_CODE = 0,
    REF_CAT_NAME,
    REF_CAT_GROUP,       /* item group code, "" none: a result of the group counts for its items */
    REF_CAT_VALID_FROM,  /* YYYYMMDD the item is in the catalogue from, "" always */
    REF_CAT_VALID_TO,    /* YYYYMMDD until, "" open */
    REF_CAT_WINDOW_DAYS, /* a result is recognisable this many days after it was made */
    REF_CAT_SCOPE,       /* city | province | national */
    REF_CAT_ISSUERS,     /* institution classes that may issue it, '|'-separated, "" any */
};
enum {
    REF_INST_CODE = 0,
    REF_INST_NAME,
    REF_INST_SHORT,
    REF_INST_CITY,
    REF_INST_CLASS,     /* 三级甲等, 三级乙等, 二级甲等, 二级, 一级, ... */
    REF_INST_OWNERSHIP, /* public | private */
};
enum {
    REF_QC_INSTITUTION = 0,
    REF_QC_ITEM, /* an item code or an item group code */
    REF_QC_YEAR,
    REF_QC_SCHEME, /* the EQA scheme: national | provincial | ... text */
    REF_QC_FROM,   /* YYYYMMDD passed from */
    REF_QC_TO,     /* YYYYMMDD passed until */
};

const char *ref_kind_name(ref_kind k);          /* "catalogue", "institutions", "qc" */
int ref_kind_parse(const char *s, ref_kind *k); /* 0, or -1 when not a kind */
const char *ref_header(ref_kind k);             /* the header line, e.g. "code,name,group,..." */

typedef struct ref_table ref_table; /* opaque, immutable */

/* Parse and check a table of kind k (data need not be NUL-terminated). Returns 0 with *out
 * (free with ref_table_free), or -1 with every problem found (up to REF_MAX_ERRORS), one
 * "line N: column: what" per line, in err. */
int ref_table_parse(ref_kind k, const char *data, size_t len, ref_table **out, char *err,
                    size_t errlen);
void ref_table_free(ref_table *t); /* NULL-safe */
ref_kind ref_table_kind(const ref_table *t);
long ref_table_version(const ref_table *t); /* the "# version: N" line, 0 without */
size_t ref_table_rows(const ref_table *t);  /* 0 for NULL */
/* The cell (borrowed, never NULL for a row and column that exist; "" when empty). */
const char *ref_cell(const ref_table *t, size_t row, int col);
/* The first row whose column col equals value, or -1. */
long ref_find(const ref_table *t, int col, const char *value);
/* Is v one of the '|'-separated values of list? */
int ref_list_has(const char *list, const char *v);

/* ---- the folder: <dir>/<kind>.csv ---- */

/* Read the stored table's text: 0 with *data (malloc'd, NUL-terminated) and *len, 1 when there
 * is none, -1 with err. */
int ref_store_read(const char *dir, ref_kind k, char **data, size_t *len, char *err, size_t errlen);
/* Replace the stored table by data (made durable: temp file, fsync, rename). 0 or -1 with err;
 * the folder is made when missing. */
int ref_store_write(const char *dir, ref_kind k, const char *data, size_t len, char *err,
                    size_t errlen);
/* An operator's CSV (without a version line; a "# version:" line in it is ignored) checked and
 * stored as the next version (the stored one's + 1). Nothing is stored on any error: -1 with
 * the errors by line in err; 0 with *version. */
int ref_import(const char *dir, ref_kind k, const char *csv, size_t len, long *version, char *err,
               size_t errlen);

/* For check-config: one line per table kept in dir ("reference catalogue: version 3, 120
 * rows"), or that none is. */
void ref_store_describe(const char *dir, void (*line)(void *ctx, const char *text), void *ctx);

#endif
