/* ingest_hl7_value.c: HL7 v2 data types as ingest_hl7.c stores them. Coded elements take
 * their alternate identifier when the identifier is empty; OBX-5 is read by OBX-2, every
 * value type kept (unknown ones as written, with their type), as interface engines do. */
#include "ingest/ingest_hl7_value.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hl7_pool_add(hl7_pool *p, char *s)
{
    if (!s) {
        p->failed = 1;
        return NULL;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(s);
            p->failed = 1;
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return s;
}

void hl7_pool_free(hl7_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
    p->failed = 0;
}

/* Closes f and keeps its text[0..keep) in the pool; NULL when that is empty. */
static const char *pool_stream(hl7_pool *p, FILE *f, char **out, long keep)
{
    fclose(f);
    if (!*out)
        return NULL;
    (*out)[keep] = 0;
    if (!**out) {
        free(*out);
        return NULL;
    }
    return hl7_pool_add(p, *out);
}

const char *hl7_join(hl7_pool *p, const huren_hl7_seg *s, int field, int rep, int from, int to,
                     const char *sep)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return hl7_pool_add(p, NULL);
    int n = to ? to : huren_hl7_seg_rep_count(s, field);
    long written = 0;
    for (int i = to ? from : 1; i <= n; i++) {
        const char *v =
            to ? huren_hl7_seg_get(s, field, rep, i, 1) : huren_hl7_seg_get(s, field, i, 1, 1);
        if (!v)
            continue;
        if (to) { /* keep inner empty components so positions stay readable */
            if (i > from)
                fputs(sep, f);
            fputs(v, f);
            if (*v)
                written = ftell(f);
        } else if (*v) {
            fprintf(f, "%s%s", written ? sep : "", v);
            written = ftell(f);
        }
    }
    return pool_stream(p, f, &out, written);
}

/* One repetition as written: components joined by '^', sub-components by '&'. Appended to
 * f; returns the position after its last non-empty part, or `written` when it is empty. */
static long rep_as_written(FILE *f, const huren_hl7_seg *s, int field, int rep, long written)
{
    int nc = huren_hl7_seg_comp_count(s, field, rep);
    for (int c = 1; c <= nc; c++) {
        int ns = huren_hl7_seg_sub_count(s, field, rep, c);
        if (c > 1)
            fputc('^', f);
        for (int k = 1; k <= ns; k++) {
            const char *v = huren_hl7_seg_get(s, field, rep, c, k);
            if (k > 1)
                fputc('&', f);
            if (v && *v) {
                fputs(v, f);
                written = ftell(f);
            }
        }
    }
    return written;
}

/* Every non-empty repetition as written, joined by rsep, trailing empty parts dropped; NULL
 * when all is empty. */
static const char *as_written(hl7_pool *p, const huren_hl7_seg *s, int field, const char *rsep)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return hl7_pool_add(p, NULL);
    long written = 0;
    int n = huren_hl7_seg_rep_count(s, field);
    for (int r = 1; r <= n; r++) {
        fseek(f, written, SEEK_SET); /* drop what trailed the last non-empty part */
        if (written)
            fputs(rsep, f);
        written = rep_as_written(f, s, field, r, written);
    }
    return pool_stream(p, f, &out, written);
}

static const char *part(const huren_hl7_seg *s, int field, int rep, int comp)
{
    const char *v = huren_hl7_seg_get(s, field, rep, comp, 1);
    return v && *v ? v : NULL;
}

int hl7_coded_get(const huren_hl7_seg *s, int field, int rep, hl7_coded *out)
{
    static const int triple[3] = {1, 4, 10}; /* identifier, alternate, second alternate */
    memset(out, 0, sizeof *out);
    for (int t = 0; t < 3 && !out->code; t++) {
        out->code = part(s, field, rep, triple[t]);
        if (out->code) {
            out->text = part(s, field, rep, triple[t] + 1);
            out->system = part(s, field, rep, triple[t] + 2);
        }
    }
    for (int t = 0; t < 3 && !out->text; t++) {
        out->text = part(s, field, rep, triple[t] + 1);
        if (out->text && !out->code) /* a text-only element keeps its coding system */
            out->system = part(s, field, rep, triple[t] + 2);
    }
    if (!out->text)
        out->text = part(s, field, rep, 9); /* CWE-9 original text */
    return out->code || out->text;
}

/* Coded values of every repetition as "code^text^system" (trailing empties dropped), joined
 * by '~'. */
