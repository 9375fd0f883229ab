/* reference.c: the reference tables of reference.h: one descriptor per column (what it must
 * hold), a reader that reports every bad line, the lookups, and the folder they are kept in. */
#include "reference.h"
#include "catalogue.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COLS 8
#define LINE_MAX_BYTES 8192

typedef enum col_type {
    C_CODE,
    C_TEXT,
    C_OPT_TEXT,
    C_DATE,
    C_DAYS,
    C_SCOPE,
    C_LIST,
    C_YEAR,
    C_OWN
} col_type;

typedef struct col_desc {
    const char *name;
    col_type type;
} col_desc;

typedef struct kind_desc {
    const char *name, *header;
    int ncols;
    col_desc cols[MAX_COLS];
} kind_desc;

static const kind_desc kinds[REF_NKINDS] = {
    {"catalogue",
     "code,name,group,valid_from,valid_to,window_days,scope,issuers",
     8,
     {{"code", C_CODE},
      {"name", C_TEXT},
      {"group", C_OPT_TEXT},
      {"valid_from", C_DATE},
      {"valid_to", C_DATE},
      {"window_days", C_DAYS},
      {"scope", C_SCOPE},
      {"issuers", C_LIST}}},
    {"institutions",
     "code,name,short_name,city,class,ownership",
     6,
     {{"code", C_CODE},
      {"name", C_TEXT},
      {"short_name", C_OPT_TEXT},
      {"city", C_TEXT},
      {"class", C_TEXT},
      {"ownership", C_OWN}}},
    {"qc",
     "institution,item,year,scheme,passed_from,passed_to",
     6,
     {{"institution", C_CODE},
      {"item", C_CODE},
      {"year", C_YEAR},
      {"scheme", C_TEXT},
      {"passed_from", C_DATE},
      {"passed_to", C_DATE}}},
};

struct ref_table {
    ref_kind kind;
    long version;
    size_t n, cap;
    char **cells; /* n * ncols, each malloc'd */
};

const char *ref_kind_name(ref_kind k)
{
    return k < REF_NKINDS ? kinds[k].name : "?";
}

const char *ref_header(ref_kind k)
{
    return k < REF_NKINDS ? kinds[k].header : "";
}

int ref_kind_parse(const char *s, ref_kind *k)
{
    for (int i = 0; s && i < REF_NKINDS; i++)
        if (!strcmp(s, kinds[i].name)) {
            *k = (ref_kind)i;
            return 0;
        }
    return -1;
}

void ref_table_free(ref_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n * (size_t)kinds[t->kind].ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

ref_kind ref_table_kind(const ref_table *t)
{
    return t->kind;
}

long ref_table_version(const ref_table *t)
{
    return t ? t->version : 0;
}

size_t ref_table_rows(const ref_table *t)
{
    return t ? t->n : 0;
}

const char *ref_cell(const ref_table *t, size_t row, int col)
{
    if (!t || row >= t->n || col < 0 || col >= kinds[t->kind].ncols)
        return "";
    return t->cells[row * (size_t)kinds[t->kind].ncols + (size_t)col];
}

long ref_find(const ref_table *t, int col, const char *value)
{
    for (size_t i = 0; t && value && i < t->n; i++)
        if (!strcmp(ref_cell(t, i, col), value))
            return (long)i;
    return -1;
}

int ref_list_has(const char *list, const char *v)
{
    size_t n = v ? strlen(v) : 0;
    for (const char *p = list; n && p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* ---- checking ---- */

static int utf8_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = *p < 0x80         ? 1
                  : (*p >> 5) == 6  ? 2
                  : (*p >> 4) == 14 ? 3
                  : (*p >> 3) == 30 ? 4
                                    : 0;
        if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f)))
            return 0;
        for (int k = 1; k < len; k++)
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        p += len;
    }
    return 1;
}

static int is_code(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

static int is_date(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    int y = atoi((char[]){s[0], s[1], s[2], s[3], 0}), m = (s[4] - '0') * 10 + s[5] - '0',
        d = (s[6] - '0') * 10 + s[7] - '0';
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] &&
           !(m == 2 && d == 29 && !leap);
}

static int is_number(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !errno && !*end && v >= lo && v <= hi;
}

/* What is wrong with value v of a column of type t, or NULL. */
static const char *cell_problem(col_type t, const char *v)
{
    switch (t) {
    case C_CODE:
        return is_code(v) ? NULL : "not 1-64 of A-Z a-z 0-9 . _ -";
    case C_TEXT:
        return *v && utf8_text(v, 200) ? NULL : "missing, longer than 200 bytes or not UTF-8 text";
    case C_OPT_TEXT:
        return utf8_text(v, 200) ? NULL : "longer than 200 bytes or not UTF-8 text";
    case C_DATE:
        return !*v || is_date(v) ? NULL : "not a date YYYYMMDD";
    case C_DAYS:
        return is_number(v, 1, 3650) ? NULL : "not a number of days from 1 to 3650";
    case C_SCOPE:
        return catalogue_scope_rank(v) ? NULL : "not city, province or national";
    case C_LIST:
        return utf8_text(v, 200) ? NULL : "not a '|'-separated list of classes";
    case C_YEAR:
        return is_number(v, 1990, 2200) ? NULL : "not a year";
    case C_OWN:
        return !strcmp(v, "public") || !strcmp(v, "private") ? NULL : "not public or private";
    }
    return "?";
}

typedef struct parser {
    ref_table *t;
    const kind_desc *d;
    int line, nerr;
    char *err;
    size_t errlen, used;
} parser;

