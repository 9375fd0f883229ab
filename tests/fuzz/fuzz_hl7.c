/* fuzz_hl7.c: libFuzzer target for the hl7 parsers: message parse (full and header-only),
 * every accessor over the result, the ACK builder, the batch splitter and the MLLP decoder.
 * Built with -DHUREN_FUZZ=ON (tests/fuzz/CMakeLists.txt); run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "huren_hl7.h"
#include "huren_err.h"

static int split_cb(const char *data, size_t len, size_t index, size_t offset, void *payload)
{
    huren_hl7_msg *msg = NULL;

    (void)index, (void)offset, (void)payload;
    if (huren_hl7_msg_parse(data, len, NULL, &msg, NULL, 0) == 0)
        huren_hl7_msg_free(msg);
    return 0;
}

static int frame_cb(const char *data, size_t len, void *payload)
{
    (void)data, (void)len, (void)payload;
    return 0;
}

static void walk(const huren_hl7_msg *msg)
{
    size_t i, n = huren_hl7_msg_segment_count(msg), len;
    int f, r, c, s;

    for (i = 0; i < n && i < 64; i++) {
        const huren_hl7_seg *seg = huren_hl7_msg_segment(msg, i);
        int nf = huren_hl7_seg_field_count(seg);
        for (f = 1; f <= nf + 1 && f < 32; f++) {
            huren_hl7_seg_raw(seg, f, &len);
            for (r = 1; r <= huren_hl7_seg_rep_count(seg, f) + 1 && r < 8; r++)
                for (c = 1; c <= huren_hl7_seg_comp_count(seg, f, r) + 1 && c < 8; c++)
                    for (s = 1; s <= huren_hl7_seg_sub_count(seg, f, r, c) + 1 && s < 8; s++) {
                        const char *v = huren_hl7_seg_get(seg, f, r, c, s);
                        if (v)
                            (void)strlen(v);
                        huren_hl7_seg_is_null(seg, f, r, c, s);
                    }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    huren_hl7_msg *msg = NULL;
    huren_hl7_mllp_decoder *dec = NULL;
    char err[HUREN_ERRLEN], *ack = NULL;
    size_t ack_len;

    if (huren_hl7_msg_parse(p, size, NULL, &msg, err, sizeof(err)) == 0) {
        walk(msg);
        if (huren_hl7_ack_build(msg, "AE", "text|with^delims", NULL, &ack, &ack_len, err,
                                sizeof(err)) == 0)
            huren_hl7_buf_free(ack);
        huren_hl7_msg_free(msg);
    } else if (huren_hl7_msg_parse_header(p, size, NULL, &msg, err, sizeof(err)) == 0) {
        walk(msg);
        if (huren_hl7_ack_build(msg, "AR", err, NULL, &ack, &ack_len, err, sizeof(err)) == 0)
            huren_hl7_buf_free(ack);
        huren_hl7_msg_free(msg);
    }
    huren_hl7_split(p, size, split_cb, NULL, err, sizeof(err));
    if (huren_hl7_mllp_decoder_new(&dec, 256) == 0) {
        huren_hl7_mllp_decoder_feed(dec, p, size / 2, frame_cb, NULL);
        huren_hl7_mllp_decoder_feed(dec, p + size / 2, size - size / 2, frame_cb, NULL);
        huren_hl7_mllp_decoder_free(dec);
    }
    return 0;
}
