/* test_charset.c: MSH-18 by HL7 table 0211 and the vendor spellings (each label parsed in a
 * real message and the iconv set it maps to checked), the repetition rule of ISO 2022 senders,
 * conversions of ISO 2022 Japanese, KS X 1001 with its designations, EUC-TW and BIG-5, and the
 * framings of real feeds (LF, CRLF, blank lines and ^Z after the last segment). */
#include <stdio.h>

#include "test_hl7.h"
#include "huren_err.h"

#define MSH_AT(cs) "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|C1|P|2.5||||||" cs "\r"

static const char *iconv_of(const char *label)
{
    static char name[64];
    char buf[256];
    huren_hl7_msg *msg;

    snprintf(buf, sizeof(buf), MSH_AT("%s") "PID|1||ID1\r", label);
    msg = parse_ok(buf);
    snprintf(name, sizeof(name), "%s", huren_hl7_msg_charset_iconv(msg));
    huren_hl7_msg_free(msg);
    return name;
}

static void test_table_0211(void **state)
{
    (void)state;
    static const struct {
        const char *label, *iconv;
    } table[] = {
        {"ASCII", "ASCII"},
        {"8859/1", "ISO-8859-1"},
        {"8859/2", "ISO-8859-2"},
        {"8859/3", "ISO-8859-3"},
        {"8859/4", "ISO-8859-4"},
        {"8859/5", "ISO-8859-5"},
        {"8859/6", "ISO-8859-6"},
        {"8859/7", "ISO-8859-7"},
        {"8859/8", "ISO-8859-8"},
        {"8859/9", "ISO-8859-9"},
        {"ISO IR14", "ISO-2022-JP-2"},
        {"ISO IR87", "ISO-2022-JP-2"},
        {"ISO IR159", "ISO-2022-JP-2"},
        {"ISO IR149", "CP949"},
        {"KS X 1001", "CP949"},
        {"GB 18030-2000", "GB18030"},
        {"BIG-5", "BIG5"},
        {"CNS 11643-1992", "EUC-TW"},
        {"UNICODE UTF-8", "UTF-8"},
        {"UNICODE", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        assert_string_equal(iconv_of(table[i].label), table[i].iconv);
}

static void test_vendor_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *label, *iconv;
    } spell[] = {
        {"GB18030", "GB18030"},
        {"gb18030", "GB18030"},
        {"GBK", "GB18030"},
        {"GB2312", "GB18030"},
        {"GB 2312", "GB18030"},
        {"gb_2312", "GB18030"},
        {"CP936", "GB18030"},
        {"GB-18030", "GB18030"},
        {"UTF-8", "UTF-8"},
        {"UTF8", "UTF-8"},
        {"utf-8", "UTF-8"},
        {"ISO_IR 192", "UTF-8"},
        {"ISO-8859-1", "ISO-8859-1"},
        {"iso8859-9", "ISO-8859-9"},
        {"ISO_IR 100", "ISO-8859-1"},
        {"Latin1", "ISO-8859-1"},
        {"BIG5", "BIG5"},
        {"EUC-KR", "CP949"},
        {"Shift_JIS", "SHIFT_JIS"},
        {"EUC-JP", "EUC-JP"},
        {"windows-1252", "CP1252"},
        {"gb 18030-2000", "GB18030"},
        {" GBK ", "GB18030"},
    };
    for (size_t i = 0; i < sizeof(spell) / sizeof(spell[0]); i++)
        assert_string_equal(iconv_of(spell[i].label), spell[i].iconv);
    char err[HUREN_ERRLEN];
    const char *refused[] = {MSH_AT("UNICODE UTF-16") "PID|1\r", MSH_AT("UNICODE UTF-32") "PID|1\r",
                             MSH_AT("EBCDIC") "PID|1\r", MSH_AT("GB18030X") "PID|1\r"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        parse_fails(refused[i], strlen(refused[i]), HUREN_HL7_ECHARSET, err, sizeof(err));
        assert_non_null(strstr(err, "MSH-18"));
    }
}

