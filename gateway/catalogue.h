/* catalogue.h: the recognition catalogue (鲁医互认 items): a CSV data file listing each item the
 * province recognises (code, name, kind, modality, body part, validity window, HR scope) and the
 * local codes each hospital uses for it. Loaded and validated once; immutable afterwards, so it
 * is shared between threads without locks. Format: conf/recognition-catalogue.csv. */
#ifndef HUREN_GATEWAY_CATALOGUE_H
#define HUREN_GATEWAY_CATALOGUE_H

#include <stddef.h>

#define CATALOGUE_MAX_ITEMS 10000
#define CATALOGUE_LINE_MAX 8192

typedef struct catalogue_item {
    char *code;      /* the catalogue's code, e.g. "CT-CHEST-PLAIN" */
    char *name;      /* e.g. "胸部CT平扫" */
    char *kind;      /* "imaging" | "lab" */
    char *modality;  /* imaging: DICOM modality ("CT"); lab: "" */
    char *body_part; /* imaging: DICOM BodyPartExamined ("CHEST"), may be ""; lab: "" */
    int window_days; /* a result is recognisable this many days after it was made */
    char *hr_scope;  /* "national" | "province" | "city" | "" (not an HR item) */
    int line;        /* where it was defined */
} catalogue_item;

typedef struct catalogue catalogue; /* opaque */

/* Read and validate the file at path. Returns 0 with *out (free with catalogue_free), or -1
 * with "path:line: column: what is wrong" in err. */
int catalogue_load(const char *path, catalogue **out, char *err, size_t errlen);
void catalogue_free(catalogue *c); /* NULL-safe; frees the catalogues it retired too */
/* A reload (SIGHUP): newer replaces older, which stays valid (threads may still hold its
 * items) until newer is freed, which frees it too. */
void catalogue_retire(catalogue *newer, catalogue *older);

size_t catalogue_count(const catalogue *c);
const catalogue_item *catalogue_item_at(const catalogue *c, size_t i);
/* The item with that catalogue code, or NULL. */
const catalogue_item *catalogue_by_code(const catalogue *c, const char *code);

/* The item a local code of `institution` stands for: an alias given for that institution
 * ("H37010002:CT001"), else one given for every institution ("CT001"), else the catalogue
 * code itself; only items of `kind` ("imaging", "lab"). NULL when none. Borrowed from c. */
const catalogue_item *catalogue_by_local_code(const catalogue *c, const char *institution,
                                              const char *kind, const char *local_code);

/* An imaging item by what a study shows: the first item (in file order) whose modality is one
 * of `modalities` and whose body part is one of `body_parts` (both '\'-separated DICOM
 * values, compared without case). Items without a body part never match this way. */
const catalogue_item *catalogue_by_exam(const catalogue *c, const char *modalities,
                                        const char *body_parts);

/* Split one CSV line (RFC 4180 quoting) into at most maxf fields written NUL-separated into
 * buf (as large as line). Returns the count, maxf + 1 when there are more, -1 on an unbalanced
 * quote. Shared with reference.c. */
int catalogue_csv_split(const char *line, char *buf, char **f, int maxf);

/* Rank of an HR scope: city 1 < province 2 < national 3; 0 for "" or anything else. */
int catalogue_scope_rank(const char *scope);

#endif