__attribute__((format(printf, 2, 3))) static void problem(parser *p, const char *fmt, ...)
{
    if (p->nerr++ >= REF_MAX_ERRORS || p->used + 1 >= p->errlen)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int w = snprintf(p->err + p->used, p->errlen - p->used, "%sline %d: %s", p->used ? "\n" : "",
                     p->line, msg);
    if (w > 0)
        p->used = p->used + (size_t)w < p->errlen ? p->used + (size_t)w : p->errlen - 1;
}

/* Cross-column rules: a row's dates in order, no key given twice. */
static void row_rules(parser *p, char **f)
{
    const ref_table *t = p->t;
    if (t->kind == REF_CATALOGUE) {
        if (*f[REF_CAT_VALID_FROM] && *f[REF_CAT_VALID_TO] &&
            strcmp(f[REF_CAT_VALID_FROM], f[REF_CAT_VALID_TO]) > 0)
            problem(p, "valid_to: before valid_from");
        if (ref_find(t, REF_CAT_CODE, f[REF_CAT_CODE]) >= 0)
            problem(p, "code: %s is given twice", f[REF_CAT_CODE]);
    } else if (t->kind == REF_INSTITUTIONS) {
        if (ref_find(t, REF_INST_CODE, f[REF_INST_CODE]) >= 0)
            problem(p, "code: %s is given twice", f[REF_INST_CODE]);
    } else if (!*f[REF_QC_FROM] || !*f[REF_QC_TO]) {
        problem(p, "%s: a QC pass needs both dates", *f[REF_QC_FROM] ? "passed_to" : "passed_from");
    } else if (strcmp(f[REF_QC_FROM], f[REF_QC_TO]) > 0) {
        problem(p, "passed_to: before passed_from");
    }
}

static int row_add(parser *p, char **f)
{
    ref_table *t = p->t;
    int nc = p->d->ncols;
    if (t->n == REF_MAX_ROWS) {
        problem(p, "more than %d rows", REF_MAX_ROWS);
        return -1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **v = realloc(t->cells, cap * (size_t)nc * sizeof *v);
        if (!v)
            return -1;
        t->cells = v;
        t->cap = cap;
    }
    for (int i = 0; i < nc; i++)
        if (!(t->cells[t->n * (size_t)nc + (size_t)i] = strdup(f[i]))) {
            for (int k = 0; k < i; k++)
                free(t->cells[t->n * (size_t)nc + (size_t)k]);
            return -1;
        }
    t->n++;
    return 0;
}

/* One line (without its end): a comment, the header, or a row. */
static int line_take(parser *p, char *line, int *header)
{
    char buf[LINE_MAX_BYTES + 1], *f[MAX_COLS + 1];
    if (!*header && !strncmp(line, "\xEF\xBB\xBF", 3))
        line += 3; /* spreadsheets save UTF-8 with a BOM */
    if (!strncmp(line, "# version:", 10)) {
        p->t->version = strtol(line + 10, NULL, 10);
        return 0;
    }
    if (!*line || *line == '#')
        return 0;
    int n = catalogue_csv_split(line, buf, f, p->d->ncols);
    if (n < 0)
        return problem(p, "unbalanced double quote"), 0;
    if (!*header) {
        char hdr[256];
        hdr[0] = 0;
        for (int i = 0; i < n && i < p->d->ncols; i++)
            snprintf(hdr + strlen(hdr), sizeof hdr - strlen(hdr), "%s%s", i ? "," : "", f[i]);
        *header = 1;
        if (n != p->d->ncols || strcmp(hdr, p->d->header))
            problem(p, "the header must be %s", p->d->header);
        return 0;
    }
    if (n != p->d->ncols)
        return problem(p, "%d columns, expected %d (%s)", n, p->d->ncols, p->d->header), 0;
    int bad = p->nerr;
    for (int i = 0; i < n; i++) {
        const char *why = cell_problem(p->d->cols[i].type, f[i]);
        if (why)
            problem(p, "%s: \"%.60s\" %s", p->d->cols[i].name, f[i], why);
    }
    if (p->nerr == bad)
        row_rules(p, f);
    if (p->nerr == bad && row_add(p, f) < 0)
        return -1;
    return 0;
}

int ref_table_parse(ref_kind k, const char *data, size_t len, ref_table **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    err[0] = 0;
    if (k >= REF_NKINDS || len > REF_MAX_BYTES) {
        snprintf(err, errlen, "line 0: %s",
                 len > REF_MAX_BYTES ? "file too large" : "unknown kind");
        return -1;
    }
    ref_table *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->kind = k;
    parser p = {.t = t, .d = &kinds[k], .err = err, .errlen = errlen};
    int header = 0;
    char line[LINE_MAX_BYTES + 1];
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        p.line++;
        if (n > LINE_MAX_BYTES) {
            problem(&p, "longer than %d bytes", LINE_MAX_BYTES);
        } else {
            memcpy(line, data + pos, n);
            line[n] = 0;
            int nul = memchr(line, 0, n) != NULL;
            if (n && line[n - 1] == '\r')
                line[n - 1] = 0;
            if (nul)
                problem(&p, "a NUL byte");
            else if (line_take(&p, line, &header) < 0) {
                snprintf(err, errlen, "out of memory");
                ref_table_free(t);
                return -1;
            }
        }
        pos += n + (nl ? 1 : 0);
    }
    if (!header) {
        p.line = 0;
        problem(&p, "no header line: the file is empty (expected %s)", kinds[k].header);
    }
    if (p.nerr > REF_MAX_ERRORS && p.used + 40 < errlen)
        snprintf(err + p.used, errlen - p.used, "\n... %d problems in all", p.nerr);
    if (p.nerr) {
        ref_table_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