static void test_repetitions_and_iso2022(void **state)
{
    (void)state;
    /* JAHIS style: G0 ASCII first (empty or ISO IR6), then the set switched to with escapes;
     * 山田^太郎 as PS3.5 writes it (ESC $ B ... ESC ( B) */
    const char *jp_names[] = {"~ISO IR87", "ISO IR6~ISO IR87", "ASCII~ISO IR87~ISO IR159"};
    for (size_t i = 0; i < sizeof(jp_names) / sizeof(jp_names[0]); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), MSH_AT("%s") "PID|1||ID1||\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B\r",
                 jp_names[i]);
        huren_hl7_msg *msg = parse_ok(buf);
        assert_string_equal(huren_hl7_msg_charset(msg), "ISO IR87");
        assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "山田");
        assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "太郎");
        huren_hl7_msg_free(msg);
    }
    /* KS X 1001 with DICOM's designations (PS3.5 H.3): 김희중 */
    huren_hl7_msg *msg = parse_ok(MSH_AT("ISO IR149") "PID|1||ID1||\x1b$)C\xb1\xe8\xc8\xf1"
                                                      "\xc1\xdf\x1b(B\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "김희중");
    huren_hl7_msg_free(msg);
    /* and without them, as EUC-KR senders write it */
    msg = parse_ok(MSH_AT("KS X 1001") "PID|1||ID1||\xb1\xe8\xc8\xf1\xc1\xdf\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "김희중");
    huren_hl7_msg_free(msg);
    /* BIG-5 and CNS 11643 (EUC-TW): 中文 */
    msg = parse_ok(MSH_AT("BIG-5") "PID|1||ID1||\xa4\xa4\xa4\xe5\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "中文");
    huren_hl7_msg_free(msg);
    msg = parse_ok(MSH_AT("CNS 11643-1992") "PID|1||ID1||\xc4\xe3\xc5\xc6\r");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1), "中文");
    huren_hl7_msg_free(msg);
    /* GB 18030-2000, the table 0211 name: 王小明 */
    msg = parse_ok(MSH_AT("GB 18030-2000") "PID|1||ID1||\xCD\xF5^\xD0\xA1\xC3\xF7\r");
    assert_string_equal(huren_hl7_msg_charset(msg), "GB 18030-2000");
    assert_string_equal(huren_hl7_msg_get(msg, "PID", 1, 5, 1, 2, 1), "小明");
    /* the ACK goes back in the same set, MSH-18 copied */
    char *ack = NULL, err[128];
    size_t len;
    assert_int_equal(huren_hl7_ack_build(msg, "AA", "", NULL, &ack, &len, err, sizeof(err)), 0);
    assert_non_null(strstr(ack, "|GB 18030-2000"));
    huren_hl7_buf_free(ack);
    huren_hl7_msg_free(msg);
}

static void test_framings(void **state)
{
    (void)state;
    const char *framings[] = {
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\nPID|1||X\nOBX|1|ST|A||v\n",
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\r\nPID|1||X\r\nOBX|1|ST|A||v\r\n",
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\rPID|1||X\rOBX|1|ST|A||v\r\r\n  \r\t\n\x1a",
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\rPID|1||X\rOBX|1|ST|A||v",
    };
    for (size_t i = 0; i < sizeof(framings) / sizeof(framings[0]); i++) {
        huren_hl7_msg *msg = parse_ok(framings[i]);
        assert_int_equal(huren_hl7_msg_segment_count(msg), 3);
        assert_string_equal(huren_hl7_msg_get(msg, "OBX", 1, 5, 1, 1, 1), "v");
        huren_hl7_msg_free(msg);
    }
    /* a line that is not a segment is still an error, naming where it is */
    char err[HUREN_ERRLEN];
    const char *bad = "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\rPID|1||X\rnot a segment\r";
    parse_fails(bad, strlen(bad), HUREN_HL7_ESYNTAX, err, sizeof(err));
    assert_non_null(strstr(err, "segment 3"));
}

int run_charset_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_0211),
        cmocka_unit_test(test_vendor_spellings),
        cmocka_unit_test(test_repetitions_and_iso2022),
        cmocka_unit_test(test_framings),
    };
    return cmocka_run_group_tests_name("hl7 charsets and framing", tests, NULL, NULL);
}
