/* test_schema.c: the field table, each schema migration step on :memory:, and open/reopen of
 * an archive on disk (WAL mode, leftover temp files removed). */
#include "test_index.h"
#include "huren_err.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void field_table(void **state)
{
    (void)state;
    for (int f = 0; f < HUREN_INDEX_F_COUNT; f++)
        for (int g = f + 1; g < HUREN_INDEX_F_COUNT; g++)
            assert_string_not_equal(huren_index_field_name(f), huren_index_field_name(g));
    assert_string_equal(huren_index_field_name(HUREN_INDEX_F_PATIENT_ID), "patient_id");
    assert_string_equal(huren_index_field_name(HUREN_INDEX_F_TRANSFER_SYNTAX_UID),
                        "transfer_syntax_uid");
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_PATIENT_NAME), HUREN_INDEX_KIND_PN);
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_STUDY_DATE), HUREN_INDEX_KIND_DATE);
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_SERIES_TIME), HUREN_INDEX_KIND_TIME);
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_SOP_CLASS_UID), HUREN_INDEX_KIND_UID);
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_MODALITIES_IN_STUDY),
                     HUREN_INDEX_KIND_MULTI);
    assert_int_equal(huren_index_field_kind(HUREN_INDEX_F_STUDY_NUM_SERIES),
                     HUREN_INDEX_KIND_COUNT);
    assert_int_equal(huren_index_field_level(HUREN_INDEX_F_OTHER_PATIENT_IDS),
                     HUREN_INDEX_LEVEL_PATIENT);
    assert_int_equal(huren_index_field_level(HUREN_INDEX_F_SOP_CLASSES_IN_STUDY),
                     HUREN_INDEX_LEVEL_STUDY);
    assert_int_equal(huren_index_field_level(HUREN_INDEX_F_PPS_START_TIME),
                     HUREN_INDEX_LEVEL_SERIES);
    assert_int_equal(huren_index_field_level(HUREN_INDEX_F_ROWS), HUREN_INDEX_LEVEL_INSTANCE);
    /* levels never go back up along the enum */
    for (int f = 1; f < HUREN_INDEX_F_COUNT; f++)
        assert_true(huren_index_field_level(f) >= huren_index_field_level(f - 1));
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int n = -1;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void migrate_steps_memory(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    char err[HUREN_ERRLEN] = "";
    int v = -1;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_true(huren_index__schema_latest() >= 8);

    /* step 1: tables only */
    assert_int_equal(huren_index__schema_migrate(db, 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1);
    assert_int_equal(count_rows(db, "PRAGMA user_version"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table'"), 6);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='index'"
                                    " AND sql IS NOT NULL"),
                     0);
    /* step 1's tables work: an empty PatientID is a key like any other */
    assert_int_equal(
        sqlite3_exec(db, "INSERT INTO patients(patient_id) VALUES ('')", NULL, NULL, NULL),
        SQLITE_OK);

    /* step 2: the query indexes, on a database that already has rows */
    assert_int_equal(huren_index__schema_migrate(db, 2, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='index'"
                                    " AND name='studies_patient'"),
                     1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='index'"
                                    " AND sql IS NOT NULL"),
                     14);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM patients"), 1);

    /* step 3: totals, initialised from the rows already there */
    assert_int_equal(huren_index__schema_migrate(db, 3, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 3);
    assert_int_equal(count_rows(db, "SELECT patients FROM totals WHERE id=1"), 1);
    assert_int_equal(count_rows(db, "SELECT instances + bytes FROM totals WHERE id=1"), 0);

    /* step 4: clinical records, next to the DICOM tables, which keep their rows */
    assert_int_equal(huren_index__schema_migrate(db, 4, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 4);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                                    " name IN ('rec_patients','patient_merges','visits','reports',"
                                    "'observations','report_history','observation_history',"
                                    "'diagnoses','charges','messages')"),
                     10);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM patients"), 1);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO messages(source, control_id) VALUES ('A|B', '1')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "INSERT INTO messages(source, control_id) VALUES ('A|B', '1')", NULL, NULL,
                     NULL),
        SQLITE_OK);

    /* step 5: pack offsets; rows from before get offset 0 (a file of their own) */
    assert_int_equal(huren_index__schema_migrate(db, 5, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 5);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM pragma_table_info('instances')"
                                    " WHERE name='blob_offset'"),
                     1);

    /* step 6: consents and claims; a claim request id is unique per insurer */
    assert_int_equal(huren_index__schema_migrate(db, 6, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 6);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                                    " name IN ('consents','consent_visits','claims')"),
                     3);
    assert_int_not_equal(
        sqlite3_exec(db,
                     "INSERT INTO consents(patient_id, purpose, grantee, valid_from,"
                     " expires_at, form_ref, created_by, created_at)"
                     " VALUES ('P', 'marketing', 'I', 0, 1, 'F', 'x', 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);

    /* step 7: the regional directory and the outbox (test_directory.c checks them) */
    assert_int_equal(huren_index__schema_migrate(db, 7, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 7);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                                    " name IN ('dir_entries','outbox','publish_state')"),
                     3);

    /* step 8: recognition prompts and decisions; one decision per (prompt, result) */
    assert_int_equal(huren_index__schema_migrate(db, 8, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 8);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                                    " name IN ('rec_prompts','rec_shown','rec_decisions')"),
                     3);
    assert_int_not_equal(
        sqlite3_exec(db,
                     "INSERT INTO rec_decisions(decision_id, prompt_pk, result_key, decision,"
                     " created_at) VALUES ('d', 1, 'k', 'maybe', 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);

    /* step 9: retrieved copies; studies from before count no copies (they are own) */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO patients(patient_id) VALUES ('P9');"
                                  "INSERT INTO studies(patient_pk, study_uid) VALUES (1, '9.9')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, 9, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 9);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                                    " name IN ('instance_copies','rec_prompt_patients')"),
                     2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM studies WHERE study_uid='9.9' AND"
                                    " copy_instances=0 AND copy_source IS NULL"),
                     1);
    /* a copy names its source institution */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO instance_copies(instance_pk, retrieved_at)"
                                      " VALUES (1, 0)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);

    /* step 10: exam parts of directory entries, the prompt's identity; rows from before keep
     * working (NULL parts, no key) */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO dir_entries(pseudonym, institution, record_key,"
                                  " version, kind, received_at) VALUES ('p', 'H', 'study:1', 1,"
                                  " 'imaging', '20260101000000');"
                                  "INSERT INTO rec_prompts(prompt_id, created_at, day, pseudonym,"
                                  " item_code) VALUES ('old1', 0, '20260101', 'p', 'CT'),"
                                  " ('old2', 0, '20260101', 'p', 'CT');"
                                  "INSERT INTO outbox(pk, record_key, version, pseudonym,"
                                  " created_at) VALUES (7, 'study:1', 1, 'p', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    int ten = 10;
    assert_int_equal(huren_index__schema_migrate(db, ten, &v, err, sizeof(err)), 0);
    assert_int_equal(v, ten);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM dir_entries WHERE images IS NULL AND"
                                    " report IS NULL AND report_key IS NULL"),
                     1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM rec_prompts WHERE counted = 1 AND"
                                    " prompt_key IS NULL"),
                     2);
    /* the outbox keeps its rows; a row id is never given again, even the highest one's */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM outbox WHERE pk = 7"), 1);
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM outbox; INSERT INTO outbox(record_key, version,"
                                  " pseudonym, created_at) VALUES ('study:1', 2, 'p', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT max(pk) FROM outbox"), 8);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE rec_prompts SET prompt_key = 'k' WHERE prompt_id = 'old1'", NULL,
                     NULL, NULL),
        SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE rec_prompts SET prompt_key = 'k' WHERE prompt_id = 'old2'", NULL,
                     NULL, NULL),
        SQLITE_OK);

    /* 11: claims made before get version numbers in the order they were made, per insurer,
     * patient and visit; a second claim of one version is refused */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO consents(pk, patient_id, purpose, grantee,"
                                  " valid_from, expires_at, form_ref, created_by, created_at)"
                                  " VALUES (1, 'P1', 'claim', 'INS', 0, 9, 'F', 'dr', 0);"
                                  "INSERT INTO claims(claim_id, insurer, request_id, request_hash,"
                                  " consent_pk, patient_id, visit_number, jws, created_at) VALUES"
                                  " ('a', 'INS', 'r1', 'h', 1, 'P1', 'V1', 'x', 0),"
                                  " ('b', 'INS', 'r2', 'h', 1, 'P1', 'V1', 'x', 0),"
                                  " ('c', 'INS', 'r3', 'h', 1, 'P1', 'V2', 'x', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, 11, &v, err, sizeof(err)), 0);
    assert_int_equal(count_rows(db, "SELECT version FROM claims WHERE claim_id = 'b'"), 2);
    assert_int_equal(count_rows(db, "SELECT version FROM claims WHERE claim_id = 'c'"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM claims WHERE data_hash IS NULL"), 3);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE claims SET version = 1 WHERE claim_id = 'b'", NULL, NULL, NULL),
        SQLITE_OK);

    /* the rest, then again: nothing to do */
    assert_int_equal(huren_index__schema_migrate(db, 0, &v, err, sizeof(err)), 0);
    assert_int_equal(v, huren_index__schema_latest());
    assert_int_equal(huren_index__schema_migrate(db, 0, &v, err, sizeof(err)), 0);
    assert_int_equal(v, huren_index__schema_latest());

    /* a database from a newer build is refused */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(huren_index__schema_migrate(db, 0, &v, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "newer"));
    sqlite3_close(db);
}

