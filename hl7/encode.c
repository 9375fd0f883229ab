/* encode.c: the message encoder. Builds a message segment by segment into a bounded buffer,
 * escaping delimiters in values, with each segment ended by CR. Used by ack.c and by callers
 * that send HL7. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

struct huren_hl7_enc {
    huren_buf sb;
    char delims[6];
    int in_segment;
    char err[160];
};

int huren_hl7_enc_new(huren_hl7_enc **out, const char *delimiters, size_t max_size)
{
    huren_hl7_enc *enc;

    if (out == NULL)
        return HUREN_HL7_EINVAL;
    *out = NULL;
    if (delimiters == NULL)
        delimiters = "|^~\\&";
    if (strlen(delimiters) != 5)
        return HUREN_HL7_EINVAL;
    enc = calloc(1, sizeof(*enc));
    if (enc == NULL)
        return HUREN_HL7_ENOMEM;
    memcpy(enc->delims, delimiters, 5);
    huren_buf_init(&enc->sb, max_size ? max_size : (size_t)16 << 20);
    *out = enc;
    return 0;
}

void huren_hl7_enc_free(huren_hl7_enc *enc)
{
    if (enc == NULL)
        return;
    huren_buf_free(&enc->sb);
    free(enc);
}

const char *huren_hl7_enc_errmsg(const huren_hl7_enc *enc)
{
    return enc ? enc->err : "no encoder";
}

static int fail(huren_hl7_enc *enc, int rc, const char *what)
{
    if (rc < 0)
        huren_hl7__seterr(enc->err, sizeof(enc->err), "%s: %s", what, huren_hl7_strerror(rc));
    return rc;
}

int huren_hl7_enc_segment(huren_hl7_enc *enc, const char *name)
{
    int rc;

    if (enc == NULL || name == NULL || strlen(name) != 3 || !isupper((unsigned char)name[0]) ||
        !isalnum((unsigned char)name[1]) || !isalnum((unsigned char)name[2])) {
        if (enc)
            huren_hl7__seterr(enc->err, sizeof(enc->err), "invalid segment name");
        return HUREN_HL7_EINVAL;
    }
    rc = huren_buf_add(&enc->sb, name, 3);
    if (rc == 0 && strcmp(name, "MSH") == 0)
        rc = huren_buf_add(&enc->sb, enc->delims, 5);
    if (rc == 0)
        rc = huren_buf_addc(&enc->sb, '\r');
    enc->in_segment = rc == 0;
    return fail(enc, rc, "segment");
}

/* Writes sep + escaped value before the segment's closing CR. */
static int append(huren_hl7_enc *enc, int sep, const char *value, int escape)
{
    int rc;

    if (enc == NULL)
        return HUREN_HL7_EINVAL;
    if (!enc->in_segment) {
        huren_hl7__seterr(enc->err, sizeof(enc->err), "no segment started");
        return HUREN_HL7_EINVAL;
    }
    enc->sb.len--; /* reopen the segment: drop its CR */
    rc = sep >= 0 ? huren_buf_addc(&enc->sb, enc->delims[sep]) : 0;
    if (rc == 0)
        rc = escape ? huren_hl7__escape_to(&enc->sb, value, enc->delims)
                    : huren_buf_adds(&enc->sb, value);
    if (rc == 0)
        rc = huren_buf_addc(&enc->sb, '\r');
    if (rc < 0) {
        enc->in_segment = 0; /* the buffer is in a failed state from now on */
        return fail(enc, rc, "value");
    }
    return 0;
}

int huren_hl7_enc_field(huren_hl7_enc *enc, const char *value)
{
    return append(enc, HL7_FSEP, value, 1);
}

int huren_hl7_enc_repeat(huren_hl7_enc *enc, const char *value)
{
    return append(enc, HL7_RSEP, value, 1);
}

int huren_hl7_enc_component(huren_hl7_enc *enc, const char *value)
{
    return append(enc, HL7_CSEP, value, 1);
}

int huren_hl7_enc_subcomponent(huren_hl7_enc *enc, const char *value)
{
    return append(enc, HL7_SSEP, value, 1);
}

int huren_hl7_enc_raw(huren_hl7_enc *enc, const char *text, size_t len)
{
    int rc;

    if (enc == NULL || (text == NULL && len))
        return HUREN_HL7_EINVAL;
    if (!enc->in_segment) {
        huren_hl7__seterr(enc->err, sizeof(enc->err), "no segment started");
        return HUREN_HL7_EINVAL;
    }
    enc->sb.len--;
    rc = huren_buf_add(&enc->sb, text, len);
    if (rc == 0)
        rc = huren_buf_addc(&enc->sb, '\r');
    if (rc < 0)
        enc->in_segment = 0;
    return fail(enc, rc, "raw text");
}

const char *huren_hl7_enc_data(const huren_hl7_enc *enc, size_t *len)
{
    if (len)
        *len = enc && enc->sb.data ? enc->sb.len : 0;
    return enc && enc->sb.data ? enc->sb.data : "";
}

void huren_hl7_buf_free(char *buf)
{
    free(buf);
}
