/* test_parse.c: the parser: delimiter sets, segment terminators, escapes, null vs empty,
 * repetitions/components/sub-components, charsets (GB18030, UTF-8, 8859/1) and hostile input. */
#include <stdio.h>
#include <stdlib.h>

#include "test_hl7.h"
#include "huren_err.h"

huren_hl7_msg *parse_ok(const char *text)
{
    huren_hl7_msg *msg = NULL;
    char err[HUREN_ERRLEN] = "";
    int rc = huren_hl7_msg_parse(text, strlen(text), NULL, &msg, err, sizeof(err));

    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err);
    assert_non_null(msg);
    return msg;
}

void parse_fails(const char *text, size_t len, int want, char *err, size_t errlen)
{
    huren_hl7_msg *msg = (huren_hl7_msg *)1;
    int rc = huren_hl7_msg_parse(text, len, NULL, &msg, err, errlen);

    if (rc != want)
        fail_msg("expected %d, got %d (%s)", want, rc, err);
    assert_null(msg);
    assert_true(strlen(err) > 0);
}

#define MSH_STD "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|20240102030405||ORU^R01^ORU_R01|MSG001|P|2.5.1"

static void test_basic_header(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rPID|1||12345^^^HOSPA^MR||DOE^JOHN\r");

    assert_string_equal(huren_hl7_msg_type(msg), "ORU");
    assert_string_equal(huren_hl7_msg_trigger(msg), "R01");
    assert_string_equal(huren_hl7_msg_control_id(msg), "MSG001");
    assert_string_equal(huren_hl7_msg_version(msg), "2.5.1");
    assert_string_equal(huren_hl7_msg_sending_app(msg), "LIS");
    assert_string_equal(huren_hl7_msg_sending_facility(msg), "HOSPA");
    assert_string_equal(huren_hl7_msg_receiving_app(msg), "HUREN");
    assert_string_equal(huren_hl7_msg_receiving_facility(msg), "HOSPB");
    assert_string_equal(huren_hl7_msg_charset(msg), "");
    assert_string_equal(huren_hl7_msg_charset_iconv(msg), "UTF-8");
    assert_int_equal(huren_hl7_msg_is_partial(msg), 0);
    /* MSH numbering: MSH-1 is the separator, MSH-2 the encoding characters */
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 1, 1, 1, 1), "|");
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 2, 1, 1, 1), "^~\\&");
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 3, 1, 1, 1), "LIS");
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 9, 1, 3, 1), "ORU_R01");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), "12345");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 4, 1), "HOSPA");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "JOHN");
    assert_null(huren_hl7_msg_get(msg, "PID", 2, 5, 1, 1, 1));
    assert_null(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1));
    assert_null(huren_hl7_msg_get(msg, "PID", 1, 0, 1, 1, 1));
    assert_int_equal(huren_hl7_msg_segment_count(msg), 2);
    assert_int_equal(huren_hl7_seg_field_count(huren_hl7_msg_segment(msg, 0)), 12);
    assert_int_equal(huren_hl7_seg_field_count(huren_hl7_msg_segment(msg, 1)), 5);
    huren_hl7_msg_free(msg);
}

