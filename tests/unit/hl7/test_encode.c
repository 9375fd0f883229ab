/* test_encode.c: the encoder (escaping round trip), ACK building (AA/AE/AR, ERR, swapped
 * sender/receiver, MSA-2, charsets, minimal ACK) and splitting batches and files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_hl7.h"
#include "huren_err.h"

#define ORU                                                                                        \
    "MSH|^~\\&|LIS^1.2.3^ISO|HOSPA|HUREN|HOSPB|20240102||ORU^R01^ORU_R01|CTL42|P|2.5.1\r"          \
    "PID|1||P1\r"

static void test_escape_values(void **state)
{
    (void)state;
    char buf[128];

    assert_int_equal(huren_hl7_escape("a|b^c~d\\e&f", NULL, buf, sizeof(buf)), 21);
    assert_string_equal(buf, "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f");
    huren_hl7_escape("l1\nl2\r\nl3\x01", NULL, buf, sizeof(buf));
    assert_string_equal(buf, "l1\\.br\\l2\\.br\\l3\\X01\\");
    huren_hl7_escape("x#y", "#$%@!", buf, sizeof(buf));
    assert_string_equal(buf, "x@F@y");
    assert_int_equal(huren_hl7_escape("toolong", NULL, buf, 4), HUREN_HL7_ETOOBIG);
}

static void test_encoder_round_trip(void **state)
{
    (void)state;
    huren_hl7_enc *enc = NULL;
    huren_hl7_msg *msg;
    const char *data;
    size_t len;

    assert_int_equal(huren_hl7_enc_new(&enc, NULL, 0), 0);
    assert_int_equal(huren_hl7_enc_field(enc, "x"), HUREN_HL7_EINVAL); /* no segment yet */
    assert_int_equal(huren_hl7_enc_segment(enc, "MSH"), 0);
    huren_hl7_enc_field(enc, "APP");
    huren_hl7_enc_field(enc, "FAC");
    huren_hl7_enc_field(enc, NULL);
    huren_hl7_enc_field(enc, NULL);
    huren_hl7_enc_field(enc, "20240101");
    huren_hl7_enc_field(enc, NULL);
    huren_hl7_enc_field(enc, "ADT");
    huren_hl7_enc_component(enc, "A08");
    huren_hl7_enc_field(enc, "ID1");
    huren_hl7_enc_field(enc, "P");
    huren_hl7_enc_field(enc, "2.4");
    assert_int_equal(huren_hl7_enc_segment(enc, "PID"), 0);
    huren_hl7_enc_field(enc, "1");
    huren_hl7_enc_field(enc, "\"\"");
    huren_hl7_enc_field(enc, "A|B");
    huren_hl7_enc_repeat(enc, "C^D");
    huren_hl7_enc_component(enc, "E&F");
    huren_hl7_enc_subcomponent(enc, "G~H\\I\nJ");
    assert_int_equal(huren_hl7_enc_segment(enc, "bad"), HUREN_HL7_EINVAL);
    data = huren_hl7_enc_data(enc, &len);
    assert_string_equal(data, "MSH|^~\\&|APP|FAC|||20240101||ADT^A08|ID1|P|2.4\r"
                              "PID|1|\"\"|A\\F\\B~C\\S\\D^E\\T\\F&G\\R\\H\\E\\I\\.br\\J\r");
    msg = parse_ok(data);
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 2, 1, 1, 1), 1);
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), "A|B");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 2, 1, 1), "C^D");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 2, 2, 1), "E&F");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 2, 2, 2), "G~H\\I\nJ");
    huren_hl7_msg_free(msg);
    huren_hl7_enc_free(enc);
    /* bounded */
    assert_int_equal(huren_hl7_enc_new(&enc, NULL, 16), 0);
    huren_hl7_enc_segment(enc, "PID");
    assert_int_equal(huren_hl7_enc_field(enc, "0123456789ABCDEF"), HUREN_HL7_ETOOBIG);
    assert_non_null(strstr(huren_hl7_enc_errmsg(enc), "too big"));
    huren_hl7_enc_free(enc);
}

static huren_hl7_msg *ack_of(const huren_hl7_msg *msg, const char *code, const char *text,
                             const char *ecode)
{
    char *ack = NULL, err[256] = "";
    size_t len = 0;
    huren_hl7_msg *parsed = NULL;
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;

    if (huren_hl7_ack_build(msg, code, text, ecode, &ack, &len, err, sizeof(err)) != 0)
        fail_msg("ack_build: %s", err);
    assert_int_equal(strlen(ack), len);
    opts.accept_any_version = 1;
    if (huren_hl7_msg_parse(ack, len, &opts, &parsed, err, sizeof(err)) != 0)
        fail_msg("ACK does not parse: %s", err);
    huren_hl7_buf_free(ack);
    return parsed;
}