static void migrate_failure_rolls_back(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    char err[HUREN_ERRLEN] = "";
    int v = -1;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(huren_index__schema_migrate(db, 1, &v, err, sizeof(err)), 0);
    /* make step 2 fail halfway: one of its indexes already exists under that name */
    assert_int_equal(sqlite3_exec(db, "CREATE INDEX series_study ON series(pk)", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(huren_index__schema_migrate(db, 0, &v, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "migration 2"));
    assert_int_equal(v, 1);
    assert_int_equal(count_rows(db, "PRAGMA user_version"), 1);
    /* the step's first indexes were rolled back with it */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE"
                                    " name='patients_name_norm'"),
                     0);
    sqlite3_close(db);
}

static void open_reopen(void **state)
{
    (void)state;
    tfix t;
    tinst in;
    char path[PATH_MAX], leftover[PATH_MAX];
    tfix_open(&t, 1, HUREN_INDEX_DUP_KEEP);
    assert_int_equal(huren_index_schema_version(t.idx), huren_index__schema_latest());
    assert_non_null(strstr(huren_index_tmp_dir(t.idx), "/tmp"));
    tinst_init(&in, "P1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT", "1.2.840.10008.5.1.4.1.1.2");
    assert_int_equal(put_ok(t.idx, &in, "dicom"), HUREN_INDEX_PUT_STORED);

    /* a crash leaves a temp file behind: the next open removes it */
    tmp_write(t.idx, "half written", leftover, sizeof(leftover));
    tfix_reopen(&t);
    assert_false(file_exists(leftover));
    assert_int_equal(huren_index_schema_version(t.idx), huren_index__schema_latest());
    huren_index_stats s;
    assert_int_equal(huren_index_stats_get(t.idx, &s), 0);
    assert_int_equal(s.instances, 1);
    assert_int_equal(s.bytes, 5);

    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/index.db", t.dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    tfix_close(&t);
}

static void open_errors(void **state)
{
    (void)state;
    huren_index *idx = (huren_index *)1;
    char err[HUREN_ERRLEN] = "";
    huren_index_options o = HUREN_INDEX_OPTIONS_INIT;
    assert_int_equal(huren_index_open(&idx, &o, err, sizeof(err)), HUREN_INDEX_EINVAL);
    assert_null(idx);
    assert_non_null(strstr(err, "data_dir"));
    o.data_dir = "/proc/huren-cannot-exist/x";
    assert_true(huren_index_open(&idx, &o, err, sizeof(err)) < 0);
    assert_null(idx);
    huren_index_close(NULL);
}

const struct CMUnitTest schema_tests[] = {
    cmocka_unit_test(field_table),
    cmocka_unit_test(migrate_steps_memory),
    cmocka_unit_test(migrate_failure_rolls_back),
    cmocka_unit_test(open_reopen),
    cmocka_unit_test(open_errors),
};
const size_t schema_ntests = sizeof(schema_tests) / sizeof(schema_tests[0]);