static void test_structure(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rPID|1||A1~B2^X&Y&Z^^^MR~||\r");
    const huren_hl7_seg *pid = huren_hl7_msg_find(msg, "PID", 1);

    assert_non_null(pid);
    assert_string_equal(huren_hl7_seg_name(pid), "PID");
    assert_int_equal(huren_hl7_seg_rep_count(pid, 3), 3);
    assert_string_equal(huren_hl7_seg_get(pid, 3, 1, 1, 1), "A1");
    assert_string_equal(huren_hl7_seg_get(pid, 3, 2, 1, 1), "B2");
    assert_int_equal(huren_hl7_seg_comp_count(pid, 3, 2), 5);
    assert_int_equal(huren_hl7_seg_sub_count(pid, 3, 2, 2), 3);
    assert_string_equal(huren_hl7_seg_get(pid, 3, 2, 2, 1), "X");
    assert_string_equal(huren_hl7_seg_get(pid, 3, 2, 2, 2), "Y");
    assert_string_equal(huren_hl7_seg_get(pid, 3, 2, 2, 3), "Z");
    assert_null(huren_hl7_seg_get(pid, 3, 2, 2, 4));
    assert_string_equal(huren_hl7_seg_get(pid, 3, 2, 5, 1), "MR");
    assert_null(huren_hl7_seg_get(pid, 3, 2, 6, 1));
    assert_string_equal(huren_hl7_seg_get(pid, 3, 3, 1, 1), ""); /* empty repetition */
    assert_null(huren_hl7_seg_get(pid, 3, 4, 1, 1));
    assert_string_equal(huren_hl7_seg_get(pid, 5, 1, 1, 1), ""); /* empty last field */
    assert_null(huren_hl7_seg_get(pid, 6, 1, 1, 1));             /* beyond the last */
    assert_int_equal(huren_hl7_seg_rep_count(pid, 4), 0);
    size_t len;
    const char *raw = huren_hl7_seg_raw(pid, 3, &len);
    assert_int_equal(len, strlen("A1~B2^X&Y&Z^^^MR~"));
    assert_memory_equal(raw, "A1~B2^X&Y&Z^^^MR~", len);
    huren_hl7_msg_free(msg);
}

static void test_null_vs_empty(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rPID|1|\"\"||X^\"\"\r");

    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 2, 1, 1, 1), "");
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 2, 1, 1, 1), 1);
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), "");
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 3, 1, 1, 1), 0);
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 4, 1, 2, 1), 1);
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 4, 1, 1, 1), 0);
    assert_int_equal(huren_hl7_msg_is_null(msg, "PID", 1, 9, 1, 1, 1), 0);
    huren_hl7_msg_free(msg);
}

static void test_terminators(void **state)
{
    (void)state;
    const char *ends[] = {"\r", "\n", "\r\n", "\n\r"};
    size_t i;

    for (i = 0; i < 4; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s%sPID|1||P%zu%sOBX|1|ST|X||V%s", MSH_STD, ends[i], i, ends[i],
                 ends[i]);
        huren_hl7_msg *msg = parse_ok(buf);
        char want[8];
        snprintf(want, sizeof(want), "P%zu", i);
        assert_int_equal(huren_hl7_msg_segment_count(msg), 3);
        assert_string_equal(huren_hl7_msg_version(msg), "2.5.1");
        assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), want);
        assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "V");
        huren_hl7_msg_free(msg);
    }
    /* no terminator at all after the last segment */
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rPID|1||X");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), "X");
    huren_hl7_msg_free(msg);
}

static void test_escapes(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rOBX|1|FT|X||"
                                          "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f~"
                                          "line1\\.br\\line2~"
                                          "\\X41424344\\~"
                                          "\\H\\bold\\N\\~"
                                          "\\XC3A9\\~"
                                          "x\\.sp\\y\r");

    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "a|b^c&d~e\\f");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 2, 1, 1), "line1\nline2");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 3, 1, 1), "ABCD");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 4, 1, 1), "bold");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 5, 1, 1), "\xC3\xA9");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 6, 1, 1), "x\ny");
    huren_hl7_msg_free(msg);
}

