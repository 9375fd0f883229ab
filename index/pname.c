/* pname.c: person name normalisation. A PN value "Alpha=Ideographic=Phonetic" is kept whole and
 * per group, folded to lower case, in indexed columns so that a case-insensitive match on the
 * whole value or on any one group is an index lookup. */
#include "index_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Lower case of the code points whose lower case has the same UTF-8 length, which covers
 * every upper-case letter of Latin-1, Latin Extended-A, Greek, Cyrillic and full-width Latin
 * (U+0130 and the like, whose lower case is shorter, are left as they are). */
static uint32_t lower_cp(uint32_t c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3AB && c != 0x3A2) || (c >= 0x410 && c <= 0x42F) ||
        (c >= 0xFF21 && c <= 0xFF3A))
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c == 0x178)
        return 0xFF;
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;
    return c;
}

void huren_index__case_fold(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (p && *p) {
        uint32_t c;
        int n;
        if (*p < 0x80) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (unsigned char)(*p + 0x20);
            p++;
            continue;
        }
        if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            c = ((uint32_t)(*p & 0x1F) << 6) | (p[1] & 0x3F);
            n = 2;
        } else if ((*p & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            c = ((uint32_t)(*p & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            n = 3;
        } else {
            p++; /* 4-byte sequences and stray bytes: nothing to fold */
            continue;
        }
        uint32_t l = lower_cp(c);
        if (l != c && n == 2) {
            p[0] = (unsigned char)(0xC0 | (l >> 6));
            p[1] = (unsigned char)(0x80 | (l & 0x3F));
        } else if (l != c && n == 3) {
            p[0] = (unsigned char)(0xE0 | (l >> 12));
            p[1] = (unsigned char)(0x80 | ((l >> 6) & 0x3F));
            p[2] = (unsigned char)(0x80 | (l & 0x3F));
        }
        p += n;
    }
}

/* Normalised copy of s[0..n) in *out; NULL when nothing is left (a value of only spaces and
 * separators: "^^^^" is common in real files). Returns -1 only when out of memory. */
static int dup_norm(const char *s, size_t n, char **out)
{
    *out = NULL;
    /* trailing spaces and component separators carry no meaning in a PN */
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '^'))
        n--;
    if (n == 0)
        return 0;
    char *d = malloc(n + 1);
    if (!d)
        return -1;
    memcpy(d, s, n);
    d[n] = '\0';
    huren_index__case_fold(d);
    *out = d;
    return 0;
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
    if (dup_norm(value, len, &out->full) < 0)
        goto oom;
    const char *start = value;
    for (int g = 0; g < 3; g++) {
        const char *eq = strchr(start, '=');
        size_t n = eq ? (size_t)(eq - start) : strlen(start);
        /* a group of only spaces or carets normalises to NULL: that is not an error */
        if (n > 0 && dup_norm(start, n, &out->group[g]) < 0)
            goto oom;
        if (!eq)
            break;
        start = eq + 1;
    }
    return 0;
oom:
    huren_index__pname_clear(out);
    return -1;
}
