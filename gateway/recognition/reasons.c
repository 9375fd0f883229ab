/* reasons.c: the platform's reason list for a result not recognised, as a code table
 * ([recognition] reasons, conf/recognition-reasons.csv: code,name_zh,name_en); without one,
 * the national default list of rules.c. Loaded once at start, immutable afterwards; served
 * at GET /api/v1/recognition/reasons for the page and the HIS. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "recognition.h"
#include "recognition_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASONS_MAX 200

static int code_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int add(recognition *rec, const char *code, const char *zh, const char *en)
{
    size_t n = rec->nreasons;
    if (n == REASONS_MAX)
        return -1;
    char **c = realloc(rec->reason_codes, (n + 2) * sizeof *c);
    if (!c)
        return -1;
    rec->reason_codes = c;
    char **z = realloc(rec->reason_zh, (n + 1) * sizeof *z);
    if (!z)
        return -1;
    rec->reason_zh = z;
    char **e = realloc(rec->reason_en, (n + 1) * sizeof *e);
    if (!e)
        return -1;
    rec->reason_en = e;
    c[n] = strdup(code);
    z[n] = strdup(zh);
    e[n] = strdup(en);
    c[n + 1] = NULL;
    rec->nreasons = n + 1;
    return c[n] && z[n] && e[n] ? 0 : -1;
}

int rec_reasons_load(recognition *rec, const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        for (int i = 0; rec_reasons[i]; i++)
            if (add(rec, rec_reasons[i], "", "") < 0)
                return snprintf(err, errlen, "out of memory"), -1;
        return 0;
    }
    FILE *fp = fopen(path, "r");
    if (!fp)
        return snprintf(err, errlen, "%s: cannot open it", path), -1;
    char line[2048], buf[2048], *f[4];
    int lineno = 0, header = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *p = !strncmp(line, "\xEF\xBB\xBF", 3) ? line + 3 : line;
        if (!*p || *p == '#')
            continue;
        int n = catalogue_csv_split(p, buf, f, 3);
        if (!header) {
            header = 1;
            if (n != 3 || strcmp(f[0], "code") || strcmp(f[1], "name_zh") ||
                strcmp(f[2], "name_en"))
                rc = snprintf(err, errlen, "%s:%d: the header must be code,name_zh,name_en", path,
                              lineno) *
                         0 -
                     1;
            continue;
        }
        if (n != 3 || !code_ok(f[0]) || !*f[1])
            rc = snprintf(err, errlen, "%s:%d: code (a-z 0-9 _), name_zh, name_en expected", path,
                          lineno) *
                     0 -
                 1;
        else if (rec_reason_in((const char *const *)rec->reason_codes, f[0]))
            rc = snprintf(err, errlen, "%s:%d: %s is given twice", path, lineno, f[0]) * 0 - 1;
        else if (add(rec, f[0], f[1], f[2]) < 0)
            rc = snprintf(err, errlen, "%s:%d: too many reasons", path, lineno) * 0 - 1;
    }
    fclose(fp);
    if (rc == 0 && !rec->nreasons)
        rc = snprintf(err, errlen, "%s: no reasons", path) * 0 - 1;
    return rc;
}

void rec_reasons_free(recognition *rec)
{
    for (size_t i = 0; i < rec->nreasons; i++) {
        free(rec->reason_codes[i]);
        free(rec->reason_zh[i]);
        free(rec->reason_en[i]);
    }
    free(rec->reason_codes);
    free(rec->reason_zh);
    free(rec->reason_en);
    rec->nreasons = 0;
}

int api_recognition_reasons(http_request *req, http_response *res)
{
    node *n = req->app;
    recognition *rec = n->recognition;
    if (!rec)
        return http_reply_error(res, 503, "recognition is not configured");
    json_t *a = json_array();
    for (size_t i = 0; i < rec->nreasons; i++)
        json_array_append_new(a,
                              json_pack("{s:s, s:s, s:s}", "code", rec->reason_codes[i], "name_zh",
                                        rec->reason_zh[i], "name_en", rec->reason_en[i]));
    json_t *o = json_pack("{s:o, s:s}", "reasons", a, "source",
                          *rec->cfg->rec_reasons ? rec->cfg->rec_reasons : "national default");
    int rc = http_reply_json(res, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
    return rc;
}