static void test_escape_errors(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    huren_hl7_msg *msg = NULL;
    const char *unknown = MSH_STD "\rOBX|1|ST|X||a\\Zfoo\\b\r";
    const char *unterminated = MSH_STD "\rOBX|1|ST|X||a\\F^b\r";
    const char *badhex = MSH_STD "\rOBX|1|ST|X||\\X4G\\\r";
    const char *oddhex = MSH_STD "\rOBX|1|ST|X||\\X414\\\r";
    const char *nul = MSH_STD "\rOBX|1|ST|X||\\X00\\\r";
    const char *badutf8 = MSH_STD "\rOBX|1|ST|X||\\XFF\\\r";

    /* by default, as interface engines do, what cannot be decoded stays as text */
    msg = parse_ok(unknown);
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "a\\Zfoo\\b");
    huren_hl7_msg_free(msg);
    msg = parse_ok(unterminated);
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "a\\F");
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 2, 1), "b");
    huren_hl7_msg_free(msg);
    msg = parse_ok(nul);
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "\\X00\\");
    huren_hl7_msg_free(msg);
    msg = parse_ok(badutf8);
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "\\XFF\\");
    huren_hl7_msg_free(msg);
    /* strict policy: each is an error naming the field */
    opts.unknown_escape = HUREN_HL7_ESCAPE_ERROR;
    const char *strict[] = {unknown, unterminated, badhex, oddhex, nul};
    for (size_t i = 0; i < sizeof(strict) / sizeof(strict[0]); i++) {
        assert_int_equal(
            huren_hl7_msg_parse(strict[i], strlen(strict[i]), &opts, &msg, err, sizeof(err)),
            HUREN_HL7_EESCAPE);
        assert_null(msg);
        assert_non_null(strstr(err, "OBX field 5"));
    }
    assert_int_equal(huren_hl7_msg_parse(badutf8, strlen(badutf8), &opts, &msg, err, sizeof(err)),
                     HUREN_HL7_ECHARSET);
    assert_int_equal(huren_hl7_msg_parse(unknown, strlen(unknown), &opts, &msg, err, sizeof(err)),
                     HUREN_HL7_EESCAPE);
    assert_non_null(strstr(err, "unknown escape"));
}

static void test_other_delimiters(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok("MSH#$%@!#LIS#HOSPA#HUREN#HOSPB#20240102##ADT$A01#C1#P#2.4\r"
                                  "PID#1##ID1$$$AUTH!X%ID2#x@F@y@S@z@T@w@R@v@E@u|^~\\&\r");

    assert_string_equal(huren_hl7_msg_delimiters(msg), "#$%@!");
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 1, 1, 1, 1), "#");
    assert_string_equal(huren_hl7_msg_get(msg, "MSH", 1, 2, 1, 1, 1), "$%@!");
    assert_string_equal(huren_hl7_msg_type(msg), "ADT");
    assert_string_equal(huren_hl7_msg_trigger(msg), "A01");
    assert_string_equal(huren_hl7_msg_version(msg), "2.4");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 1, 1), "ID1");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 4, 1), "AUTH");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 1, 4, 2), "X");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 3, 2, 1, 1), "ID2");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 4, 1, 1, 1), "x#y$z!w%v@u|^~\\&");
    huren_hl7_msg_free(msg);
}

static void test_bad_msh(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    const char *cases[] = {
        "PID|1||X\r",                                 /* no MSH */
        "",                                           /* empty */
        "MSH",                                        /* truncated before MSH-1 */
        "MSH|^~\r",                                   /* MSH-2 too short */
        "MSH|^~\\&#|A|B|C|D|2024||ADT^A01|1|P|2.5\r", /* MSH-2 too long */
        "MSH|^^\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\r",  /* repeated */
        "MSH|^~A&|A|B|C|D|2024||ADT^A01|1|P|2.5\r",   /* letter as delimiter */
        "MSHA^~\\&A|B|C|D|2024||ADT^A01|1|P|2.5\r",   /* letter as field separator */
    };
    int want[] = {HUREN_HL7_ENOMSH, HUREN_HL7_ENOMSH, HUREN_HL7_EDELIM, HUREN_HL7_EDELIM,
                  HUREN_HL7_EDELIM, HUREN_HL7_EDELIM, HUREN_HL7_EDELIM, HUREN_HL7_EDELIM};
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_fails(cases[i], strlen(cases[i]), want[i], err, sizeof(err));
    parse_fails(cases[3], strlen(cases[3]), HUREN_HL7_EDELIM, err, sizeof(err));
    assert_non_null(strstr(err, "MSH-2"));
}