static void test_ack_aa(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(ORU);
    huren_hl7_msg *ack = ack_of(msg, "AA", "stored", NULL);

    assert_string_equal(huren_hl7_msg_type(ack), "ACK");
    assert_string_equal(huren_hl7_msg_trigger(ack), "R01");
    assert_string_equal(huren_hl7_msg_sending_app(ack), "HUREN");
    assert_string_equal(huren_hl7_msg_sending_facility(ack), "HOSPB");
    assert_string_equal(huren_hl7_msg_receiving_app(ack), "LIS");
    assert_string_equal(huren_hl7_msg_get(ack, "MSH", 1, 5, 1, 2, 1), "1.2.3"); /* HD kept */
    assert_string_equal(huren_hl7_msg_receiving_facility(ack), "HOSPA");
    assert_string_equal(huren_hl7_msg_version(ack), "2.5.1");
    assert_string_not_equal(huren_hl7_msg_control_id(ack), "CTL42");
    assert_true(strlen(huren_hl7_msg_control_id(ack)) <= 20);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AA");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "CTL42");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 3, 1, 1, 1), "stored");
    assert_null(huren_hl7_msg_find(ack, "ERR", 1));
    huren_hl7_msg_free(ack);
    huren_hl7_msg_free(msg);
}

static void test_ack_ae_ar(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(ORU);
    huren_hl7_msg *ack = ack_of(msg, "AE", "disk full | retry", NULL);

    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AE");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 3, 1, 1, 1), "disk full | retry");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 1, 1), "207");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 2, 1), "disk full | retry");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 3, 1), "HL70357");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 4, 1, 1, 1), "E");
    huren_hl7_msg_free(ack);
    ack = ack_of(msg, "AR", "unknown type", HUREN_HL7_ERR_UNSUPPORTED_TYPE);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AR");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 1, 1), "200");
    huren_hl7_msg_free(ack);
    huren_hl7_msg_free(msg);
    /* v2.4: the error goes into ERR-1 */
    msg = parse_ok("MSH|^~\\&|A|B|C|D|2024||ADT^A01|X1|P|2.4\r");
    ack = ack_of(msg, "AE", "bad", "101");
    assert_string_equal(huren_hl7_msg_version(ack), "2.4");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 1, 1, 4, 1), "101");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 1, 1, 4, 2), "bad");
    huren_hl7_msg_free(ack);
    huren_hl7_msg_free(msg);
    char *out = NULL, err[64];
    size_t len;
    assert_int_equal(huren_hl7_ack_build(NULL, "XX", "", NULL, &out, &len, err, sizeof(err)),
                     HUREN_HL7_EINVAL);
}

static void test_ack_error_location(void **state)
{
    (void)state;
    const char *versions[] = {"2.5.1", "2.3"};
    for (size_t i = 0; i < 2; i++) {
        char buf[128], *out = NULL, err[128];
        size_t len;
        huren_hl7_msg *ack = NULL;
        huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
        snprintf(buf, sizeof(buf), "MSH|^~\\&|LIS|H|HU|HB|2024||ORU^R01|L1|P|%s\rPID|1\r",
                 versions[i]);
        huren_hl7_msg *msg = parse_ok(buf);
        assert_int_equal(huren_hl7_ack_build_at(msg, "AE", "PID-3: no patient identifier", "101",
                                                "PID^1^3", &out, &len, err, sizeof(err)),
                         0);
        assert_int_equal(huren_hl7_msg_parse(out, len, &opts, &ack, err, sizeof(err)), 0);
        if (i == 0) { /* ERR-2 ERL, ERR-3 code^text */
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 2, 1, 1, 1), "PID");
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 2, 1, 2, 1), "1");
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 2, 1, 3, 1), "3");
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 1, 1), "101");
        } else { /* ERR-1 ELD: segment^sequence^field^code&text */
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 1, 1, 1, 1), "PID");
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 1, 1, 3, 1), "3");
            assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 1, 1, 4, 1), "101");
        }
        huren_hl7_msg_free(ack);
        huren_hl7_buf_free(out);
        huren_hl7_msg_free(msg);
    }
    assert_string_equal(huren_hl7_ack_location_for(HUREN_HL7_EVERSION), "MSH^1^12");
    assert_string_equal(huren_hl7_ack_location_for(HUREN_HL7_ECHARSET), "MSH^1^18");
    assert_string_equal(huren_hl7_ack_location_for(HUREN_HL7_ESYNTAX), "");
}

