/* catalogue.c: the recognition catalogue's CSV reader and lookups. One item per line (RFC 4180
 * quoting, '#' comment lines, a UTF-8 BOM allowed), checked column by column so that a mistake is
 * reported as file:line: column: what; aliases map each hospital's local item codes to items. */
#include "catalogue.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NCOLS 8
static const char *const columns[NCOLS] = {"code",      "name",        "kind",     "modality",
                                           "body_part", "window_days", "hr_scope", "aliases"};

typedef struct alias {
    char *key; /* "INSTITUTION:code" or ":code" for every institution */
    const catalogue_item *item;
} alias;

struct catalogue {
    catalogue_item *items;
    size_t n, cap;
    alias *aliases;
    size_t naliases, acap;
    catalogue *older; /* replaced by this one (catalogue_retire), freed with it */
};

void catalogue_retire(catalogue *newer, catalogue *older)
{
    catalogue **end = &newer->older;
    while (*end)
        end = &(*end)->older;
    *end = older;
}

void catalogue_free(catalogue *c)
{
    if (!c)
        return;
    catalogue_free(c->older);
    for (size_t i = 0; i < c->n; i++) {
        catalogue_item *it = &c->items[i];
        free(it->code);
        free(it->name);
        free(it->kind);
        free(it->modality);
        free(it->body_part);
        free(it->hr_scope);
    }
    for (size_t i = 0; i < c->naliases; i++)
        free(c->aliases[i].key);
    free(c->items);
    free(c->aliases);
    free(c);
}

size_t catalogue_count(const catalogue *c)
{
    return c ? c->n : 0;
}

const catalogue_item *catalogue_item_at(const catalogue *c, size_t i)
{
    return c && i < c->n ? &c->items[i] : NULL;
}

int catalogue_scope_rank(const char *scope)
{
    if (!scope)
        return 0;
    return !strcmp(scope, "city")       ? 1
           : !strcmp(scope, "province") ? 2
           : !strcmp(scope, "national") ? 3
                                        : 0;
}

/* ---- CSV ---- */

/* Split one line into fields (RFC 4180: "a ""b""" is a "b"; commas inside quotes). The fields
 * are written into buf, NUL-separated. Returns the number of fields or -1 (unbalanced quote). */
int catalogue_csv_split(const char *line, char *buf, char **f, int maxf)
{
    int n = 0;
    const char *p = line;
    char *o = buf;
    for (;;) {
        if (n == maxf)
            return maxf + 1;
        f[n++] = o;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"')
                    *o++ = *p++;
                else if (*p == '"')
                    break;
                else
                    *o++ = *p;
            }
            p++;
            while (*p == ' ')
                p++;
            if (*p && *p != ',')
                return -1;
        } else {
            while (*p && *p != ',')
                *o++ = *p++;
            while (o > f[n - 1] && o[-1] == ' ')
                o--;
        }
        *o++ = 0;
        if (!*p)
            return n;
        p++; /* the comma */
    }
}

static int code_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* Text without control characters, 1..max bytes of valid UTF-8. */
static int text_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
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

/* A DICOM code string value: A-Z, 0-9, '_' and space, up to 16. */
static int cs_valid(const char *s)
{
    size_t n = strlen(s);
    if (n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
            s[i] != ' ')
            return 0;
    return 1;
}

typedef struct reader {
    catalogue *c;
    const char *path;
    int line;
    char *err;
    size_t errlen;
} reader;

__attribute__((format(printf, 3, 4))) static int fail(reader *r, int col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (col >= 0)
        snprintf(r->err, r->errlen, "%s:%d: %s: %s", r->path, r->line, columns[col], msg);
    else
        snprintf(r->err, r->errlen, "%s:%d: %s", r->path, r->line, msg);
    return -1;
}

static const catalogue_item *alias_find(const catalogue *c, const char *key, const char *kind)
{
    for (size_t i = 0; i < c->naliases; i++)
        if (!strcmp(c->aliases[i].key, key) && !strcmp(c->aliases[i].item->kind, kind))
            return c->aliases[i].item;
    return NULL;
}