static void test_truncated_and_missing(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    const char *trunc = "MSH|^~\\&|LIS|HOSPA|HUREN";
    const char *noid = "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01||P|2.5\r";
    const char *nover = "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|X|P\r";

    parse_fails(trunc, strlen(trunc), HUREN_HL7_ESYNTAX, err, sizeof(err));
    assert_non_null(strstr(err, "MSH-9"));
    parse_fails(noid, strlen(noid), HUREN_HL7_ESYNTAX, err, sizeof(err));
    assert_non_null(strstr(err, "MSH-10"));
    /* an empty MSH-12 is read as it comes; the ACK then says 2.5.1 */
    huren_hl7_msg *msg = parse_ok(nover);
    assert_string_equal(huren_hl7_msg_version(msg), "");
    huren_hl7_msg_free(msg);
}

static void test_versions(void **state)
{
    (void)state;
    /* MSH-12.1 of every release, with MSH-12.2 (country) as Chinese senders write it */
    const char *ok[] = {"2.1", "2.2", "2.3",   "2.3.1", "2.4",   "2.5",   "2.5.1",
                        "2.6", "2.7", "2.7.1", "2.8",   "2.8.1", "2.8.2", "2.9"};
    const char *bad[] = {"3.0", "2.0", "2.10", "2.5.", "2.5.x", "V2.5", "25", "2", "2.5.1.1.1"};
    char buf[256], err[256];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(buf, sizeof(buf), "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|%s^CHN\r", ok[i]);
        huren_hl7_msg *msg = parse_ok(buf);
        assert_string_equal(huren_hl7_msg_version(msg), ok[i]);
        huren_hl7_msg_free(msg);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|%s\r", bad[i]);
        parse_fails(buf, strlen(buf), HUREN_HL7_EVERSION, err, sizeof(err));
        assert_non_null(strstr(err, bad[i]));
        assert_non_null(strstr(err, "2.1 to 2.9"));
    }
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    huren_hl7_msg *msg = NULL;
    opts.accept_any_version = 1;
    assert_int_equal(huren_hl7_msg_parse(buf, strlen(buf), &opts, &msg, err, sizeof(err)), 0);
    huren_hl7_msg_free(msg);
}

#define MSH_CS(cs) "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ADT^A01|C1|P|2.4||||||" cs "\r"

static void test_charset_gb18030(void **state)
{
    (void)state;
    /* 王小明 in GB18030; 乗 (81 5C) and 亅 (81 7C) have a trail byte equal to '\' and '|' */
    huren_hl7_msg *msg = parse_ok(MSH_CS("GB18030") "PID|1||ID1||\xCD\xF5^\xD0\xA1\xC3\xF7||"
                                                    "\x81\x5C\x81\x7C|X\r");

    assert_string_equal(huren_hl7_msg_charset(msg), "GB18030");
    assert_string_equal(huren_hl7_msg_charset_iconv(msg), "GB18030");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "小明");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 7, 1, 1, 1), "乗亅");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 8, 1, 1, 1), "X");
    size_t tlen;
    const char *text = huren_hl7_msg_text(msg, &tlen);
    assert_int_equal(strlen(text), tlen);
    assert_non_null(strstr(text, "|王^小明||乗亅|X\r"));
    huren_hl7_msg_free(msg);
    /* 亅 (81 7C) in MSH-4: its trail byte looks like a field separator */
    msg = parse_ok("MSH|^~\\&|LIS|\x81\x7C|HUREN|HOSPB|2024||ADT^A01|C1|P|2.4||||||GB18030\r"
                   "PID|1||ID1||\xCD\xF5\r");
    assert_string_equal(huren_hl7_msg_charset(msg), "GB18030");
    assert_string_equal(huren_hl7_msg_sending_facility(msg), "亅");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王");
    huren_hl7_msg_free(msg);
    /* \X..\ bytes are in the message charset */
    msg = parse_ok(MSH_CS("GB18030") "PID|1||ID1||\\XCDF5D0A1C3F7\\\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王小明");
    huren_hl7_msg_free(msg);
}