static void test_ack_partial_and_minimal(void **state)
{
    (void)state;
    const char *bad = "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|CTL7|P|3.0\rPID|\\Z\\\r";
    char err[HUREN_ERRLEN];
    huren_hl7_msg *msg = NULL, *ack;
    int rc = huren_hl7_msg_parse(bad, strlen(bad), NULL, &msg, err, sizeof(err));

    assert_true(rc < 0);
    assert_string_equal(huren_hl7_ack_code_for(rc), "AR");
    assert_string_equal(huren_hl7_ack_error_for(rc), "203");
    assert_int_equal(huren_hl7_msg_parse_header(bad, strlen(bad), NULL, &msg, NULL, 0), 0);
    ack = ack_of(msg, huren_hl7_ack_code_for(rc), err, huren_hl7_ack_error_for(rc));
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "CTL7");
    assert_string_equal(huren_hl7_msg_receiving_app(ack), "LIS");
    assert_string_equal(huren_hl7_msg_version(ack), "3.0");
    huren_hl7_msg_free(ack);
    huren_hl7_msg_free(msg);
    /* no usable MSH: a minimal AR */
    ack = ack_of(NULL, "AR", "no MSH segment", "100");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AR");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "");
    assert_string_equal(huren_hl7_msg_version(ack), "2.5.1");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 1, 1), "100");
    huren_hl7_msg_free(ack);
    assert_string_equal(huren_hl7_ack_code_for(HUREN_HL7_EESCAPE), "AE");
}

static void test_ack_charset_and_delims(void **state)
{
    (void)state;
    huren_hl7_msg *msg =
        parse_ok("MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ADT^A01|G1|P|2.4||||||GB18030\rPID|1\r");
    char *ack = NULL, err[128];
    size_t len;

    assert_int_equal(huren_hl7_ack_build(msg, "AE", "王小明 ✓", NULL, &ack, &len, err, sizeof(err)),
                     0);
    /* GB18030 bytes of 王小明, and the check mark is representable in GB18030 too */
    assert_non_null(strstr(ack, "\xCD\xF5\xD0\xA1\xC3\xF7"));
    assert_non_null(strstr(ack, "|GB18030\r"));
    huren_hl7_msg *back = NULL;
    assert_int_equal(huren_hl7_msg_parse(ack, len, NULL, &back, err, sizeof(err)), 0);
    assert_string_equal(huren_hl7_msg_get(back, "MSA", 1, 3, 1, 1, 1), "王小明 ✓");
    huren_hl7_msg_free(back);
    huren_hl7_buf_free(ack);
    huren_hl7_msg_free(msg);
    /* 8859/1 cannot hold Chinese: '?' */
    msg = parse_ok("MSH|^~\\&|A|B|C|D|2024||ADT^A01|L1|P|2.4||||||8859/1\r");
    assert_int_equal(huren_hl7_ack_build(msg, "AE", "王 é", NULL, &ack, &len, err, sizeof(err)), 0);
    assert_non_null(strstr(ack, "|? \xE9\r"));
    huren_hl7_buf_free(ack);
    huren_hl7_msg_free(msg);
    /* other delimiters are kept */
    msg = parse_ok("MSH#$%@!#A#B#C#D#2024##ADT$A01#D1#P#2.5\r");
    back = ack_of(msg, "AA", "x#y", NULL);
    assert_string_equal(huren_hl7_msg_delimiters(back), "#$%@!");
    assert_string_equal(huren_hl7_msg_get(back, "MSA", 1, 3, 1, 1, 1), "x#y");
    assert_string_equal(huren_hl7_msg_get(back, "MSA", 1, 2, 1, 1, 1), "D1");
    huren_hl7_msg_free(back);
    huren_hl7_msg_free(msg);
}

struct chunks {
    size_t n;
    char ids[16][32];
    size_t offsets[16];
    const char *base;
    int stop_at;
};

