/* match.c: one query condition to SQL. Translates a huren_index_match by its field's kind
 * (text and wildcards, person names, date/time ranges, UID lists, multi-valued any-of) into a
 * parameterised condition: values only ever travel as bound parameters, never as SQL text. */
#include "index_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_LIST_MAX 4096

void huren_index__params_free(huren_index__params *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* Take ownership of s (NULL = out of memory) and return its 1-based parameter number or 0. */
static size_t param_take(huren_index__params *p, char *s)
{
    if (!s)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **v = realloc(p->v, cap * sizeof(*v));
        if (!v) {
            free(s);
            return 0;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return p->n;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int has_wildcard(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?')
            return 1;
    return 0;
}

/* DICOM '*' and '?' are GLOB's own; the only other GLOB special outside a set is '[' */
static char *glob_pattern(const char *s, size_t n)
{
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += s[i] == '[' ? 2 : 0;
    char *d = malloc(n + extra + 1), *o = d;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '[') {
            memcpy(o, "[[]", 3);
            o += 3;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return d;
}

/* "col = ?N" or "col GLOB ?N" for one text alternative; lower folds case first. */
static int text_term(huren_buf *w, huren_index__params *p, const char *col, const char *v, size_t n,
                     int lower)
{
    int wild = has_wildcard(v, n);
    char *s = wild ? glob_pattern(v, n) : dupn(v, n);
    if (s && lower)
        huren_index__case_fold(s);
    size_t k = param_take(p, s);
    if (!k)
        return HUREN_INDEX_ERROR;
    huren_buf_printf(w, "%s %s ?%zu", col, wild ? "GLOB" : "=", k);
    return 0;
}

static int pn_cond(huren_buf *w, huren_index__params *p, const char *alias, const char *name,
                   const char *v)
{
    static const char *const cols[] = {"norm", "alpha", "ideo", "phon"};
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '^'))
        n--; /* as stored (pname.c) */
    int wild = has_wildcard(v, n);
    char *s = wild ? glob_pattern(v, n) : dupn(v, n);
    if (s)
        huren_index__case_fold(s);
    size_t k = param_take(p, s);
    if (!k)
        return HUREN_INDEX_ERROR;
    huren_buf_adds(w, "(");
    for (int c = 0; c < 4; c++)
        huren_buf_printf(w, "%s%s.%s_%s %s ?%zu", c ? " OR " : "", alias, name, cols[c],
                         wild ? "GLOB" : "=", k);
    huren_buf_adds(w, ")");
    return 0;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int date_ok(const char *s, size_t n)
{
    return n == 8 && digits(s, 8) && two(s + 4) >= 1 && two(s + 4) <= 12 && two(s + 6) >= 1 &&
           two(s + 6) <= 31;
}

/* HH, HHMM or HHMMSS, then optionally '.' and 1-6 digits */
static int time_ok(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    size_t hn = dot ? (size_t)(dot - s) : n;
    if ((hn != 2 && hn != 4 && hn != 6) || !digits(s, hn))
        return 0;
    if (two(s) > 23 || (hn >= 4 && two(s + 2) > 59) || (hn == 6 && two(s + 4) > 60))
        return 0;
    if (dot) {
        size_t fn = n - hn - 1;
        return hn == 6 && fn >= 1 && fn <= 6 && digits(dot + 1, fn);
    }
    return 1;
}

static int range_cond(const huren_index *idx, huren_buf *w, huren_index__params *p, const char *col,
                      const char *name, const char *v, int is_time)
{
    const char *dash = strchr(v, '-');
    size_t n = strlen(v);
    int (*ok)(const char *, size_t) = is_time ? time_ok : date_ok;
    if (dash && strchr(dash + 1, '-'))
        goto bad;
    if (!dash) {
        if (!ok(v, n))
            goto bad;
        size_t k = param_take(p, dupn(v, n));
        if (!k)
            return HUREN_INDEX_ERROR;
        huren_buf_printf(w, "%s = ?%zu", col, k);
        return 0;
    }
    size_t lon = (size_t)(dash - v), hin = n - lon - 1;
    const char *hi = dash + 1;
    if ((lon == 0 && hin == 0) || (lon && !ok(v, lon)) || (hin && !ok(hi, hin)))
        goto bad;
    huren_buf_adds(w, "(");
    if (lon) {
        size_t k = param_take(p, dupn(v, lon));
        if (!k)
            return HUREN_INDEX_ERROR;
        huren_buf_printf(w, "%s >= ?%zu", col, k);
    }
    if (hin) {
        /* an upper time bound is inclusive at its precision: "-1200" includes 12:00:59.9 */
        char *s = dupn(hi, hin + 1);
        if (s)
            s[hin] = is_time ? '~' : '\0';
        size_t k = param_take(p, s);
        if (!k)
            return HUREN_INDEX_ERROR;
        huren_buf_printf(w, "%s%s <= ?%zu", lon ? " AND " : "", col, k);
    }
    huren_buf_adds(w, ")");
    return 0;
bad:
    huren_index__seterr(idx, "%s: malformed %s or range \"%s\"", name, is_time ? "time" : "date",
                        v);
    return HUREN_INDEX_EINVAL;
}

static int uid_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return 0;
    return 1;
}

static int uid_cond(const huren_index *idx, huren_buf *w, huren_index__params *p, const char *col,
                    const char *name, const char *v)
{
    size_t count = 0;
    huren_buf_printf(w, "%s IN (", col);
    for (const char *s = v; s; count++) {
        const char *bs = strchr(s, '\\');
        size_t n = bs ? (size_t)(bs - s) : strlen(s);
        if (!uid_ok(s, n) || count >= UID_LIST_MAX) {
            huren_index__seterr(idx, "%s: malformed UID or list \"%.*s\"", name,
                                (int)(n > 80 ? 80 : n), s);
            return HUREN_INDEX_EINVAL;
        }
        size_t k = param_take(p, dupn(s, n));
        if (!k)
            return HUREN_INDEX_ERROR;
        huren_buf_printf(w, "%s?%zu", count ? "," : "", k);
        s = bs ? bs + 1 : NULL;
    }
    huren_buf_adds(w, ")");
    return 0;
}

/* "(col = ?1 OR col GLOB ?2 ...)" for a list of text alternatives separated by backslashes. */
static int alternatives(const huren_index *idx, huren_buf *w, huren_index__params *p,
                        const char *col, const char *name, const char *v)
{
    int first = 1, rc;
    for (const char *s = v; s;) {
        const char *bs = strchr(s, '\\');
        size_t n = bs ? (size_t)(bs - s) : strlen(s);
        if (n == 0) {
            huren_index__seterr(idx, "%s: empty value in list", name);
            return HUREN_INDEX_EINVAL;
        }
        huren_buf_adds(w, first ? "(" : " OR ");
        if ((rc = text_term(w, p, col, s, n, 0)) < 0)
            return rc;
        first = 0;
        s = bs ? bs + 1 : NULL;
    }
    huren_buf_adds(w, ")");
    return 0;
}

/* Multi-valued fields are kept one value per row in a side table (or, for modalities, in the
 * series), so "any stored value matches any alternative" is an indexed IN (subquery). */
static int multi_cond(const huren_index *idx, huren_buf *w, huren_index__params *p,
                      huren_index_field f, const char *v)
{
    const char *head, *col;
    switch (f) {
    case HUREN_INDEX_F_OTHER_PATIENT_IDS:
        head = "p.pk IN (SELECT patient_pk FROM patient_other_ids WHERE ";
        col = "other_id";
        break;
    case HUREN_INDEX_F_MODALITIES_IN_STUDY:
        head = "st.pk IN (SELECT study_pk FROM series WHERE ";
        col = "modality";
        break;
    case HUREN_INDEX_F_SOP_CLASSES_IN_STUDY:
        head = "st.pk IN (SELECT study_pk FROM study_sop_classes WHERE ";
        col = "sop_class";
        break;
    default:
        huren_index__seterr(idx, "%s: no multi-valued matching", huren_index_field_name(f));
        return HUREN_INDEX_EINVAL;
    }
    huren_buf_adds(w, head);
    int rc = alternatives(idx, w, p, col, huren_index_field_name(f), v);
    huren_buf_adds(w, ")");
    return rc;
}

static int all_stars(const char *v)
{
    for (; *v; v++)
        if (*v != '*')
            return 0;
    return 1;
}

int huren_index__match_sql(const huren_index *idx, const huren_index_match *m, huren_buf *where,
                           huren_index__params *params)
{
    const huren_index__field_def *d = huren_index__field(m->field);
    char col[96];
    if (!d) {
        huren_index__seterr(idx, "unknown field %d", (int)m->field);
        return HUREN_INDEX_EINVAL;
    }
    /* empty and "*" are universal matching: no condition */
    if (!m->value || all_stars(m->value))
        return 0;
    if (strlen(m->value) > HUREN_INDEX__VALUE_MAX) {
        huren_index__seterr(idx, "%s: value too long", d->name);
        return HUREN_INDEX_EINVAL;
    }
    snprintf(col, sizeof(col), "%s.\"%s\"", d->alias, d->name);
    huren_buf_adds(where, " AND ");
    switch (d->kind) {
    case HUREN_INDEX_KIND_TEXT:
        /* a list of values (DICOM's backslash) matches any one of them */
        return alternatives(idx, where, params, col, d->name, m->value);
    case HUREN_INDEX_KIND_PN:
        return pn_cond(where, params, d->alias, d->name, m->value);
    case HUREN_INDEX_KIND_DATE:
        return range_cond(idx, where, params, col, d->name, m->value, 0);
    case HUREN_INDEX_KIND_TIME:
        return range_cond(idx, where, params, col, d->name, m->value, 1);
    case HUREN_INDEX_KIND_UID:
        return uid_cond(idx, where, params, col, d->name, m->value);
    case HUREN_INDEX_KIND_MULTI:
        return multi_cond(idx, where, params, m->field, m->value);
    default:
        huren_index__seterr(idx, "%s: a computed count cannot be matched", d->name);
        return HUREN_INDEX_EINVAL;
    }
}
