/* fhir.c: FHIR R4 data types for the gateway's FHIR output (fhir.h): exact decimals written
 * as JSON numbers without a double in between, Money from integer fen, HL7 v2 times as FHIR
 * dateTime/instant with the hospital's UTC offset, and coding system URIs. */
#include "fhir.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal is kept in the tree as a string starting with a NUL byte: no text from the archive
 * (C strings) can hold one, so `"\u0000` in the dumped text marks our decimals only. */
#define MARK "\"\\u0000"
#define MARK_LEN 7

/* HL7 NM text ("+5", "007.50", ".5", "5.") as a FHIR decimal ("5", "7.50", "0.5", "5") in
 * out (precision kept: trailing zeros stay); -1 when it is no plain decimal number. */
static int decimal_norm(const char *s, char out[72])
{
    const char *p = s;
    size_t k = 0;
    if (*p == '-' || *p == '+')
        if (*p++ == '-')
            out[k++] = '-';
    size_t nint = strspn(p, "0123456789");
    const char *intp = p;
    p += nint;
    size_t nfrac = 0;
    const char *fracp = p;
    if (*p == '.') {
        fracp = ++p;
        nfrac = strspn(p, "0123456789");
        p += nfrac;
    }
    if (*p || (!nint && !nfrac) || nint + nfrac > 64)
        return -1;
    while (nint > 1 && *intp == '0') {
        intp++;
        nint--;
    }
    if (!nint)
        out[k++] = '0';
    memcpy(out + k, intp, nint);
    k += nint;
    if (nfrac) {
        out[k++] = '.';
        memcpy(out + k, fracp, nfrac);
        k += nfrac;
    }
    out[k] = 0;
    return 0;
}

json_t *fhir_decimal(const char *text)
{
    char buf[80];
    if (!text || strlen(text) > 66 || decimal_norm(text, buf + 1) < 0)
        return NULL;
    buf[0] = 0;
    return json_stringn(buf, strlen(buf + 1) + 1);
}

char *fhir_yuan(int64_t fen, char *buf, size_t len)
{
    unsigned long long a = fen < 0 ? (unsigned long long)(-(fen + 1)) + 1 : (unsigned long long)fen;
    snprintf(buf, len, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
    return buf;
}

json_t *fhir_money(int64_t fen)
{
    char yuan[32], f[32];
    snprintf(f, sizeof f, "%lld", (long long)fen);
    return json_pack("{s:o*, s:s, s:[{s:s, s:o*}]}", "value",
                     fhir_decimal(fhir_yuan(fen, yuan, sizeof yuan)), "currency", "CNY",
                     "extension", "url", FHIR_EXT_AMOUNT_FEN, "valueDecimal", fhir_decimal(f));
}

char *fhir_dump(const json_t *root, size_t *len)
{
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (!text)
        return NULL;
    /* `"\u0000123.45"` -> `123.45`, in place (the result is never longer) */
    char *w = text, *r = text;
    for (;;) {
        char *m = strstr(r, MARK);
        size_t keep = m ? (size_t)(m - r) : strlen(r);
        memmove(w, r, keep);
        w += keep;
        if (!m)
            break;
        r = m + MARK_LEN;
        while (*r && *r != '"')
            *w++ = *r++;
        if (*r == '"')
            r++;
    }
    *w = 0;
    if (len)
        *len = (size_t)(w - text);
    return text;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int fhir_offset_parse(const char *t, int *minutes)
{
    if (!t)
        return -1;
    if (!strcmp(t, "Z")) {
        *minutes = 0;
        return 0;
    }
    size_t n = strlen(t);
    int colon = n == 6 && t[3] == ':';
    if ((t[0] != '+' && t[0] != '-') || (n != 5 && !colon) || !digits(t + 1, 2) ||
        !digits(t + 3 + colon, 2))
        return -1;
    int h = num(t + 1, 2), m = num(t + 3 + colon, 2);
    if (m > 59 || h > 14 || (h == 14 && m) || (t[0] == '-' && h > 12))
        return -1;
    *minutes = (t[0] == '-' ? -1 : 1) * (h * 60 + m);
    return 0;
}

static void offset_text(int minutes, char out[8])
{
    int a = minutes < 0 ? -minutes : minutes;
    snprintf(out, 8, "%c%02d:%02d", minutes < 0 ? '-' : '+', (a / 60) % 100, a % 60);
}

/* The FHIR text of an HL7 time; want: 0 dateTime, 1 instant, 2 date only. */
static json_t *hl7_time(const char *v, int offset_min, int want)
{
    char out[96], off[8]; /* room for what the compiler cannot bound */
    size_t n = 0;
    while (v && isdigit((unsigned char)v[n]))
        n++;
    if (!v || (n != 4 && n != 6 && n != 8 && n != 10 && n != 12 && n != 14))
        return NULL;
    int y = num(v, 4), mo = n >= 6 ? num(v + 4, 2) : 1, d = n >= 8 ? num(v + 6, 2) : 1;
    int h = n >= 10 ? num(v + 8, 2) : 0, mi = n >= 12 ? num(v + 10, 2) : 0;
    int s = n >= 14 ? num(v + 12, 2) : 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo) || h > 23 || mi > 59 || s > 59)
        return NULL;
    const char *rest = v + n, *frac = "";
    size_t nfrac = 0;
    if (*rest == '.' && n == 14) {
        frac = rest;
        for (nfrac = 1; isdigit((unsigned char)rest[nfrac]); nfrac++)
            ;
        if (nfrac == 1 || nfrac > 5)
            return NULL;
        rest += nfrac;
    }
    if (*rest && (fhir_offset_parse(rest, &offset_min) < 0 || strlen(rest) != 5))
        return NULL;
    if (want == 1 && n < 12)
        return NULL;
    if (want == 2 || n <= 8) {
        snprintf(out, sizeof out, "%.4s%s%.2s%s%.2s", v, n >= 6 ? "-" : "", n >= 6 ? v + 4 : "",
                 n >= 8 ? "-" : "", n >= 8 ? v + 6 : "");
        return json_string(out);
    }
    offset_text(offset_min, off);
    snprintf(out, sizeof out, "%.4s-%.2s-%.2sT%02d:%02d:%02d%.*s%s", v, v + 4, v + 6, h, mi, s,
             (int)nfrac, frac, off);
    return json_string(out);
}