static void test_charset_utf8_latin1(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_CS("UNICODE UTF-8") "PID|1||ID1||王^小明\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "小明");
    huren_hl7_msg_free(msg);
    msg = parse_ok(MSH_CS("UNICODE") "PID|1||ID1||王小明\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王小明");
    huren_hl7_msg_free(msg);
    msg = parse_ok(MSH_CS("8859/1") "PID|1||ID1||M\xFCller^Jos\xE9\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "Müller");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "José");
    huren_hl7_msg_free(msg);
    msg = parse_ok(MSH_CS("ASCII") "PID|1||ID1||DOE\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "DOE");
    huren_hl7_msg_free(msg);
    /* MSH-18 repeated: the first repetition is the message's set */
    msg = parse_ok(MSH_CS("GB18030~UNICODE UTF-8") "PID|1||ID1||\xCD\xF5\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王");
    huren_hl7_msg_free(msg);
}

static void test_charset_errors(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    huren_hl7_msg *msg = NULL;
    /* GB18030 bytes in a message that says UTF-8 */
    const char *wrong = MSH_CS("UNICODE UTF-8") "PID|1||ID1||\xCD\xF5\xD0\xA1\xC3\xF7\r";
    parse_fails(wrong, strlen(wrong), HUREN_HL7_ECHARSET, err, sizeof(err));
    assert_non_null(strstr(err, "UNICODE UTF-8"));
    assert_non_null(strstr(err, "0xCD"));
    const char *ascii = MSH_CS("ASCII") "PID|1||ID1||M\xFCller\r";
    parse_fails(ascii, strlen(ascii), HUREN_HL7_ECHARSET, err, sizeof(err));
    assert_non_null(strstr(err, "ASCII"));
    const char *gb = MSH_CS("GB18030") "PID|1||ID1||\xFF\xFF\r";
    parse_fails(gb, strlen(gb), HUREN_HL7_ECHARSET, err, sizeof(err));
    assert_non_null(strstr(err, "GB18030"));
    const char *unknown = MSH_CS("UNICODE UTF-16") "PID|1\r";
    parse_fails(unknown, strlen(unknown), HUREN_HL7_ECHARSET, err, sizeof(err));
    assert_non_null(strstr(err, "UNICODE UTF-16"));
    /* empty MSH-18 uses the configured default */
    const char *nolabel = MSH_CS("") "PID|1||ID1||\xCD\xF5\r";
    parse_fails(nolabel, strlen(nolabel), HUREN_HL7_ECHARSET, err, sizeof(err));
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    opts.default_charset = "GB18030";
    assert_int_equal(huren_hl7_msg_parse(nolabel, strlen(nolabel), &opts, &msg, err, sizeof(err)),
                     0);
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "王");
    assert_string_equal(huren_hl7_msg_charset_iconv(msg), "GB18030");
    huren_hl7_msg_free(msg);
}

static void test_hostile(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN], noise[4096];
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    huren_hl7_msg *msg = NULL;
    size_t i;
    uint32_t x = 12345;

    for (i = 0; i < sizeof(noise); i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (char)(x >> 16);
    }
    assert_true(huren_hl7_msg_parse(noise, sizeof(noise), NULL, &msg, err, sizeof(err)) < 0);
    assert_null(msg);
    memcpy(noise, MSH_STD "\r", strlen(MSH_STD) + 1); /* a good MSH followed by noise */
    assert_true(huren_hl7_msg_parse(noise, sizeof(noise), NULL, &msg, err, sizeof(err)) < 0);
    assert_null(msg);
    const char *badseg = MSH_STD "\rpid|1\r";
    parse_fails(badseg, strlen(badseg), HUREN_HL7_ESYNTAX, err, sizeof(err));
    assert_non_null(strstr(err, "segment 2"));
    const char *twomsh = MSH_STD "\rPID|1\r" MSH_STD "\r";
    parse_fails(twomsh, strlen(twomsh), HUREN_HL7_ESYNTAX, err, sizeof(err));
    assert_non_null(strstr(err, "second MSH"));
    const char nul[] = MSH_STD "\rPID|1|\0|x\r";
    parse_fails(nul, sizeof(nul) - 1, HUREN_HL7_ESYNTAX, err, sizeof(err));
    /* bounds */
    const char *two = MSH_STD "\rPID|1\rPV1|1\r";
    opts.max_segments = 2;
    assert_int_equal(huren_hl7_msg_parse(two, strlen(two), &opts, &msg, err, sizeof(err)),
                     HUREN_HL7_ETOOBIG);
    opts.max_segments = 10;
    opts.max_message_size = 20;
    assert_int_equal(huren_hl7_msg_parse(two, strlen(two), &opts, &msg, err, sizeof(err)),
                     HUREN_HL7_ETOOBIG);
    assert_null(msg);
}

