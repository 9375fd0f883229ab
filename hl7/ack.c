/* ack.c: the acknowledgement (ACK) of a received message: MSH with sender and receiver
 * swapped, MSA with the original control id, ERR for AE/AR. Works from a full message, a
 * header-only one (huren_hl7_msg_parse_header) or none at all. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl7_int.h"

static atomic_uint ack_counter;

/* Copies field `field` of the original MSH verbatim (same delimiters, still escaped). */
static int copy_field(huren_hl7_enc *enc, const huren_hl7_msg *msg, int field)
{
    const huren_hl7_seg *msh = huren_hl7_msg_find(msg, "MSH", 1);
    size_t len = 0;
    const char *raw = msh ? huren_hl7_seg_raw(msh, field, &len) : NULL;
    int rc = huren_hl7_enc_field(enc, NULL);

    return rc == 0 && raw ? huren_hl7_enc_raw(enc, raw, len) : rc;
}

static void now_stamp(char *buf, size_t sz, const char *fmt)
{
    time_t t = time(NULL);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, sz, fmt, &tm);
}

/* Versions before 2.5 carry the error in ERR-1 (ELD), later ones in ERR-3 (CWE). */
static int old_err_layout(const char *version)
{
    return strncmp(version, "2.1", 3) == 0 || strncmp(version, "2.2", 3) == 0 ||
           strncmp(version, "2.3", 3) == 0 || strncmp(version, "2.4", 3) == 0;
}

static int write_msh(huren_hl7_enc *enc, const huren_hl7_msg *msg, const char *version)
{
    char stamp[32], id[40];
    unsigned n = atomic_fetch_add(&ack_counter, 1);
    int rc;

    now_stamp(stamp, sizeof(stamp), "%Y%m%d%H%M%S");
    /* 20 characters, the ST limit of MSH-10: time, process, and a counter */
    snprintf(id, sizeof(id), "%.12s%03u%05u", stamp + 2, (unsigned)(getpid() % 1000), n % 100000);
    rc = huren_hl7_enc_segment(enc, "MSH");
    if (rc == 0)
        rc = copy_field(enc, msg, 5); /* we are the receiver of the original */
    if (rc == 0)
        rc = copy_field(enc, msg, 6);
    if (rc == 0)
        rc = copy_field(enc, msg, 3);
    if (rc == 0)
        rc = copy_field(enc, msg, 4);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, stamp);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, NULL);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, "ACK");
    if (rc == 0 && msg && huren_hl7_msg_trigger(msg)[0])
        rc = huren_hl7_enc_component(enc, huren_hl7_msg_trigger(msg));
    if (rc == 0 && msg && huren_hl7_msg_trigger(msg)[0])
        rc = huren_hl7_enc_component(enc, "ACK");
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, id);
    if (rc == 0) {
        const char *pid = msg ? huren_hl7_msg_get(msg, "MSH", 1, 11, 1, 1, 1) : NULL;
        rc = huren_hl7_enc_field(enc, pid && pid[0] ? pid : "P");
    }
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, version);
    if (rc == 0 && msg && msg->charset[0]) {
        int i;
        for (i = 13; i < 18 && rc == 0; i++)
            rc = huren_hl7_enc_field(enc, NULL);
        if (rc == 0)
            rc = huren_hl7_enc_field(enc, msg->charset);
    }
    return rc;
}

/* Writes the parts of "SEG^seq^field" as components (NULL/"" writes one empty one). */
static int write_location(huren_hl7_enc *enc, const char *location, int parts)
{
    char buf[32];
    char *save = NULL, *tok;
    int rc = 0, i;

    snprintf(buf, sizeof(buf), "%s", location ? location : "");
    tok = strtok_r(buf, "^", &save);
    for (i = 0; i < parts && rc == 0; i++) {
        rc = i == 0 ? huren_hl7_enc_field(enc, tok) : huren_hl7_enc_component(enc, tok);
        tok = tok ? strtok_r(NULL, "^", &save) : NULL;
    }
    return rc;
}

