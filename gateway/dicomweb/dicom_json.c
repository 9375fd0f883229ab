/* dicom_json.c: archive text values to DICOM JSON attributes (PS3.18 F.2.3): VR to JSON type,
 * person names to their component groups, '\' to arrays. Used by QIDO-RS and STOW-RS. */
#include "dicom_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dicom_json_key(uint32_t tag, char buf[9])
{
    snprintf(buf, 9, "%08X", tag);
    return buf;
}

static int vr_is(const char *vr, const char *list)
{
    for (const char *p = list; *p; p += 3)
        if (p[0] == vr[0] && p[1] == vr[1])
            return 1;
    return 0;
}

/* One PN value "Alpha=Ideo=Phon" as {"Alphabetic":..., "Ideographic":..., "Phonetic":...}. */
static json_t *pn_value(const char *v, size_t len)
{
    static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
    json_t *o = json_object();
    const char *p = v, *end = v + len;
    for (int g = 0; g < 3 && o && p <= end; g++) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *ge = eq ? eq : end;
        if (ge > p)
            json_object_set_new(o, groups[g], json_stringn(p, (size_t)(ge - p)));
        if (!eq)
            break;
        p = eq + 1;
    }
    return o;
}

static json_t *one_value(const char *vr, const char *v, size_t len)
{
    char buf[64];
    if (vr_is(vr, "IS US UL SS SL SV UV ") || vr_is(vr, "DS FL FD ")) {
        while (len && *v == ' ')
            v++, len--;
        while (len && v[len - 1] == ' ')
            len--;
        if (len == 0 || len >= sizeof buf)
            return json_null();
        memcpy(buf, v, len);
        buf[len] = 0;
        char *e;
        if (vr_is(vr, "DS FL FD ")) {
            double d = strtod(buf, &e);
            return *e ? json_null() : json_real(d);
        }
        long long n = strtoll(buf, &e, 10);
        return *e ? json_null() : json_integer(n);
    }
    if (vr[0] == 'P' && vr[1] == 'N')
        return len ? pn_value(v, len) : json_null();
    return json_stringn(v, len);
}

int dicom_json_put(json_t *obj, uint32_t tag, const char *vr, const char *value)
{
    char key[9];
    json_t *attr = json_pack("{s:s}", "vr", vr);
    if (!attr)
        return -1;
    if (value && value[0]) {
        json_t *arr = json_array();
        /* UR, UT, ST, LT hold one value that may contain '\' */
        int single = vr_is(vr, "UR UT ST LT ");
        for (const char *p = value;;) {
            const char *bs = single ? NULL : strchr(p, '\\');
            size_t len = bs ? (size_t)(bs - p) : strlen(p);
            json_array_append_new(arr, one_value(vr, p, len));
            if (!bs)
                break;
            p = bs + 1;
        }
        json_object_set_new(attr, "Value", arr);
    }
    return json_object_set_new(obj, dicom_json_key(tag, key), attr);
}

int dicom_json_put_int(json_t *obj, uint32_t tag, const char *vr, long long v)
{
    char key[9];
    json_t *attr = json_pack("{s:s, s:[I]}", "vr", vr, "Value", (json_int_t)v);
    return attr ? json_object_set_new(obj, dicom_json_key(tag, key), attr) : -1;
}

int dicom_json_put_seq(json_t *obj, uint32_t tag, json_t *items)
{
    char key[9];
    json_t *attr = json_pack("{s:s, s:o}", "vr", "SQ", "Value", items);
    return attr ? json_object_set_new(obj, dicom_json_key(tag, key), attr) : -1;
}
