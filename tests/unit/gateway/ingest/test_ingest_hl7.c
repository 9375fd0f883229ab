/* test_ingest_hl7.c: the HL7 v2 -> clinical records mapping (gateway/ingest/ingest_hl7.c) on a
 * real archive in a temp folder: what each segment and field becomes, the ACK code and ERR of
 * every refusal, that a refusal stores nothing, duplicates, corrections, merges, money exact
 * to the fen, and a public message (NIST's lead test case) taken whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"
#include "huren_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "index/index_records.h"
#include "ingest/ingest_hl7.h"
#include "log.h"
#include "node.h"

#ifndef HUREN_SOURCE_DIR
#error "HUREN_SOURCE_DIR must name the source tree (tests/data/hl7)"
#endif

#define RESIDENT "11010519491231002X" /* check digit valid */

typedef struct fixture {
    char dir[64];
    config cfg;
    node n;
} fixture;

static void set(config *cfg, const char *section, const char *key, const char *value)
{
    char err[HUREN_ERRLEN];
    int rc = config_set(cfg, section, key, value, err, sizeof err);
    if (rc < 0)
        fail_msg("[%s] %s: %s", section, key, err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/huren-ingest-hl7-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(config_defaults(&f->cfg), 0);
    set(&f->cfg, "node", "data_dir", f->dir);
    set(&f->cfg, "archive", "fsync", "no");
    f->n.cfg = &f->cfg;
    char err[HUREN_ERRLEN];
    if (node_open_index(&f->n, err, sizeof err) < 0)
        fail_msg("archive: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    huren_index_close(f->n.index);
    config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Segments joined by '\r' (the tests write them one per line for reading). */
typedef struct outcome {
    ingest_result rc;
    huren_hl7_handler_result res;
    huren_index_put_outcome put;
} outcome;

static outcome send(fixture *f, const char *text)
{
    char *msg = strdup(text);
    assert_non_null(msg);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = '\r';
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    huren_hl7_msg *m = NULL;
    char err[HUREN_ERRLEN];
    if (huren_hl7_msg_parse(msg, strlen(msg), &opts, &m, err, sizeof err) != 0)
        fail_msg("parse: %s", err);
    outcome o = {.res = {.code = HUREN_HL7_AE}, .put = HUREN_INDEX_PUT_STORED};
    o.rc = ingest_hl7_message(&f->n, m, &o.res, &o.put);
    huren_hl7_msg_free(m);
    free(msg);
    return o;
}

static int report_count(fixture *f, const char *patient)
{
    huren_index_report_list l = {0};
    huren_index_report_filter any = {.kind = -1};
    int n = huren_index_reports_find(f->n.index, patient, &any, &l);
    huren_index_report_list_free(&l);
    return n;
}

static const char ORU[] =
    "MSH|^~\\&|LIS|H37010001|HUREN|H37010001|20261201083000||ORU^R01^ORU_R01|MSG0001|P|2.5.1\n"
    "PID|1||P1001^^^H37010001^MR~" RESIDENT "^^^CHN^ID||张^伟||19800101|M\n"
    "PV1|1|O|INTMED||||||||||||||||V2001\n"
    "ORC|RE|PL77|FL88\n"
    "OBR|1|PL77|FL88|GLU^血糖^L||20261201070000|20261201073000||||||||SER|||||||"
    "20261201082000|||F\n"
    "OBX|1|NM|GLU^葡萄糖^L||5.6|mmol/L|3.9-6.1|N|||F|||20261201080000\n"
    "OBX|2|NM|HBA1C^糖化血红蛋白^L||7.2|%|4.0-6.0|H|||F\n";

static void test_oru_maps_every_field(void **state)
{
    fixture *f = *state;
    outcome o = send(f, ORU);
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(o.res.code, HUREN_HL7_AA);
    assert_int_equal(o.put, HUREN_INDEX_PUT_STORED);

    /* found by the local id and by the resident id (PID-3 type ID, check digit valid) */
    assert_int_equal(report_count(f, RESIDENT), 1);
    huren_index_report_list l = {0};
    huren_index_report_filter any = {.kind = -1};
    assert_int_equal(huren_index_reports_find(f->n.index, "P1001", &any, &l), 1);
    const huren_index_report *r = &l.items[0];
    assert_int_equal(r->kind, HUREN_INDEX_REPORT_LAB);
    assert_string_equal(r->placer_number, "PL77");
    assert_string_equal(r->filler_number, "FL88");
    assert_string_equal(r->item_code, "GLU");
    assert_string_equal(r->item_name, "血糖");
    assert_string_equal(r->specimen, "SER");
    assert_string_equal(r->observed_time, "20261201073000");
    assert_string_equal(r->result_status, "F");
    assert_string_equal(r->performing_institution, "H37010001");
    assert_string_equal(r->visit_number, "V2001");
    assert_string_equal(r->message_id, "MSG0001");
    assert_int_equal(r->version, 1);
    assert_int_equal(r->nobs, 2);
    assert_string_equal(r->obs[0].code, "GLU");
    assert_string_equal(r->obs[0].value_type, "NM");
    assert_string_equal(r->obs[0].value, "5.6");
    assert_string_equal(r->obs[0].units, "mmol/L");
    assert_string_equal(r->obs[0].reference_range, "3.9-6.1");
    assert_string_equal(r->obs[0].abnormal_flags, "N");
    assert_string_equal(r->obs[1].code, "HBA1C");
    assert_string_equal(r->obs[1].abnormal_flags, "H");
    huren_index_report_list_free(&l);

    /* the patient as the PID gave it */
    huren_index_visit_record v = {0};
    assert_int_equal(huren_index_visit_get(f->n.index, "P1001", "V2001", &v), 0);
    assert_string_equal(v.patient.national_id, RESIDENT);
    assert_string_equal(v.patient.national_id_type, "ID");
    assert_string_equal(v.patient.name, "张^伟");
    assert_string_equal(v.patient.sex, "M");
    assert_string_equal(v.patient.birth_date, "19800101");
    assert_string_equal(v.visit.visit_class, "O");
    assert_string_equal(v.visit.department, "INTMED");
    huren_index_visit_record_free(&v);
}

static void test_same_message_twice_is_a_duplicate(void **state)
{
    fixture *f = *state;
    assert_int_equal(send(f, ORU).put, HUREN_INDEX_PUT_STORED);
    outcome o = send(f, ORU);
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(o.res.code, HUREN_HL7_AA); /* the sender stops resending */
    assert_int_equal(o.put, HUREN_INDEX_PUT_DUPLICATE);
    assert_int_equal(report_count(f, "P1001"), 1);
}

static void test_correction_replaces_and_keeps_history(void **state)
{
    fixture *f = *state;
    assert_int_equal(send(f, ORU).rc, INGEST_OK);
    /* a new control id, the same order (filler FL88, item GLU), status C, another value */
    static const char corrected[] =
        "MSH|^~\\&|LIS|H37010001|HUREN|H37010001|20261201093000||ORU^R01^ORU_R01|MSG0002|P|2.5.1\n"
        "PID|1||P1001^^^H37010001^MR~" RESIDENT "^^^CHN^ID||张^伟||19800101|M\n"
        "PV1|1|O|INTMED||||||||||||||||V2001\n"
        "ORC|RE|PL77|FL88\n"
        "OBR|1|PL77|FL88|GLU^血糖^L||20261201070000|20261201073000||||||||SER|||||||"
        "20261201092000|||C\n"
        "OBX|1|NM|GLU^葡萄糖^L||5.9|mmol/L|3.9-6.1|N|||C\n";
    const char *text = corrected;
    outcome o = send(f, text);
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(o.put, HUREN_INDEX_PUT_STORED);

    huren_index_report_list l = {0};
    huren_index_report_filter any = {.kind = -1};
    assert_int_equal(huren_index_reports_find(f->n.index, "P1001", &any, &l), 1);
    int64_t id = l.items[0].id;
    assert_int_equal(l.items[0].version, 2);
    assert_string_equal(l.items[0].result_status, "C");
    assert_int_equal(l.items[0].nobs, 1);
    assert_string_equal(l.items[0].obs[0].value, "5.9");
    huren_index_report_list_free(&l);
    assert_int_equal(huren_index_report_get(f->n.index, id, &l), 0);
    assert_int_equal(l.n, 2); /* current + history */
    assert_string_equal(l.items[1].obs[0].value, "5.6");
    assert_non_null(l.items[1].replaced_at);
    huren_index_report_list_free(&l);
}

static void test_refusals_store_nothing(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *msg, *code, *error, *location, *why;
    } cases[] = {
        {"MSH|^~\\&|LIS|H1|HUREN|H1|20261201||ORU^R01|M1|P|2.5.1\n"
         "PID|1||||王^芳\nOBR|1|PL1||GLU^Glucose^L\nOBX|1|NM|GLU||5||||||F\n",
         "AE", HUREN_HL7_ERR_REQUIRED_FIELD, "PID^1^3", "PID-3"},
        {"MSH|^~\\&|LIS|H1|HUREN|H1|20261201||ORU^R01|M2|P|2.5.1\n"
         "PID|1||P9\nPV1|1|O\n",
         "AE", HUREN_HL7_ERR_SEGMENT_SEQUENCE, "OBR^1", "OBR"},
        {"MSH|^~\\&|LIS|H1|HUREN|H1|20261201||QRY^A19|M3|P|2.5.1\nPID|1||P9\n", "AR",
         HUREN_HL7_ERR_UNSUPPORTED_TYPE, "MSH^1^9", "QRY"},
        {"MSH|^~\\&|HIS|H1|HUREN|H1|20261201||ADT^A99|M4|P|2.5.1\nPID|1||P9\n", "AR",
         HUREN_HL7_ERR_UNSUPPORTED_EVENT, "MSH^1^9", "A99"},
        {"MSH|^~\\&|HIS|H1|HUREN|H1|20261201||DFT^P03|M5|P|2.5.1\nPID|1||P9\n"
         "PV1|1|O|||||||||||||||||V9\nFT1|1|T1||||CG|CT01^CT 平扫|||1|12.345\n",
         "AE", HUREN_HL7_ERR_DATA_TYPE, "FT1^1^11", "fen"},
        {"MSH|^~\\&|HIS|H1|HUREN|H1|20261201||DFT^P03|M6|P|2.5.1\nPID|1||P9\n"
         "PV1|1|O|||||||||||||||||V9\nFT1|1|T1||||CG|^no code|||1|10.00\n",
         "AE", HUREN_HL7_ERR_REQUIRED_FIELD, "FT1^1^7", "FT1-7"},
        {"MSH|^~\\&|HIS|H1|HUREN|H1|20261201||ADT^A40|M7|P|2.5.1\nPID|1||P9\n", "AE",
         HUREN_HL7_ERR_SEGMENT_SEQUENCE, "MRG^1", "MRG"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        outcome o = send(f, cases[i].msg);
        const char *code = o.res.code == HUREN_HL7_AA   ? "AA"
                           : o.res.code == HUREN_HL7_AR ? "AR"
                                                        : "AE";
        if (strcmp(code, cases[i].code) || o.rc != INGEST_INVALID ||
            strcmp(o.res.error_code, cases[i].error) || strcmp(o.res.location, cases[i].location) ||
            !strstr(o.res.text, cases[i].why))
            fail_msg("case %zu: %s %s at '%s': %s", i, code, o.res.error_code, o.res.location,
                     o.res.text);
    }
    assert_int_equal(huren_index_rec_patient_exists(f->n.index, "P9", NULL, 0), 0);
    assert_int_equal(report_count(f, "P9"), 0);
}

static void test_bad_resident_id_is_not_a_national_id(void **state)
{
    fixture *f = *state;
    /* check digit wrong: kept as the local id when nothing else names the patient */
    outcome o = send(f, "MSH|^~\\&|LIS|H1|HUREN|H1|20261201||ORU^R01|M8|P|2.5.1\n"
                        "PID|1||110105194912310021^^^CHN^ID\n"
                        "OBR|1|PL8||GLU^Glucose^L\nOBX|1|NM|GLU||5||||||F\n");
    assert_int_equal(o.rc, INGEST_OK);
    char local[64];
    assert_int_equal(
        huren_index_rec_patient_exists(f->n.index, "110105194912310021", local, sizeof local), 1);
    huren_index_report_list l = {0};
    huren_index_report_filter any = {.kind = -1};
    assert_int_equal(huren_index_reports_find(f->n.index, "110105194912310021", &any, &l), 1);
    assert_string_equal(l.items[0].patient_id, "110105194912310021");
    huren_index_report_list_free(&l);

    /* 15-digit ids are upgraded to 18 on the way in: one patient, one id */
    o = send(f, "MSH|^~\\&|LIS|H1|HUREN|H1|20261201||ORU^R01|M9|P|2.5.1\n"
                "PID|1||P15^^^H1^MR~110105491231002^^^CHN^ID\n"
                "OBR|1|PL9||GLU^Glucose^L\nOBX|1|NM|GLU||5||||||F\n");
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(report_count(f, "11010519491231002X"), 1);
}

static void test_charges_in_fen_and_diagnoses(void **state)
{
    fixture *f = *state;
    outcome o = send(f, "MSH|^~\\&|HIS|H1|HUREN|H1|20261201||DFT^P03|M10|P|2.5.1\n"
                        "PID|1||P20^^^H1^MR\nPV1|1|I|WARD3||||||||||||||||V20\n"
                        "FT1|1|T1||20261201||CG|CT01^CT 平扫|||1|320.50||^放射科\n"
                        "FT1|2|T2||20261201||CG|LAB7^血常规|||3||25.10\n"
                        "DG1|1||E11.9^2型糖尿病^I10||20261130|F\n");
    assert_int_equal(o.rc, INGEST_OK);
    huren_index_visit_record v = {0};
    assert_int_equal(huren_index_visit_get(f->n.index, "P20", "V20", &v), 0);
    assert_int_equal(v.ncharges, 2);
    assert_int_equal(v.charges[0].amount_fen, 32050);
    assert_string_equal(v.charges[0].item_code, "CT01");
    assert_string_equal(v.charges[0].department, "放射科");
    assert_int_equal(v.charges[1].amount_fen, 7530); /* 3 x 25.10, no FT1-11 */
    assert_int_equal(v.charges[1].has_unit_price, 1);
    assert_int_equal(v.charges[1].unit_price_fen, 2510);
    assert_int_equal(v.total_fen, 39580);
    assert_int_equal(v.ndiagnoses, 1);
    assert_string_equal(v.diagnoses[0].code, "E11.9");
    assert_string_equal(v.diagnoses[0].type, "F");
    huren_index_visit_record_free(&v);

    /* a charge re-sent with the same transaction id replaces the earlier one */
    o = send(f, "MSH|^~\\&|HIS|H1|HUREN|H1|20261201||DFT^P03|M11|P|2.5.1\n"
                "PID|1||P20^^^H1^MR\nPV1|1|I|WARD3||||||||||||||||V20\n"
                "FT1|1|T1||20261201||CG|CT01^CT 平扫|||1|300.00\n");
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(huren_index_visit_get(f->n.index, "P20", "V20", &v), 0);
    assert_int_equal(v.ncharges, 2);
    assert_int_equal(v.total_fen, 30000 + 7530);
    huren_index_visit_record_free(&v);
}

static void test_money_is_exact_to_the_fen(void **state)
{
    (void)state;
    int64_t fen = 0;
    assert_int_equal(ingest_hl7_money_parse("123.45", &fen), 0);
    assert_int_equal(fen, 12345);
    assert_int_equal(ingest_hl7_money_parse("-0.5", &fen), 0);
    assert_int_equal(fen, -50);
    assert_int_equal(ingest_hl7_money_parse("7", &fen), 0);
    assert_int_equal(fen, 700);
    assert_int_equal(ingest_hl7_money_parse("+5", &fen), 0); /* NM: an optional leading sign */
    assert_int_equal(fen, 500);
    static const char *const bad[] = {
        "1.234", "1e3", "+-5", "1,50", "", "--1", "12.3.4", "1234567890123456", "0x10", "5 5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ingest_hl7_money_parse(bad[i], &fen) == 0)
            fail_msg("'%s' parsed as %lld fen", bad[i], (long long)fen);
}

static void test_merge_moves_reports(void **state)
{
    fixture *f = *state;
    assert_int_equal(send(f, ORU).rc, INGEST_OK); /* P1001's report */
    outcome o = send(f, "MSH|^~\\&|HIS|H1|HUREN|H1|20261202||ADT^A40|M12|P|2.5.1\n"
                        "EVN|A40|20261202\nPID|1||P1002^^^H37010001^MR||张^伟\n"
                        "MRG|P1001^^^H37010001^MR\n");
    assert_int_equal(o.rc, INGEST_OK);
    char survivor[64];
    assert_int_equal(huren_index_rec_patient_exists(f->n.index, "P1001", survivor, sizeof survivor),
                     1);
    assert_string_equal(survivor, "P1002");
    assert_int_equal(report_count(f, "P1002"), 1);

    /* merging a patient nobody knows: AE, nothing changes */
    o = send(f, "MSH|^~\\&|HIS|H1|HUREN|H1|20261202||ADT^A40|M13|P|2.5.1\n"
                "PID|1||P1003\nMRG|NOBODY\n");
    assert_int_not_equal(o.res.code, HUREN_HL7_AA);
    assert_int_equal(huren_index_rec_patient_exists(f->n.index, "P1003", NULL, 0), 0);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("%s: cannot open", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return buf;
}

/* NIST's ELR 2.5.1 lead test message (tests/data/hl7/SOURCES.md): as a public lab would send */
static void test_public_lead_message(void **state)
{
    fixture *f = *state;
    const char *text = slurp(HUREN_SOURCE_DIR "/tests/data/hl7/nist-oru-2.5.1-lead-case1.hl7");
    outcome o = send(f, text);
    assert_int_equal(o.rc, INGEST_OK);
    assert_int_equal(o.res.code, HUREN_HL7_AA);
    assert_int_equal(o.put, HUREN_INDEX_PUT_STORED);
    /* its PID-3 is a medical record number (type MR); OBR-4 a LOINC code */
    const char *id = "9817566735";
    huren_index_report_list l = {0};
    huren_index_report_filter any = {.kind = -1};
    assert_true(huren_index_reports_find(f->n.index, id, &any, &l) >= 1);
    assert_true(l.items[0].nobs >= 1);
    assert_string_equal(l.items[0].item_code, "10368-9");
    assert_string_equal(l.items[0].item_system, "LN");
    assert_string_equal(l.items[0].filler_number, "9700123");
    huren_index_report_list_free(&l);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    log_init(LOG_LEVEL_ERROR, stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oru_maps_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_message_twice_is_a_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_correction_replaces_and_keeps_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals_store_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_resident_id_is_not_a_national_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charges_in_fen_and_diagnoses, setup, teardown),
        cmocka_unit_test(test_money_is_exact_to_the_fen),
        cmocka_unit_test_setup_teardown(test_merge_moves_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_lead_message, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
