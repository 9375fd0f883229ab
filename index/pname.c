/* pname.c: person name normalisation. A PN value "Alpha=Ideographic=Phonetic" is kept whole and
 * per group, ASCII-folded to lower case, in indexed columns so that a case-insensitive match on
 * the whole value or on any one group is an index lookup. */
#include "index_int.h"

#include <stdlib.h>
#include <string.h>

void huren_index__ascii_lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static char *dup_norm(const char *s, size_t n)
{
    /* trailing spaces and component separators carry no meaning in a PN */
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '^'))
        n--;
    if (n == 0)
        return NULL;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    huren_index__ascii_lower(d);
    return d;
}

void huren_index__pname_clear(huren_index__pname *pn)
{
    free(pn->full);
    for (int g = 0; g < 3; g++)
        free(pn->group[g]);
    memset(pn, 0, sizeof(*pn));
}

int huren_index__pname_split(const char *value, huren_index__pname *out)
{
    memset(out, 0, sizeof(*out));
    if (!value || !*value)
        return 0;
    size_t len = strlen(value);
    out->full = dup_norm(value, len);
    if (!out->full)
        goto oom;
    const char *start = value;
    for (int g = 0; g < 3; g++) {
        const char *eq = strchr(start, '=');
        size_t n = eq ? (size_t)(eq - start) : strlen(start);
        if (n > 0) {
            out->group[g] = dup_norm(start, n);
            /* a group of only spaces or carets normalises to NULL: that is not an error */
        }
        if (!eq)
            break;
        start = eq + 1;
    }
    return 0;
oom:
    huren_index__pname_clear(out);
    return -1;
}