static void test_header_only(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN];
    huren_hl7_msg *msg = NULL;
    const char *bad = "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|CTL9|P|3.0||||||UTF-16\r"
                      "PID|1||\\Zbad\\\r";

    assert_true(huren_hl7_msg_parse(bad, strlen(bad), NULL, &msg, err, sizeof(err)) < 0);
    assert_int_equal(huren_hl7_msg_parse_header(bad, strlen(bad), NULL, &msg, err, sizeof(err)), 0);
    assert_int_equal(huren_hl7_msg_is_partial(msg), 1);
    assert_string_equal(huren_hl7_msg_control_id(msg), "CTL9");
    assert_string_equal(huren_hl7_msg_sending_app(msg), "LIS");
    assert_int_equal(huren_hl7_msg_segment_count(msg), 1);
    huren_hl7_msg_free(msg);
    assert_int_equal(huren_hl7_msg_parse_header("garbage", 7, NULL, &msg, err, sizeof(err)),
                     HUREN_HL7_ENOMSH);
    assert_null(msg);
}

static void test_oru_walk(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok(MSH_STD "\rPID|1||P1\rOBR|1||A1|CBC\rOBX|1|NM|WBC||5.1\r"
                                          "OBX|2|NM|RBC||4.2\rOBR|2||A2|LFT\rOBX|1|NM|ALT||30\r");
    size_t i, n = huren_hl7_msg_segment_count(msg);
    char walk[128] = "";

    for (i = 0; i < n; i++) {
        const huren_hl7_seg *seg = huren_hl7_msg_segment(msg, i);
        if (strcmp(huren_hl7_seg_name(seg), "OBR") == 0)
            strcat(walk, huren_hl7_seg_get(seg, 4, 1, 1, 1));
        else if (strcmp(huren_hl7_seg_name(seg), "OBX") == 0)
            strcat(walk, ":"), strcat(walk, huren_hl7_seg_get(seg, 3, 1, 1, 1));
        if (strcmp(huren_hl7_seg_name(seg), "OBR") == 0)
            strcat(walk, "/");
    }
    assert_string_equal(walk, "CBC/:WBC:RBCLFT/:ALT");
    assert_null(huren_hl7_msg_segment(msg, n));
    assert_string_equal(huren_hl7_msg_get(msg, "OBX", 3, 5, 1, 1, 1), "30");
    huren_hl7_msg_free(msg);
}

static void test_bom_and_leading_space(void **state)
{
    (void)state;
    huren_hl7_msg *msg = parse_ok("\xEF\xBB\xBF\r\n" MSH_STD "\r");
    assert_string_equal(huren_hl7_msg_control_id(msg), "MSG001");
    huren_hl7_msg_free(msg);
}

int run_parse_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_header),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_null_vs_empty),
        cmocka_unit_test(test_terminators),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_escape_errors),
        cmocka_unit_test(test_other_delimiters),
        cmocka_unit_test(test_bad_msh),
        cmocka_unit_test(test_truncated_and_missing),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_charset_gb18030),
        cmocka_unit_test(test_charset_utf8_latin1),
        cmocka_unit_test(test_charset_errors),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_oru_walk),
        cmocka_unit_test(test_bom_and_leading_space),
    };
    return cmocka_run_group_tests_name("hl7_parse", tests, NULL, NULL);
}
