/* message.c: read access to a parsed message: header values, segments in order, and values
 * by position (field, repetition, component, sub-component). Everything was unescaped by
 * parse.c, so these only locate a leaf in the text and return its decoded copy. */
#include <string.h>

#include "hl7_int.h"

/* The n-th (1-based) part of text[a..b) split on sep, as [*ra, *rb); -1 if there are fewer. */
static int nth_part(const char *text, size_t a, size_t b, char sep, int n, size_t *ra, size_t *rb)
{
    const char *p;

    while (--n > 0) {
        p = memchr(text + a, sep, b - a);
        if (p == NULL)
            return -1;
        a = (size_t)(p - text) + 1;
    }
    p = memchr(text + a, sep, b - a);
    *ra = a;
    *rb = p ? (size_t)(p - text) : b;
    return 0;
}

static int count_parts(const char *text, size_t a, size_t b, char sep)
{
    int n = 1;

    if (a == b)
        return 0;
    for (; a < b; a++)
        n += text[a] == sep;
    return n;
}

static int is_msh(const huren_hl7_seg *seg)
{
    return strcmp(seg->name, "MSH") == 0;
}

/* The field's range; for MSH, field k >= 3 is part k-1 (MSH-1 is the separator itself). */
static int locate_field(const huren_hl7_seg *seg, int field, size_t *a, size_t *b)
{
    const huren_hl7_msg *msg = seg->msg;
    int part = is_msh(seg) ? field - 1 : field;

    if (field < 1 || (is_msh(seg) && field < 3))
        return -1;
    return nth_part(msg->text, seg->off, seg->off + seg->len, msg->delims[HL7_FSEP], part + 1, a,
                    b);
}

int huren_hl7__locate(const huren_hl7_seg *seg, int field, int rep, int comp, int sub, size_t *a,
                      size_t *b)
{
    const huren_hl7_msg *msg = seg->msg;

    if (rep < 1 || comp < 1 || sub < 1 || locate_field(seg, field, a, b) < 0)
        return -1;
    if (nth_part(msg->text, *a, *b, msg->delims[HL7_RSEP], rep, a, b) < 0 ||
        nth_part(msg->text, *a, *b, msg->delims[HL7_CSEP], comp, a, b) < 0 ||
        nth_part(msg->text, *a, *b, msg->delims[HL7_SSEP], sub, a, b) < 0)
        return -1;
    return 0;
}

const char *huren_hl7_seg_get(const huren_hl7_seg *seg, int field, int rep, int comp, int sub)
{
    size_t a, b;

    if (seg == NULL)
        return NULL;
    if (is_msh(seg) && (field == 1 || field == 2))
        return rep == 1 && comp == 1 && sub == 1
                   ? (field == 1 ? seg->msg->fsep_str : seg->msg->delims + 1)
                   : NULL;
    if (huren_hl7__locate(seg, field, rep, comp, sub, &a, &b) < 0)
        return NULL;
    return seg->msg->out + 2 * a;
}

int huren_hl7_seg_is_null(const huren_hl7_seg *seg, int field, int rep, int comp, int sub)
{
    size_t a, b;

    if (seg == NULL || huren_hl7__locate(seg, field, rep, comp, sub, &a, &b) < 0)
        return 0;
    return b - a == 2 && memcmp(seg->msg->text + a, "\"\"", 2) == 0;
}

const char *huren_hl7_seg_raw(const huren_hl7_seg *seg, int field, size_t *len)
{
    size_t a, b;

    *len = 0;
    if (seg == NULL)
        return NULL;
    if (is_msh(seg) && (field == 1 || field == 2)) {
        *len = field == 1 ? 1 : 4;
        return field == 1 ? seg->msg->fsep_str : seg->msg->delims + 1;
    }
    if (locate_field(seg, field, &a, &b) < 0)
        return NULL;
    *len = b - a;
    return seg->msg->text + a;
}

const char *huren_hl7_seg_name(const huren_hl7_seg *seg)
{
    return seg ? seg->name : NULL;
}

int huren_hl7_seg_field_count(const huren_hl7_seg *seg)
{
    int n;

    if (seg == NULL)
        return 0;
    n = count_parts(seg->msg->text, seg->off, seg->off + seg->len, seg->msg->delims[HL7_FSEP]);
    return is_msh(seg) ? n : n - 1;
}

int huren_hl7_seg_rep_count(const huren_hl7_seg *seg, int field)
{
    size_t a, b;

    if (seg == NULL)
        return 0;
    if (is_msh(seg) && (field == 1 || field == 2))
        return 1;
    if (locate_field(seg, field, &a, &b) < 0)
        return 0;
    return count_parts(seg->msg->text, a, b, seg->msg->delims[HL7_RSEP]);
}