/* "CT001|H37010002:CTXB01|胸部CT平扫": each alias, trimmed, for every or one institution. */
static int aliases_add(reader *r, const catalogue_item *it, char *list)
{
    catalogue *c = r->c;
    for (char *save = NULL, *a = strtok_r(list, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        while (*a == ' ')
            a++;
        char *end = a + strlen(a);
        while (end > a && end[-1] == ' ')
            *--end = 0;
        if (!*a)
            continue;
        char *colon = strchr(a, ':');
        const char *inst = colon ? a : "", *code = colon ? colon + 1 : a;
        if (colon)
            *colon = 0;
        if ((colon && !code_valid(inst, 64)) || !text_valid(code, 128))
            return fail(r, 7, "\"%s\" is not CODE or INSTITUTION:CODE", a);
        char key[256];
        snprintf(key, sizeof key, "%s:%s", inst, code);
        const catalogue_item *other = alias_find(c, key, it->kind);
        if (other)
            return fail(r, 7, "\"%s\" already stands for %s (line %d)", a, other->code,
                        other->line);
        if (c->naliases == c->acap) {
            size_t cap = c->acap ? c->acap * 2 : 64;
            alias *v = realloc(c->aliases, cap * sizeof *v);
            if (!v)
                return fail(r, -1, "out of memory");
            c->aliases = v;
            c->acap = cap;
        }
        if (!(c->aliases[c->naliases].key = strdup(key)))
            return fail(r, -1, "out of memory");
        c->aliases[c->naliases++].item = it;
    }
    return 0;
}

/* Check one item line's fields; on success the item is appended. */
static int item_add(reader *r, char **f)
{
    catalogue *c = r->c;
    if (!code_valid(f[0], 32))
        return fail(r, 0, "\"%s\" is not 1-32 of A-Z a-z 0-9 . _ -", f[0]);
    if (catalogue_by_code(c, f[0]))
        return fail(r, 0, "%s is defined twice (line %d)", f[0], catalogue_by_code(c, f[0])->line);
    if (!text_valid(f[1], 128))
        return fail(r, 1, "missing, longer than 128 bytes or not UTF-8 text");
    int imaging = !strcmp(f[2], "imaging");
    if (!imaging && strcmp(f[2], "lab") != 0)
        return fail(r, 2, "\"%s\" is not imaging or lab", f[2]);
    if (imaging && (!*f[3] || !cs_valid(f[3])))
        return fail(r, 3, "an imaging item needs a DICOM modality (CT, MR, DX, ...)");
    if (!imaging && (*f[3] || *f[4]))
        return fail(r, *f[3] ? 3 : 4, "a lab item has no modality or body part");
    if (!cs_valid(f[4]))
        return fail(r, 4, "\"%s\" is not a DICOM body part (A-Z 0-9 _)", f[4]);
    char *end;
    errno = 0;
    long days = strtol(f[5], &end, 10);
    if (errno || end == f[5] || *end || days < 1 || days > 3650)
        return fail(r, 5, "\"%s\" is not a number of days from 1 to 3650", f[5]);
    if (*f[6] && strcmp(f[6], "none") != 0 && !catalogue_scope_rank(f[6]))
        return fail(r, 6, "\"%s\" is not national, province, city or none", f[6]);
    if (c->n == CATALOGUE_MAX_ITEMS)
        return fail(r, -1, "more than %d items", CATALOGUE_MAX_ITEMS);
    catalogue_item *it = &c->items[c->n];
    memset(it, 0, sizeof *it);
    it->line = r->line;
    it->window_days = (int)days;
    if (!(it->code = strdup(f[0])) || !(it->name = strdup(f[1])) || !(it->kind = strdup(f[2])) ||
        !(it->modality = strdup(f[3])) || !(it->body_part = strdup(f[4])) ||
        !(it->hr_scope = strdup(strcmp(f[6], "none") ? f[6] : ""))) {
        c->n++; /* freed with the catalogue */
        return fail(r, -1, "out of memory");
    }
    c->n++;
    return aliases_add(r, it, f[7]);
}

static int header_check(reader *r, char **f, int n)
{
    if (n != NCOLS)
        return fail(r, -1,
                    "the first line must be the header: code,name,kind,modality,"
                    "body_part,window_days,hr_scope,aliases");
    for (int i = 0; i < NCOLS; i++)
        if (strcmp(f[i], columns[i]) != 0)
            return fail(r, -1, "header column %d is \"%s\", expected \"%s\"", i + 1, f[i],
                        columns[i]);
    return 0;
}

static int lines_read(reader *r, FILE *fp)
{
    char line[CATALOGUE_LINE_MAX + 2], buf[CATALOGUE_LINE_MAX + 2];
    char *f[NCOLS + 1];
    int header = 0;
    while (fgets(line, sizeof line, fp)) {
        r->line++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(fp))
            return fail(r, -1, "line longer than %d bytes", CATALOGUE_LINE_MAX);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *p = line;
        if (r->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
            p += 3; /* spreadsheets save UTF-8 with a BOM */
        if (!*p || *p == '#')
            continue;
        int n = catalogue_csv_split(p, buf, f, NCOLS);
        if (n < 0)
            return fail(r, -1, "unbalanced double quote");
        if (!header) {
            if (header_check(r, f, n) < 0)
                return -1;
            header = 1;
            continue;
        }
        if (n != NCOLS)
            return fail(r, -1, "%s%d columns, expected %d (%s)", n > NCOLS ? "more than " : "",
                        n > NCOLS ? NCOLS : n, NCOLS,
                        "code,name,kind,modality,body_part,window_days,hr_scope,aliases");
        if (item_add(r, f) < 0)
            return -1;
    }
    if (ferror(fp))
        return fail(r, -1, "read error");
    if (!header) {
        r->line = 0;
        return fail(r, -1, "no header line: the file is empty");
    }
    return 0;
}

int catalogue_load(const char *path, catalogue **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    catalogue *c = calloc(1, sizeof *c);
    /* items never move once aliases point at them: room for the most a file may hold */
    if (!c || !(c->items = calloc(CATALOGUE_MAX_ITEMS, sizeof *c->items))) {
        free(c);
        fclose(fp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->cap = CATALOGUE_MAX_ITEMS;
    reader r = {.c = c, .path = path, .err = err, .errlen = errlen};
    int rc = lines_read(&r, fp);
    fclose(fp);
    if (rc < 0) {
        catalogue_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* ---- lookups ---- */

const catalogue_item *catalogue_by_code(const catalogue *c, const char *code)
{
    for (size_t i = 0; c && code && i < c->n; i++)
        if (!strcmp(c->items[i].code, code))
            return &c->items[i];
    return NULL;
}

const catalogue_item *catalogue_by_local_code(const catalogue *c, const char *institution,
                                              const char *kind, const char *local_code)
{
    char key[256];
    const catalogue_item *it;
    if (!c || !kind || !local_code || !*local_code)
        return NULL;
    if (institution && *institution) {
        snprintf(key, sizeof key, "%s:%s", institution, local_code);
        if ((it = alias_find(c, key, kind)))
            return it;
    }
    snprintf(key, sizeof key, ":%s", local_code);
    if ((it = alias_find(c, key, kind)))
        return it;
    it = catalogue_by_code(c, local_code);
    return it && !strcmp(it->kind, kind) ? it : NULL;
}

/* Is v one of the '\'-separated values of list (ASCII case ignored)? */
static int list_has(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; p && *p;) {
        const char *bs = strchr(p, '\\');
        size_t len = bs ? (size_t)(bs - p) : strlen(p);
        if (len == n && strncasecmp(p, v, n) == 0)
            return 1;
        p = bs ? bs + 1 : NULL;
    }
    return 0;
}

const catalogue_item *catalogue_by_exam(const catalogue *c, const char *modalities,
                                        const char *body_parts)
{
    for (size_t i = 0; c && modalities && body_parts && i < c->n; i++) {
        const catalogue_item *it = &c->items[i];
        if (!strcmp(it->kind, "imaging") && *it->body_part && list_has(modalities, it->modality) &&
            list_has(body_parts, it->body_part))
            return it;
    }
    return NULL;
}