json_t *fhir_datetime(const char *hl7, int offset_min)
{
    return hl7_time(hl7, offset_min, 0);
}

json_t *fhir_instant(const char *hl7, int offset_min)
{
    return hl7_time(hl7, offset_min, 1);
}

json_t *fhir_date(const char *hl7)
{
    return hl7_time(hl7, 0, 2);
}

char *fhir_time_format(time_t t, int offset_min, char buf[FHIR_TIME_LEN])
{
    time_t local = t + (time_t)offset_min * 60;
    struct tm tm;
    char off[8];
    offset_text(offset_min, off);
    if (!gmtime_r(&local, &tm) || !strftime(buf, FHIR_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(buf, FHIR_TIME_LEN, "1970-01-01T00:00:00");
    size_t k = strlen(buf);
    snprintf(buf + k, FHIR_TIME_LEN - k, "%s", off);
    return buf;
}

const char *fhir_code_system(const char *s)
{
    static const struct {
        const char *hl7, *uri;
    } map[] = {
        {"LN", "http://loinc.org"},
        {"I10", "http://hl7.org/fhir/sid/icd-10"},
        {"I10C", "http://hl7.org/fhir/sid/icd-10-cm"},
        {"ICD10", "http://hl7.org/fhir/sid/icd-10"},
        {"ICD-10", "http://hl7.org/fhir/sid/icd-10"},
        {"I9C", "http://hl7.org/fhir/sid/icd-9-cm"},
        {"SCT", "http://snomed.info/sct"},
        {"SNM", "http://snomed.info/sct"},
        {"UCUM", "http://unitsofmeasure.org"},
        {"DCM", "http://dicom.nema.org/resources/ontology/DCM"},
    };
    if (!s || !*s)
        return NULL;
    if (strstr(s, ":") && !strpbrk(s, " \t\r\n"))
        return s; /* already a URI (http://..., urn:...) */
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].hl7))
            return map[i].uri;
    return NULL; /* a local coding system (99xxx, L): the code stands without a system */
}

int fhir_wanted(const char *f, const char *accept)
{
    if (f)
        return !strcmp(f, "json") || !strcmp(f, "fhir") || !strcmp(f, "application/fhir+json") ||
               !strcmp(f, "application/json+fhir");
    return accept && strcasestr(accept, "application/fhir+json") != NULL;
}

void fhir_set(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

void fhir_set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

json_t *fhir_codeable(const char *system, const char *code, const char *display)
{
    json_t *c = json_object(), *cc = json_object();
    fhir_set_str(c, "system", fhir_code_system(system));
    fhir_set_str(c, "code", code);
    fhir_set_str(c, "display", display);
    if (json_object_size(c))
        json_object_set_new(cc, "coding", json_pack("[o]", c));
    else
        json_decref(c);
    fhir_set_str(cc, "text", display);
    return cc;
}