static int write_err(huren_hl7_enc *enc, const char *version, const char *text,
                     const char *error_code, const char *location)
{
    int rc = huren_hl7_enc_segment(enc, "ERR");

    if (old_err_layout(version)) { /* ERR-1 ELD: segment^sequence^field^code&text&system */
        if (rc == 0)
            rc = write_location(enc, location, 3);
        if (rc == 0)
            rc = huren_hl7_enc_component(enc, error_code);
        if (rc == 0)
            rc = huren_hl7_enc_subcomponent(enc, text);
        if (rc == 0)
            rc = huren_hl7_enc_subcomponent(enc, "HL70357");
        return rc;
    }
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, NULL);
    if (rc == 0 && location && location[0]) /* ERR-2 ERL */
        rc = write_location(enc, location, 3);
    else if (rc == 0)
        rc = huren_hl7_enc_field(enc, NULL);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, error_code);
    if (rc == 0)
        rc = huren_hl7_enc_component(enc, text);
    if (rc == 0)
        rc = huren_hl7_enc_component(enc, "HL70357");
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, "E");
    return rc;
}

int huren_hl7_ack_build(const huren_hl7_msg *msg, const char *code, const char *text,
                        const char *error_code, char **out, size_t *out_len, char *err,
                        size_t errlen)
{
    return huren_hl7_ack_build_at(msg, code, text, error_code, NULL, out, out_len, err, errlen);
}

int huren_hl7_ack_build_at(const huren_hl7_msg *msg, const char *code, const char *text,
                           const char *error_code, const char *location, char **out,
                           size_t *out_len, char *err, size_t errlen)
{
    huren_hl7_enc *enc = NULL;
    const char *version, *data;
    size_t len;
    int rc;

    if (out == NULL || out_len == NULL || code == NULL ||
        (strcmp(code, "AA") && strcmp(code, "AE") && strcmp(code, "AR"))) {
        huren_hl7__seterr(err, errlen, "ACK code must be AA, AE or AR");
        return HUREN_HL7_EINVAL;
    }
    *out = NULL;
    *out_len = 0;
    version = msg && huren_hl7_msg_version(msg)[0] ? huren_hl7_msg_version(msg) : "2.5.1";
    rc = huren_hl7_enc_new(&enc, msg ? msg->delims : NULL, (size_t)1 << 20);
    if (rc < 0)
        goto done;
    rc = write_msh(enc, msg, version);
    if (rc == 0)
        rc = huren_hl7_enc_segment(enc, "MSA");
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, code);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, msg ? huren_hl7_msg_control_id(msg) : NULL);
    if (rc == 0)
        rc = huren_hl7_enc_field(enc, text);
    if (rc == 0 && strcmp(code, "AA") != 0)
        rc = write_err(enc, version, text,
                       error_code && error_code[0] ? error_code : HUREN_HL7_ERR_INTERNAL, location);
    if (rc < 0) {
        huren_hl7__seterr(err, errlen, "building the ACK: %s", huren_hl7_enc_errmsg(enc));
        goto done;
    }
    data = huren_hl7_enc_data(enc, &len);
    rc = huren_hl7__charset_from_utf8(msg && msg->iconv_name ? msg->iconv_name : "UTF-8", data, len,
                                      out, out_len);
    if (rc < 0)
        huren_hl7__seterr(err, errlen, "converting the ACK to %s failed", msg->iconv_name);
done:
    huren_hl7_enc_free(enc);
    return rc;
}

const char *huren_hl7_ack_code_for(int parse_rc)
{
    switch (parse_rc) {
    case HUREN_HL7_ENOMSH:
    case HUREN_HL7_EDELIM:
    case HUREN_HL7_EVERSION:
    case HUREN_HL7_ECHARSET:
    case HUREN_HL7_ETOOBIG:
        return "AR";
    default:
        return "AE";
    }
}

const char *huren_hl7_ack_error_for(int parse_rc)
{
    switch (parse_rc) {
    case HUREN_HL7_ENOMSH:
        return HUREN_HL7_ERR_SEGMENT_SEQUENCE;
    case HUREN_HL7_ESYNTAX:
        return HUREN_HL7_ERR_REQUIRED_FIELD;
    case HUREN_HL7_EDELIM:
    case HUREN_HL7_EESCAPE:
        return HUREN_HL7_ERR_DATA_TYPE;
    case HUREN_HL7_EVERSION:
        return HUREN_HL7_ERR_UNSUPPORTED_VERSION;
    default:
        return HUREN_HL7_ERR_INTERNAL;
    }
}

const char *huren_hl7_ack_location_for(int parse_rc)
{
    switch (parse_rc) {
    case HUREN_HL7_EDELIM:
        return "MSH^1^2";
    case HUREN_HL7_EVERSION:
        return "MSH^1^12";
    case HUREN_HL7_ECHARSET:
        return "MSH^1^18";
    case HUREN_HL7_ENOMSH:
        return "MSH^1";
    default:
        return "";
    }
}