int huren_hl7_seg_comp_count(const huren_hl7_seg *seg, int field, int rep)
{
    size_t a, b;

    if (seg == NULL || huren_hl7__locate(seg, field, rep, 1, 1, &a, &b) < 0)
        return 0;
    locate_field(seg, field, &a, &b);
    nth_part(seg->msg->text, a, b, seg->msg->delims[HL7_RSEP], rep, &a, &b);
    return count_parts(seg->msg->text, a, b, seg->msg->delims[HL7_CSEP]);
}

int huren_hl7_seg_sub_count(const huren_hl7_seg *seg, int field, int rep, int comp)
{
    size_t a, b;
    const char *t;

    if (seg == NULL || huren_hl7__locate(seg, field, rep, comp, 1, &a, &b) < 0)
        return 0;
    t = seg->msg->text;
    locate_field(seg, field, &a, &b);
    nth_part(t, a, b, seg->msg->delims[HL7_RSEP], rep, &a, &b);
    nth_part(t, a, b, seg->msg->delims[HL7_CSEP], comp, &a, &b);
    return count_parts(t, a, b, seg->msg->delims[HL7_SSEP]);
}

size_t huren_hl7_msg_segment_count(const huren_hl7_msg *msg)
{
    return msg ? msg->nsegs : 0;
}

const huren_hl7_seg *huren_hl7_msg_segment(const huren_hl7_msg *msg, size_t index)
{
    return msg && index < msg->nsegs ? &msg->segs[index] : NULL;
}

const huren_hl7_seg *huren_hl7_msg_find(const huren_hl7_msg *msg, const char *name, int seg_repeat)
{
    size_t i;

    if (msg == NULL || name == NULL || seg_repeat < 1)
        return NULL;
    for (i = 0; i < msg->nsegs; i++)
        if (strcmp(msg->segs[i].name, name) == 0 && --seg_repeat == 0)
            return &msg->segs[i];
    return NULL;
}

const char *huren_hl7_msg_get(const huren_hl7_msg *msg, const char *seg_name, int seg_repeat,
                              int field, int rep, int comp, int sub)
{
    return huren_hl7_seg_get(huren_hl7_msg_find(msg, seg_name, seg_repeat), field, rep, comp, sub);
}

int huren_hl7_msg_is_null(const huren_hl7_msg *msg, const char *seg_name, int seg_repeat, int field,
                          int rep, int comp, int sub)
{
    return huren_hl7_seg_is_null(huren_hl7_msg_find(msg, seg_name, seg_repeat), field, rep, comp,
                                 sub);
}

static const char *msh_value(const huren_hl7_msg *msg, int field, int comp)
{
    const char *v = huren_hl7_msg_get(msg, "MSH", 1, field, 1, comp, 1);

    return v ? v : "";
}

const char *huren_hl7_msg_type(const huren_hl7_msg *msg)
{
    return msh_value(msg, 9, 1);
}

const char *huren_hl7_msg_trigger(const huren_hl7_msg *msg)
{
    return msh_value(msg, 9, 2);
}

const char *huren_hl7_msg_control_id(const huren_hl7_msg *msg)
{
    return msh_value(msg, 10, 1);
}

const char *huren_hl7_msg_version(const huren_hl7_msg *msg)
{
    return msh_value(msg, 12, 1);
}

const char *huren_hl7_msg_sending_app(const huren_hl7_msg *msg)
{
    return msh_value(msg, 3, 1);
}

const char *huren_hl7_msg_sending_facility(const huren_hl7_msg *msg)
{
    return msh_value(msg, 4, 1);
}

const char *huren_hl7_msg_receiving_app(const huren_hl7_msg *msg)
{
    return msh_value(msg, 5, 1);
}

const char *huren_hl7_msg_receiving_facility(const huren_hl7_msg *msg)
{
    return msh_value(msg, 6, 1);
}

const char *huren_hl7_msg_charset(const huren_hl7_msg *msg)
{
    return msg ? msg->charset : "";
}

const char *huren_hl7_msg_charset_iconv(const huren_hl7_msg *msg)
{
    return msg && msg->iconv_name ? msg->iconv_name : "UTF-8";
}

const char *huren_hl7_msg_delimiters(const huren_hl7_msg *msg)
{
    return msg ? msg->delims : "|^~\\&";
}

const char *huren_hl7_msg_text(const huren_hl7_msg *msg, size_t *len)
{
    if (len)
        *len = msg ? msg->text_len : 0;
    return msg ? msg->text : NULL;
}

int huren_hl7_msg_is_partial(const huren_hl7_msg *msg)
{
    return msg ? msg->partial : 0;
}
