/* prices.c: the hospital's price list for the savings of recognition (节约费用): the price of
 * each catalogue item not ordered again, from [recognition] prices (CSV: item,price in yuan
 * with at most two decimals, e.g. 178.50). Held as integer fen, parsed without floating point,
 * so that sums are exact to the fen. Loaded once at start, immutable afterwards. */
#include "recognition_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRICES_MAX 20000
#define FEN_MAX 100000000000LL /* 1e9 yuan: far above any examination */

int rec_fen_parse(const char *s, int64_t *fen)
{
    int64_t yuan = 0, cents = 0;
    int digits = 0, decimals = 0;
    const char *p = s;
    if (!s || !*s)
        return -1;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        yuan = yuan * 10 + (*p - '0');
        if (yuan > FEN_MAX / 100)
            return -1;
    }
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p) && decimals < 3; p++, decimals++)
            cents = cents * 10 + (*p - '0');
    if (*p || !digits || decimals > 2 || (decimals == 0 && p[-1] == '.'))
        return -1;
    *fen = yuan * 100 + (decimals == 1 ? cents * 10 : cents);
    return 0;
}

void rec_fen_format(int64_t fen, char out[32])
{
    snprintf(out, 32, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)(fen < 0 ? -fen : fen) / 100,
             (long long)(fen < 0 ? -fen : fen) % 100);
}

int rec_prices_load(recognition *rec, const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return 0;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return snprintf(err, errlen, "%s: cannot open it", path), -1;
    char line[1024], buf[1024], *f[3];
    int lineno = 0, header = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *p = !strncmp(line, "\xEF\xBB\xBF", 3) ? line + 3 : line;
        if (!*p || *p == '#')
            continue;
        int n = catalogue_csv_split(p, buf, f, 2);
        int64_t fen;
        if (!header) {
            header = 1;
            if (n != 2 || strcmp(f[0], "item") || strcmp(f[1], "price"))
                rc = -1,
                snprintf(err, errlen, "%s:%d: the header must be item,price", path, lineno);
        } else if (n != 2 || !*f[0] || rec_fen_parse(f[1], &fen) < 0) {
            rc = -1;
            snprintf(err, errlen, "%s:%d: item,price (yuan, at most two decimals) expected", path,
                     lineno);
        } else if (rec_price_fen(rec, f[0]) >= 0) {
            rc = -1;
            snprintf(err, errlen, "%s:%d: %s is priced twice", path, lineno, f[0]);
        } else if (rec->nprices == PRICES_MAX) {
            rc = -1;
            snprintf(err, errlen, "%s:%d: more than %d prices", path, lineno, PRICES_MAX);
        } else {
            char **c = realloc(rec->price_items, (rec->nprices + 1) * sizeof *c);
            int64_t *v = c ? realloc(rec->price_fen, (rec->nprices + 1) * sizeof *v) : NULL;
            if (c)
                rec->price_items = c;
            if (v)
                rec->price_fen = v;
            if (!c || !v || !(c[rec->nprices] = strdup(f[0]))) {
                rc = -1;
                snprintf(err, errlen, "out of memory");
            } else {
                v[rec->nprices++] = fen;
            }
        }
    }
    fclose(fp);
    return rc;
}

void rec_prices_free(recognition *rec)
{
    for (size_t i = 0; i < rec->nprices; i++)
        free(rec->price_items[i]);
    free(rec->price_items);
    free(rec->price_fen);
    rec->price_items = NULL;
    rec->price_fen = NULL;
    rec->nprices = 0;
}

int64_t rec_price_fen(const recognition *rec, const char *item)
{
    for (size_t i = 0; rec && item && i < rec->nprices; i++)
        if (!strcmp(rec->price_items[i], item))
            return rec->price_fen[i];
    return -1;
}