static const char *coded_value(hl7_pool *p, const huren_hl7_seg *s, int field)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return hl7_pool_add(p, NULL);
    int n = huren_hl7_seg_rep_count(s, field);
    long written = 0;
    for (int r = 1; r <= n; r++) {
        hl7_coded c;
        if (!hl7_coded_get(s, field, r, &c))
            continue;
        if (written)
            fputc('~', f);
        const char *v[3] = {c.code, c.text, c.system};
        int last = c.system ? 2 : c.text ? 1 : 0;
        for (int k = 0; k <= last; k++)
            fprintf(f, "%s%s", k ? "^" : "", v[k] ? v[k] : "");
        written = ftell(f);
    }
    return pool_stream(p, f, &out, written);
}

/* XTN: the 2.3 number text (component 1), else the e-mail address (4), else
 * "country area local Xextension" from components 5-8; repetitions joined by '~'. */
static const char *phone_value(hl7_pool *p, const huren_hl7_seg *s, int field)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return hl7_pool_add(p, NULL);
    int n = huren_hl7_seg_rep_count(s, field);
    long written = 0;
    for (int r = 1; r <= n; r++) {
        const char *text = part(s, field, r, 1), *mail = part(s, field, r, 4);
        const char *num[3] = {part(s, field, r, 5), part(s, field, r, 6), part(s, field, r, 7)};
        const char *ext = part(s, field, r, 8);
        if (!text && !mail && !num[0] && !num[1] && !num[2])
            continue;
        if (written)
            fputc('~', f);
        if (text || mail) {
            fputs(text ? text : mail, f);
        } else {
            int first = 1;
            for (int k = 0; k < 3; k++)
                if (num[k]) {
                    fprintf(f, "%s%s%s", first ? "" : " ", k == 0 ? "+" : "", num[k]);
                    first = 0;
                }
            if (ext)
                fprintf(f, " X%s", ext);
        }
        written = ftell(f);
    }
    return pool_stream(p, f, &out, written);
}

static int number_valid(const char *v)
{
    char *end;
    errno = 0;
    while (*v == ' ')
        v++;
    if (*v == '+' || *v == '-' || *v == '.' || (*v >= '0' && *v <= '9')) {
        strtod(v, &end);
        while (*end == ' ')
            end++;
        return end != v && *end == 0 && errno == 0;
    }
    return 0; /* strtod would take "nan", "inf" and hex: not HL7 NM */
}

static int is(const char *vt, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(vt, *list))
            return 1;
    return 0;
}

int hl7_obx_value_get(hl7_pool *p, const huren_hl7_seg *obx, hl7_obx_value *out)
{
    static const char *const text[] = {"ST", "TX", "FT", "TN", NULL};
    static const char *const coded[] = {"CE", "CWE", "CNE", "CF", "CK", "CM", NULL};
    static const char *const single[] = {"DT", "TM", "DTM", "TS", "ID", "IS", "DR", NULL};
    const char *vt = huren_hl7_seg_get(obx, 2, 1, 1, 1);
    memset(out, 0, sizeof *out);
    int has_value = huren_hl7_seg_rep_count(obx, 5) > 0;
    out->value_type = vt && *vt ? vt : has_value ? "TX" : NULL;
    if (!has_value)
        return 0;
    vt = out->value_type;
    if (!strcmp(vt, "NM")) {
        out->value = part(obx, 5, 1, 1);
        if (out->value && !number_valid(out->value)) {
            out->value = as_written(p, obx, 5, "~");
            out->value_type = "ST";
            out->not_numeric = 1;
        }
    } else if (!strcmp(vt, "SN")) {
        out->value = hl7_join(p, obx, 5, 1, 1, 4, ""); /* "<^5" -> "<5", "^10^-^20" -> "10-20" */
    } else if (is(vt, text)) {
        out->value = as_written(p, obx, 5, "\n"); /* text: one line per repetition */
    } else if (is(vt, coded)) {
        out->value = coded_value(p, obx, 5);
    } else if (is(vt, single)) {
        out->value = part(obx, 5, 1, 1);
    } else if (!strcmp(vt, "CQ") || !strcmp(vt, "MO")) {
        out->value = part(obx, 5, 1, 1);
        const char *u = huren_hl7_seg_get(obx, 5, 1, 2, 1);
        const char *utext = huren_hl7_seg_get(obx, 5, 1, 2, 2);
        out->units = u && *u ? u : utext && *utext ? utext : NULL;
    } else if (!strcmp(vt, "XTN")) {
        out->value = phone_value(p, obx, 5);
    } else { /* XPN XAD XCN XON CX HD EI PL RP ED NA MA and unknown types: as written */
        out->value = as_written(p, obx, 5, "~");
    }
    if (has_value && !out->value) {
        /* nothing readable in the expected components: keep what was written */
        out->value = as_written(p, obx, 5, "~");
    }
    return p->failed ? -1 : 0;
}
