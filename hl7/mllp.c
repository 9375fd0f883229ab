/* mllp.c: MLLP framing (VT message FS CR). The decoder takes bytes as they are read, copes
 * with frames split across reads and several frames per read, skips and counts noise between
 * frames, and never holds more than max_frame bytes. */
#include <stdlib.h>
#include <string.h>

#include "hl7_int.h"

#define MLLP_VT 0x0B
#define MLLP_FS 0x1C
#define MLLP_CR 0x0D

enum { DEC_IDLE, DEC_FRAME, DEC_AFTER_FS, DEC_OVERFLOW };

struct huren_hl7_mllp_decoder {
    char *buf;
    size_t len, cap, max;
    int state;
    size_t noise;
};

int huren_hl7_mllp_frame(const char *data, size_t len, char **out, size_t *out_len)
{
    char *p;

    if (out == NULL || out_len == NULL || (data == NULL && len) || len > (size_t)-1 - 3)
        return HUREN_HL7_EINVAL;
    p = malloc(len + 4);
    if (p == NULL)
        return HUREN_HL7_ENOMEM;
    p[0] = MLLP_VT;
    if (len)
        memcpy(p + 1, data, len);
    p[len + 1] = MLLP_FS;
    p[len + 2] = MLLP_CR;
    p[len + 3] = '\0';
    *out = p;
    *out_len = len + 3;
    return 0;
}

int huren_hl7_mllp_decoder_new(huren_hl7_mllp_decoder **out, size_t max_frame)
{
    huren_hl7_mllp_decoder *dec;

    if (out == NULL)
        return HUREN_HL7_EINVAL;
    dec = calloc(1, sizeof(*dec));
    if (dec == NULL)
        return HUREN_HL7_ENOMEM;
    dec->max = max_frame ? max_frame : (size_t)16 << 20;
    *out = dec;
    return 0;
}

void huren_hl7_mllp_decoder_free(huren_hl7_mllp_decoder *dec)
{
    if (dec == NULL)
        return;
    free(dec->buf);
    free(dec);
}

size_t huren_hl7_mllp_decoder_noise(const huren_hl7_mllp_decoder *dec)
{
    return dec ? dec->noise : 0;
}

int huren_hl7_mllp_decoder_in_frame(const huren_hl7_mllp_decoder *dec)
{
    return dec && dec->state == DEC_FRAME;
}

static int keep(huren_hl7_mllp_decoder *dec, const char *p, size_t n)
{
    if (n > dec->max - dec->len) {
        dec->state = DEC_OVERFLOW;
        free(dec->buf); /* stop holding memory for a frame we will never deliver */
        dec->buf = NULL;
        dec->len = dec->cap = 0;
        return HUREN_HL7_ETOOBIG;
    }
    if (dec->len + n + 1 > dec->cap) {
        size_t cap = dec->cap ? dec->cap : 4096;
        char *b;
        while (cap < dec->len + n + 1)
            cap *= 2;
        if (cap > dec->max + 1)
            cap = dec->max + 1;
        b = realloc(dec->buf, cap);
        if (b == NULL)
            return HUREN_HL7_ENOMEM;
        dec->buf = b;
        dec->cap = cap;
    }
    memcpy(dec->buf + dec->len, p, n);
    dec->len += n;
    dec->buf[dec->len] = '\0';
    return 0;
}

int huren_hl7_mllp_decoder_feed(huren_hl7_mllp_decoder *dec, const char *data, size_t len,
                                huren_hl7_frame_cb cb, void *payload)
{
    size_t i = 0;
    int rc;

    if (dec == NULL || (data == NULL && len))
        return HUREN_HL7_EINVAL;
    while (i < len) {
        switch (dec->state) {
        case DEC_OVERFLOW:
            return HUREN_HL7_ETOOBIG;
        case DEC_AFTER_FS:
            dec->state = DEC_IDLE;
            if (data[i] == MLLP_CR)
                i++;
            break;
        case DEC_IDLE:
            if (data[i++] == MLLP_VT) {
                dec->state = DEC_FRAME;
                dec->len = 0;
            } else {
                dec->noise++;
            }
            break;
        case DEC_FRAME: {
            size_t j = i;
            while (j < len && data[j] != MLLP_FS && data[j] != MLLP_VT)
                j++;
            rc = keep(dec, data + i, j - i);
            if (rc < 0)
                return rc;
            i = j;
            if (i == len)
                break;
            i++;
            if (data[i - 1] == MLLP_VT) { /* a new frame before the end: drop the old one */
                dec->noise += dec->len + 1;
                dec->len = 0;
                break;
            }
            dec->state = DEC_AFTER_FS;
            if (cb && (rc = cb(dec->buf ? dec->buf : "", dec->len, payload)) != 0)
                return rc;
            dec->len = 0;
            break;
        }
        }
    }
    return 0;
}