static int collect(const char *data, size_t len, size_t index, size_t offset, void *payload)
{
    struct chunks *c = payload;
    huren_hl7_msg *msg = NULL;
    char err[HUREN_ERRLEN];

    assert_int_equal(index, c->n);
    if (c->base)
        assert_ptr_equal(c->base + offset, data);
    c->offsets[c->n] = offset;
    if (huren_hl7_msg_parse(data, len, NULL, &msg, err, sizeof(err)) == 0)
        snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", huren_hl7_msg_control_id(msg));
    else
        snprintf(c->ids[c->n], sizeof(c->ids[0]), "ERR%d",
                 huren_hl7_msg_parse(data, len, NULL, &msg, NULL, 0));
    huren_hl7_msg_free(msg);
    c->n++;
    return c->stop_at && (int)c->n == c->stop_at ? 7 : 0;
}

#define M(id) "MSH|^~\\&|A|B|C|D|2024||ADT^A01|" id "|P|2.5\r"

static void test_split(void **state)
{
    (void)state;
    struct chunks c;
    char err[HUREN_ERRLEN];
    const char *batch =
        "FHS|^~\\&|A|B\rBHS|^~\\&|A|B\r" M("B1") "PID|1\r" M("B2") "PID|2\rBTS|2\rFTS|1\r";
    const char *blank = M("N1") "PID|1\r\n\r\n" M("N2") "\r\n\r\n\r\n" M("N3");
    const char *crlf = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|L1|P|2.5\r\nPID|1\r\n"
                       "MSH|^~\\&|A|B|C|D|2024||ADT^A01|L2|P|2.5\r\nPID|1\r\n";
    const char *framed = "\x0b" M("F1") "\x1c\r\n\x0b" M("F2") "PID|1\r\x1c\r";
    const char *stray = "PID|1\r" M("S1");

    memset(&c, 0, sizeof(c));
    c.base = batch;
    assert_int_equal(huren_hl7_split(batch, strlen(batch), collect, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.offsets[0], strlen("FHS|^~\\&|A|B\rBHS|^~\\&|A|B\r"));
    assert_string_equal(c.ids[0], "B1");
    assert_string_equal(c.ids[1], "B2");
    memset(&c, 0, sizeof(c));
    huren_hl7_split(blank, strlen(blank), collect, &c, err, sizeof(err));
    assert_int_equal(c.n, 3);
    assert_string_equal(c.ids[2], "N3");
    memset(&c, 0, sizeof(c));
    huren_hl7_split(crlf, strlen(crlf), collect, &c, err, sizeof(err));
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[1], "L2");
    memset(&c, 0, sizeof(c));
    huren_hl7_split(framed, strlen(framed), collect, &c, err, sizeof(err));
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[1], "F2");
    memset(&c, 0, sizeof(c));
    huren_hl7_split(stray, strlen(stray), collect, &c, err, sizeof(err));
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "ERR-5"); /* HUREN_HL7_ENOMSH */
    assert_string_equal(c.ids[1], "S1");
    memset(&c, 0, sizeof(c));
    c.stop_at = 1;
    assert_int_equal(huren_hl7_split(batch, strlen(batch), collect, &c, err, sizeof(err)), 7);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        huren_hl7_split("\x0b" M("T1"), strlen(M("T1")) + 1, collect, &c, err, sizeof(err)),
        HUREN_HL7_ESYNTAX);
}

static void test_file_split(void **state)
{
    (void)state;
    char path[] = "/tmp/huren_hl7_test_XXXXXX", err[256];
    const char *text = M("F1") "PID|1\n\n" M("F2") "PID|2\n";
    struct chunks c;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    memset(&c, 0, sizeof(c));
    assert_int_equal(huren_hl7_file_split(path, 0, collect, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[1], "F2");
    assert_int_equal(c.offsets[1], strlen(M("F1") "PID|1\n\n"));
    assert_int_equal(huren_hl7_file_split(path, 10, collect, &c, err, sizeof(err)),
                     HUREN_HL7_ETOOBIG);
    unlink(path);
    assert_int_equal(huren_hl7_file_split(path, 0, collect, &c, err, sizeof(err)), HUREN_HL7_EIO);
}

int run_encode_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_values),
        cmocka_unit_test(test_encoder_round_trip),
        cmocka_unit_test(test_ack_aa),
        cmocka_unit_test(test_ack_ae_ar),
        cmocka_unit_test(test_ack_error_location),
        cmocka_unit_test(test_ack_partial_and_minimal),
        cmocka_unit_test(test_ack_charset_and_delims),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_file_split),
    };
    return cmocka_run_group_tests_name("hl7_encode", tests, NULL, NULL);
}
