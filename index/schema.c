/* schema.c: the archive's SQLite schema as an ordered list of migration steps. The database's
 * PRAGMA user_version is the number of steps applied; each step runs in its own transaction
 * together with the version bump, so a crash leaves the schema at a step boundary. */
#include "index_int.h"

#include <stdio.h>
#include <string.h>

/* Append-only: never edit a released step, add a new one. */
static const char *const steps[] = {
    /* 1: tables. Text columns hold UTF-8 as DICOM writes it; absent values are NULL except the
     * patient key, where an empty PatientID is the value ''. *_norm/_alpha/_ideo/_phon hold the
     * lower-cased person name and its groups (pname.c); *_int the numeric sort keys. */
    "CREATE TABLE patients ("
    " pk INTEGER PRIMARY KEY,"
    " patient_id TEXT NOT NULL DEFAULT '',"
    " issuer_of_patient_id TEXT NOT NULL DEFAULT '',"
    " patient_name TEXT, patient_name_norm TEXT, patient_name_alpha TEXT,"
    " patient_name_ideo TEXT, patient_name_phon TEXT,"
    " patient_birth_date TEXT, patient_sex TEXT, other_patient_ids TEXT,"
    " patient_num_studies INTEGER NOT NULL DEFAULT 0,"
    " patient_num_series INTEGER NOT NULL DEFAULT 0,"
    " patient_num_instances INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (patient_id, issuer_of_patient_id));"
    "CREATE TABLE patient_other_ids ("
    " patient_pk INTEGER NOT NULL REFERENCES patients(pk) ON DELETE CASCADE,"
    " other_id TEXT NOT NULL,"
    " PRIMARY KEY (patient_pk, other_id)) WITHOUT ROWID;"
    "CREATE TABLE studies ("
    " pk INTEGER PRIMARY KEY,"
    " patient_pk INTEGER NOT NULL REFERENCES patients(pk),"
    " study_uid TEXT NOT NULL UNIQUE,"
    " study_date TEXT, study_time TEXT, accession_number TEXT, study_id TEXT,"
    " study_description TEXT,"
    " referring_physician TEXT, referring_physician_norm TEXT, referring_physician_alpha TEXT,"
    " referring_physician_ideo TEXT, referring_physician_phon TEXT,"
    " institution_name TEXT, modalities_in_study TEXT, sop_classes_in_study TEXT,"
    " study_num_series INTEGER NOT NULL DEFAULT 0,"
    " study_num_instances INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE study_sop_classes ("
    " study_pk INTEGER NOT NULL REFERENCES studies(pk) ON DELETE CASCADE,"
    " sop_class TEXT NOT NULL,"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY (study_pk, sop_class)) WITHOUT ROWID;"
    "CREATE TABLE series ("
    " pk INTEGER PRIMARY KEY,"
    " study_pk INTEGER NOT NULL REFERENCES studies(pk),"
    " series_uid TEXT NOT NULL UNIQUE,"
    " modality TEXT, series_number TEXT, series_number_int INTEGER, series_description TEXT,"
    " body_part TEXT, series_date TEXT, series_time TEXT, pps_start_date TEXT,"
    " pps_start_time TEXT,"
    " series_num_instances INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE instances ("
    " pk INTEGER PRIMARY KEY,"
    " series_pk INTEGER NOT NULL REFERENCES series(pk),"
    " sop_instance_uid TEXT NOT NULL UNIQUE,"
    " sop_class_uid TEXT NOT NULL,"
    " instance_number TEXT, instance_number_int INTEGER,"
    " \"rows\" TEXT, \"columns\" TEXT, bits_allocated TEXT, number_of_frames TEXT,"
    " transfer_syntax_uid TEXT,"
    " blob_name TEXT, blob_gen INTEGER NOT NULL DEFAULT 0,"
    " blob_size INTEGER NOT NULL DEFAULT 0);",

    /* 2: an index on each query key and on each parent link (UIDs and the patient key are
     * indexed by their UNIQUE constraints). series(modality, study_pk) also answers
     * modalities-in-study, study_sop_classes(sop_class) sop-classes-in-study. */
    "CREATE INDEX patients_name_norm ON patients(patient_name_norm);"
    "CREATE INDEX patients_name_alpha ON patients(patient_name_alpha);"
    "CREATE INDEX patients_name_ideo ON patients(patient_name_ideo);"
    "CREATE INDEX patients_name_phon ON patients(patient_name_phon);"
    "CREATE INDEX patients_birth_date ON patients(patient_birth_date);"
    "CREATE INDEX patient_other_ids_id ON patient_other_ids(other_id);"
    "CREATE INDEX studies_patient ON studies(patient_pk);"
    "CREATE INDEX studies_date ON studies(study_date, study_time);"
    "CREATE INDEX studies_accession ON studies(accession_number);"
    "CREATE INDEX study_sop_classes_class ON study_sop_classes(sop_class);"
    "CREATE INDEX series_study ON series(study_pk);"
    "CREATE INDEX series_modality ON series(modality, study_pk);"
    "CREATE INDEX instances_series ON instances(series_pk);"
    "CREATE INDEX instances_sop_class ON instances(sop_class_uid);",

    /* 3: archive totals kept up to date by every put, so that health and metrics do not
     * count a million rows; initialised from what the archive already holds. */
    "CREATE TABLE totals ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " patients INTEGER NOT NULL, studies INTEGER NOT NULL, series INTEGER NOT NULL,"
    " instances INTEGER NOT NULL, bytes INTEGER NOT NULL);"
    "INSERT INTO totals SELECT 1, (SELECT count(*) FROM patients),"
    " (SELECT count(*) FROM studies), (SELECT count(*) FROM series),"
    " (SELECT count(*) FROM instances), (SELECT coalesce(sum(blob_size), 0) FROM instances);",

    /* 4: clinical records from the hospital's systems (lab/exam reports, visits, diagnoses,
     * charges). Their patients live in rec_patients, keyed by the hospital's local patient id
     * alone, not in the DICOM patients table: that table's rows belong to instances (keyed
     * with the issuer, removed with their last study, counted in totals), while these come
     * from the HIS master data, must outlive any image and can be merged (merged_into points
     * at the surviving row; patient_merges remembers each merge). Reports keep one current
     * version (version counts up); each replaced version is copied to report_history and
     * observation_history. Money is integer fen (1/100 yuan). messages dedups re-sent
     * messages by sender and control id. */
    "CREATE TABLE rec_patients ("
    " pk INTEGER PRIMARY KEY,"
    " patient_id TEXT NOT NULL UNIQUE,"
    " national_id TEXT, national_id_type TEXT, name TEXT, sex TEXT, birth_date TEXT,"
    " merged_into INTEGER REFERENCES rec_patients(pk),"
    " updated_at TEXT NOT NULL DEFAULT (strftime('%Y%m%d%H%M%S','now')));"
    "CREATE INDEX rec_patients_national ON rec_patients(national_id);"
    "CREATE INDEX rec_patients_merged ON rec_patients(merged_into);"
    "CREATE TABLE patient_merges ("
    " pk INTEGER PRIMARY KEY,"
    " from_patient_id TEXT NOT NULL, into_patient_id TEXT NOT NULL,"
    " source TEXT, message_id TEXT,"
    " merged_at TEXT NOT NULL DEFAULT (strftime('%Y%m%d%H%M%S','now')));"
    "CREATE TABLE visits ("
    " pk INTEGER PRIMARY KEY,"
    " patient_pk INTEGER NOT NULL REFERENCES rec_patients(pk),"
    " visit_number TEXT NOT NULL UNIQUE,"
    " visit_class TEXT, department TEXT, admit_time TEXT, discharge_time TEXT);"
    "CREATE INDEX visits_patient ON visits(patient_pk);"
    "CREATE TABLE reports ("
    " pk INTEGER PRIMARY KEY,"
    " patient_pk INTEGER NOT NULL REFERENCES rec_patients(pk),"
    " visit_pk INTEGER REFERENCES visits(pk),"
    " source TEXT NOT NULL, order_key TEXT NOT NULL, item_code TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 1,"
    " kind TEXT NOT NULL, placer_number TEXT, filler_number TEXT, accession_number TEXT,"
    " item_name TEXT, item_system TEXT, specimen TEXT,"
    " requested_time TEXT, observed_time TEXT, reported_time TEXT,"
    " ordering_institution TEXT, ordering_department TEXT,"
    " performing_institution TEXT, performing_department TEXT,"
    " result_status TEXT, sender_app TEXT, sender_facility TEXT, message_id TEXT,"
    " stored_at TEXT NOT NULL DEFAULT (strftime('%Y%m%d%H%M%S','now')),"
    " UNIQUE (source, order_key, item_code));"
    "CREATE INDEX reports_patient ON reports(patient_pk, observed_time);"
    "CREATE INDEX reports_item ON reports(item_code);"
    "CREATE INDEX reports_accession ON reports(accession_number);"
    "CREATE INDEX reports_visit ON reports(visit_pk);"
    "CREATE TABLE observations ("
    " pk INTEGER PRIMARY KEY,"
    " report_pk INTEGER NOT NULL REFERENCES reports(pk) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, set_id TEXT, value_type TEXT, code TEXT, name TEXT, code_system TEXT,"
    " value TEXT, units TEXT, reference_range TEXT, abnormal_flags TEXT, status TEXT,"
    " observed_time TEXT);"
    "CREATE INDEX observations_report ON observations(report_pk, seq);"
    "CREATE TABLE report_history ("
    " pk INTEGER PRIMARY KEY,"
    " report_pk INTEGER NOT NULL REFERENCES reports(pk),"
    " version INTEGER NOT NULL, kind TEXT, placer_number TEXT, filler_number TEXT,"
    " accession_number TEXT, item_code TEXT, item_name TEXT, item_system TEXT, specimen TEXT,"
    " requested_time TEXT, observed_time TEXT, reported_time TEXT,"
    " ordering_institution TEXT, ordering_department TEXT,"
    " performing_institution TEXT, performing_department TEXT,"
    " result_status TEXT, sender_app TEXT, sender_facility TEXT, message_id TEXT,"
    " stored_at TEXT, replaced_at TEXT NOT NULL DEFAULT (strftime('%Y%m%d%H%M%S','now')),"
    " UNIQUE (report_pk, version));"
    "CREATE TABLE observation_history ("
    " pk INTEGER PRIMARY KEY,"
    " history_pk INTEGER NOT NULL REFERENCES report_history(pk),"
    " seq INTEGER NOT NULL, set_id TEXT, value_type TEXT, code TEXT, name TEXT, code_system TEXT,"
    " value TEXT, units TEXT, reference_range TEXT, abnormal_flags TEXT, status TEXT,"
    " observed_time TEXT);"
    "CREATE INDEX observation_history_report ON observation_history(history_pk, seq);"
    "CREATE TABLE diagnoses ("
    " pk INTEGER PRIMARY KEY,"
    " visit_pk INTEGER NOT NULL REFERENCES visits(pk),"
    " set_id TEXT, code TEXT NOT NULL, description TEXT, code_system TEXT, diagnosis_type TEXT,"
    " diagnosed_time TEXT,"
    " UNIQUE (visit_pk, code, diagnosis_type));"
    "CREATE TABLE charges ("
    " pk INTEGER PRIMARY KEY,"
    " visit_pk INTEGER NOT NULL REFERENCES visits(pk),"
    " transaction_id TEXT, item_code TEXT, item_name TEXT, quantity TEXT,"
    " unit_price_fen INTEGER, amount_fen INTEGER NOT NULL, charged_time TEXT, department TEXT,"
    " message_id TEXT);"
    "CREATE INDEX charges_visit ON charges(visit_pk);"
    "CREATE UNIQUE INDEX charges_transaction ON charges(visit_pk, transaction_id)"
    " WHERE transaction_id IS NOT NULL;"
    "CREATE TABLE messages ("
    " source TEXT NOT NULL, control_id TEXT NOT NULL, message_type TEXT,"
    " received_at TEXT NOT NULL DEFAULT (strftime('%Y%m%d%H%M%S','now')),"
    " PRIMARY KEY (source, control_id)) WITHOUT ROWID;",

    /* 5: small instances live in shared pack files (pack.c): a row names the pack in blob_name
     * and where its bytes start; files of their own keep offset 0. */
    "ALTER TABLE instances ADD COLUMN blob_offset INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX instances_blob ON instances(blob_name) WHERE blob_name LIKE 'pack/%';",

    /* consents and claims: a patient's consents ("one case, one authorisation": purpose claim
     * or recognition, granted to an institution code or, for recognition, '*' = any hospital
     * of the province; the visits covered in consent_visits, none = any; times in Unix
     * seconds UTC; revoked_at 0 = in force), and the signed claim bundles given to insurers,
     * one per (insurer, request_id) so that a replayed request gets the same claim. */
    "CREATE TABLE consents ("
    " pk INTEGER PRIMARY KEY,"
    " patient_id TEXT NOT NULL, national_id TEXT, policy_ref TEXT,"
    " purpose TEXT NOT NULL CHECK (purpose IN ('claim','recognition')),"
    " grantee TEXT NOT NULL,"
    " valid_from INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " form_ref TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0, revoked_by TEXT);"
    "CREATE INDEX consents_patient ON consents(patient_id, purpose);"
    "CREATE INDEX consents_national ON consents(national_id, purpose);"
    "CREATE INDEX consents_policy ON consents(policy_ref, grantee);"
    "CREATE TABLE consent_visits ("
    " consent_pk INTEGER NOT NULL REFERENCES consents(pk),"
    " visit_number TEXT NOT NULL,"
    " PRIMARY KEY (consent_pk, visit_number)) WITHOUT ROWID;"
    "CREATE TABLE claims ("
    " pk INTEGER PRIMARY KEY,"
    " claim_id TEXT NOT NULL UNIQUE,"
    " insurer TEXT NOT NULL, request_id TEXT NOT NULL, request_hash TEXT NOT NULL,"
    " consent_pk INTEGER NOT NULL REFERENCES consents(pk),"
    " patient_id TEXT NOT NULL, visit_number TEXT NOT NULL,"
    " jws BLOB NOT NULL, created_at INTEGER NOT NULL,"
    " UNIQUE (insurer, request_id));",

    /* 7: the regional directory and publishing to it (directory.c, outbox.c).
     * dir_entries (role directory): where a patient's records are, under a pseudonym only;
     * its primary key starts with the pseudonym (so that it can be partitioned by it) and
     * clusters a patient's entries together (WITHOUT ROWID); a lookup reads one key range.
     * outbox (role hospital): entries waiting to be sent, written in the transaction of the
     * study or report they announce; publish_state: the last version queued per record and
     * its pseudonym ('' = not publishable, e.g. no national id) and content hash. */
    "CREATE TABLE dir_entries ("
    " pseudonym TEXT NOT NULL, institution TEXT NOT NULL, record_key TEXT NOT NULL,"
    " version INTEGER NOT NULL, kind TEXT NOT NULL,"
    " item_code TEXT, item_name TEXT, modality TEXT, body_part TEXT, item_date TEXT,"
    " hr INTEGER NOT NULL DEFAULT 0, hr_scope TEXT, qualified_from TEXT, qualified_to TEXT,"
    " source_url TEXT, status TEXT, revision INTEGER,"
    " deleted INTEGER NOT NULL DEFAULT 0, received_at TEXT NOT NULL,"
    " PRIMARY KEY (pseudonym, institution, record_key)) WITHOUT ROWID;"
    "CREATE TABLE outbox ("
    " pk INTEGER PRIMARY KEY, record_key TEXT NOT NULL, version INTEGER NOT NULL,"
    " pseudonym TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, payload TEXT,"
    " created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
    "CREATE INDEX outbox_due ON outbox(next_attempt, pk);"
    "CREATE INDEX outbox_record ON outbox(record_key, pseudonym);"
    "CREATE TABLE publish_state ("
    " record_key TEXT PRIMARY KEY, version INTEGER NOT NULL, pseudonym TEXT NOT NULL,"
    " signature TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX publish_state_unpublishable ON publish_state(record_key) WHERE pseudonym='';",

    /* 8: recognition (recognition.c): each prompt shown to a doctor (who, which item, the
     * patient's pseudonym only) with the results it listed, and the doctors' decisions, one per
     * (prompt, result); day = YYYYMMDD (local date) of the prompt, the key of the statistics. */
    "CREATE TABLE rec_prompts ("
    " pk INTEGER PRIMARY KEY, prompt_id TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
    " day TEXT NOT NULL, pseudonym TEXT NOT NULL, item_code TEXT NOT NULL,"
    " doctor TEXT, department TEXT, actor TEXT);"
    "CREATE INDEX rec_prompts_day ON rec_prompts(day);"
    "CREATE TABLE rec_shown ("
    " prompt_pk INTEGER NOT NULL REFERENCES rec_prompts(pk), result_key TEXT NOT NULL,"
    " institution TEXT NOT NULL, source TEXT,"
    " PRIMARY KEY (prompt_pk, result_key)) WITHOUT ROWID;"
    "CREATE INDEX rec_shown_record ON rec_shown(substr(result_key, instr(result_key, '/') + 1));"
    "CREATE TABLE rec_decisions ("
    " pk INTEGER PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE,"
    " prompt_pk INTEGER NOT NULL REFERENCES rec_prompts(pk), result_key TEXT NOT NULL,"
    " decision TEXT NOT NULL CHECK (decision IN ('accepted','rejected')), reason TEXT,"
    " reason_text TEXT, doctor TEXT, department TEXT, order_id TEXT, visit_id TEXT,"
    " created_at INTEGER NOT NULL, UNIQUE (prompt_pk, result_key));",

    /* 9: retrieved copies (copies.c). An instance stored by retrieval from a peer is a copy:
     * instance_copies says from which institution (and gateway), under which patient ids
     * there, and when. The copy itself is indexed under this hospital's patient; the source's
     * PatientID and IssuerOfPatientID stay here and in the file as received. A study counts
     * its copy instances (a study whose instances are all copies is a copy: never published,
     * never this hospital's result) and the institution of its first. rec_prompt_patients:
     * the patient a prompt was asked for (the local id and/or resident id), so that a study
     * retrieved from it is indexed under that patient. */
    "CREATE TABLE instance_copies ("
    " instance_pk INTEGER PRIMARY KEY REFERENCES instances(pk) ON DELETE CASCADE,"
    " source_institution TEXT NOT NULL, source_url TEXT,"
    " source_patient_id TEXT NOT NULL DEFAULT '', source_issuer TEXT NOT NULL DEFAULT '',"
    " retrieved_at INTEGER NOT NULL);"
    "ALTER TABLE studies ADD COLUMN copy_instances INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN copy_source TEXT;"
    "CREATE TABLE rec_prompt_patients ("
    " prompt_pk INTEGER PRIMARY KEY REFERENCES rec_prompts(pk),"
    " patient_id TEXT, national_id TEXT, national_id_type TEXT);",

    /* 10: one exam, one
     * result; prompts that count right. dir_entries: whether an entry (an exam: a study and
     * the report linked to it) has images and a report (NULL in rows from before: the record
     * key says), and the key of the report folded into a study's entry. rec_prompts: the
     * prompt's identity (patient, item, order or visit, day; NULL in rows from before, which
     * stay one prompt each), its order and visit, and counted = 0 for a timeline listing
     * (a consent-checked listing that retrievals may refer to, not a prompt). The outbox is
     * rebuilt with ids that are never reused (below). */
    "ALTER TABLE dir_entries ADD COLUMN images INTEGER;"
    "ALTER TABLE dir_entries ADD COLUMN report INTEGER;"
    "ALTER TABLE dir_entries ADD COLUMN report_key TEXT;"
    "ALTER TABLE rec_prompts ADD COLUMN prompt_key TEXT;"
    "ALTER TABLE rec_prompts ADD COLUMN order_id TEXT;"
    "ALTER TABLE rec_prompts ADD COLUMN visit_id TEXT;"
    "ALTER TABLE rec_prompts ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;"
    "CREATE UNIQUE INDEX rec_prompts_key ON rec_prompts(prompt_key);"
    /* outbox row ids are never reused (AUTOINCREMENT): a version that supersedes the one in
     * flight must not take its id, or the acknowledgement of the old one removes the new */
    "CREATE TABLE outbox_v10 ("
    " pk INTEGER PRIMARY KEY AUTOINCREMENT, record_key TEXT NOT NULL, version INTEGER NOT NULL,"
    " pseudonym TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, payload TEXT,"
    " created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
    "INSERT INTO outbox_v10 SELECT pk, record_key, version, pseudonym, deleted, payload,"
    " created_at, attempts, next_attempt, last_error FROM outbox;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_v10 RENAME TO outbox;"
    "CREATE INDEX outbox_due ON outbox(next_attempt, pk);"
    "CREATE INDEX outbox_record ON outbox(record_key, pseudonym);",

    /* 11: one claim per visit and insurer, in versions. A request for a visit already claimed
     * returns that claim while its data (data_hash) is unchanged, else a new version that
     * names the one it replaces; parts: the digest of each resource of the bundle (JSON), from
     * which a new version says what changed. Claims from before are numbered in the order they
     * were made and have no digest (a new request makes a new version). */
    "ALTER TABLE claims ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE claims ADD COLUMN replaces TEXT;"
    "ALTER TABLE claims ADD COLUMN data_hash TEXT;"
    "ALTER TABLE claims ADD COLUMN parts TEXT;"
    "UPDATE claims SET version = (SELECT count(*) FROM claims c WHERE c.insurer = claims.insurer"
    " AND c.patient_id = claims.patient_id AND c.visit_number = claims.visit_number"
    " AND c.pk <= claims.pk);"
    "CREATE UNIQUE INDEX claims_visit ON claims(insurer, patient_id, visit_number, version);",

    /* 12: beside a hospital PACS (pacs.c, forward.c). pacs_studies: a study the PACS answered
     * a C-FIND with (its patient and study rows are in the tables above, with no instance
     * while it is held only there), its counts as the PACS gave them and when it was last
     * seen, so that a re-sync of a day notices the studies gone. pacs_sync: the days of each
     * PACS read completely (the sync's watermark, resumed after a restart). forward_queue:
     * the instances each [forward] rule sends on; a sent row stays (sent_at) so that an
     * instance stored again is not sent twice; ids never reused. */
    "CREATE TABLE pacs_studies ("
    " study_pk INTEGER PRIMARY KEY REFERENCES studies(pk) ON DELETE CASCADE,"
    " pacs TEXT NOT NULL, num_series INTEGER NOT NULL DEFAULT 0,"
    " num_instances INTEGER NOT NULL DEFAULT 0, seen_at INTEGER NOT NULL);"
    "CREATE INDEX pacs_studies_pacs ON pacs_studies(pacs, seen_at);"
    "CREATE TABLE pacs_sync ("
    " pacs TEXT NOT NULL, day TEXT NOT NULL, studies INTEGER NOT NULL,"
    " synced_at INTEGER NOT NULL, PRIMARY KEY (pacs, day)) WITHOUT ROWID;"
    "CREATE TABLE forward_queue ("
    " pk INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, sop_instance_uid TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at INTEGER,"
    " UNIQUE (rule, sop_instance_uid));"
    "CREATE INDEX forward_due ON forward_queue(rule, next_attempt) WHERE sent_at IS NULL;",

    /* 13: consents for underwriting (核保): an insurer reads the diagnoses (and, when the scope
     * says so, the lab results) a patient was treated for over a period of at most five years,
     * at every hospital of the province. purpose gains 'underwriting' (a CHECK constraint, so
     * the table is rebuilt: SQLite cannot alter one); scope is a comma-separated list
     * ('diagnoses' or 'diagnoses,labs'); record_from/record_to bound the records' dates (Unix
     * seconds, NULL for other purposes). The rows that refer to consents are set aside while
     * the old table is dropped, so that the foreign keys (on at run time) hold throughout. */
    "CREATE TABLE consents_v13 ("
    " pk INTEGER PRIMARY KEY,"
    " patient_id TEXT NOT NULL, national_id TEXT, policy_ref TEXT,"
    " purpose TEXT NOT NULL CHECK (purpose IN ('claim','recognition','underwriting')),"
    " grantee TEXT NOT NULL,"
    " valid_from INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " form_ref TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0, revoked_by TEXT,"
    " scope TEXT, record_from INTEGER, record_to INTEGER);"
    "INSERT INTO consents_v13(pk, patient_id, national_id, policy_ref, purpose, grantee,"
    " valid_from, expires_at, form_ref, created_by, created_at, revoked_at, revoked_by)"
    " SELECT pk, patient_id, national_id, policy_ref, purpose, grantee, valid_from, expires_at,"
    " form_ref, created_by, created_at, revoked_at, revoked_by FROM consents;"
    "CREATE TEMP TABLE consent_visits_v13 AS SELECT * FROM consent_visits;"
    "CREATE TEMP TABLE claims_v13 AS SELECT * FROM claims;"
    "DELETE FROM consent_visits;"
    "DELETE FROM claims;"
    "DROP TABLE consents;"
    "ALTER TABLE consents_v13 RENAME TO consents;"
    "INSERT INTO consent_visits SELECT * FROM temp.consent_visits_v13;"
    "INSERT INTO claims SELECT * FROM temp.claims_v13;"
    "DROP TABLE temp.consent_visits_v13;"
    "DROP TABLE temp.claims_v13;"
    "CREATE INDEX consents_patient ON consents(patient_id, purpose);"
    "CREATE INDEX consents_national ON consents(national_id, purpose);"
    "CREATE INDEX consents_policy ON consents(policy_ref, grantee);",

    /* 14: the PACS fetch cache (pacs_cache.c). pacs_cached: each instance that came from a
     * PACS fetch (not one stored to us directly), with its bytes; a study is evictable only
     * while all its instances are such copies. pacs_studies.last_read: when the study was
     * last read (written in batches by the gateway, not per instance): eviction takes the
     * least recently read first. */
    "CREATE TABLE pacs_cached ("
    " instance_pk INTEGER PRIMARY KEY REFERENCES instances(pk) ON DELETE CASCADE,"
    " study_pk INTEGER NOT NULL REFERENCES studies(pk) ON DELETE CASCADE,"
    " bytes INTEGER NOT NULL);"
    "CREATE INDEX pacs_cached_study ON pacs_cached(study_pk);"
    "ALTER TABLE pacs_studies ADD COLUMN last_read INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX pacs_studies_lru ON pacs_studies(pacs, last_read);",

    /* 15: provenance (provenance.c, directory.c, subscriptions.c). instances.pixel_sha256:
     * each instance's pixel fingerprint (NULL = not computed yet, for instances from before:
     * huren_index_provenance_backfill; '' = no PixelData); a study's root is computed from
     * them when asked. dir_entries (role directory): the root and the count of fingerprinted
     * instances a hospital published with a study's entry (NULL: none published), indexed
     * where present so that the same root under another pseudonym is one lookup; dir_flags:
     * what the directory flagged for the platform operator (kind 'same_pixels': the entry's
     * root is also published under another pseudonym; 'report_without_images': an exam
     * report whose study has no pixel data), one row per entry and kind, by record key as the
     * directory holds it. claim_subscriptions: an insurer's callback for changes of a claimed
     * visit, with the data digest it was last told; claim_notices: the signed notifications
     * waiting to be delivered (an outbox: attempts, backoff, sent rows kept). */
    "ALTER TABLE instances ADD COLUMN pixel_sha256 TEXT;"
    "CREATE INDEX instances_unfingerprinted ON instances(pk) WHERE pixel_sha256 IS NULL;"
    "ALTER TABLE dir_entries ADD COLUMN pixel_root TEXT;"
    "ALTER TABLE dir_entries ADD COLUMN pixel_count INTEGER;"
    "CREATE INDEX dir_entries_root ON dir_entries(pixel_root) WHERE pixel_root IS NOT NULL;"
    "CREATE TABLE dir_flags ("
    " pk INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('same_pixels','report_without_images')),"
    " institution TEXT NOT NULL, record_key TEXT NOT NULL, pixel_root TEXT,"
    " flagged_at TEXT NOT NULL,"
    " UNIQUE (kind, institution, record_key));"
    "CREATE TABLE claim_subscriptions ("
    " pk INTEGER PRIMARY KEY,"
    " insurer TEXT NOT NULL, patient_id TEXT NOT NULL, visit_number TEXT NOT NULL,"
    " claim_id TEXT NOT NULL, url TEXT NOT NULL, data_hash TEXT,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (insurer, patient_id, visit_number));"
    "CREATE TABLE claim_notices ("
    " pk INTEGER PRIMARY KEY AUTOINCREMENT,"
    " subscription_pk INTEGER NOT NULL REFERENCES claim_subscriptions(pk),"
    " claim_id TEXT NOT NULL, data_hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT, sent_at INTEGER);"
    "CREATE INDEX claim_notices_due ON claim_notices(next_attempt) WHERE sent_at IS NULL;",

    /* 16: cloud film shares (云胶片, shares.c): one study opened by a token; the token is found
     * by its SHA-256 (token_hash) and kept to print the slip again; pin_hash is the gateway's
     * salted hash of the PIN, NULL without one. */
    "CREATE TABLE shares ("
    " pk INTEGER PRIMARY KEY AUTOINCREMENT, study_uid TEXT NOT NULL, patient_id TEXT,"
    " token TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, pin_hash TEXT,"
    " pin_failures INTEGER NOT NULL DEFAULT 0, created_by TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0, revoked_by TEXT,"
    " opened INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX shares_study ON shares(study_uid);",

    /* 17: decisions (issue 13, items 3-4). rec_shown.critical: the result was shown as a
     * critical value (危急值); recognising it needs an explicit confirmation, kept in
     * rec_decisions.confirm_critical. doctor_source: where the deciding doctor's identity came
     * from (request, certificate, session). A revoked decision keeps its row with who revoked
     * it, when and why, and is left out of the statistics. */
    "ALTER TABLE rec_shown ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rec_decisions ADD COLUMN confirm_critical INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rec_decisions ADD COLUMN doctor_source TEXT;"
    "ALTER TABLE rec_decisions ADD COLUMN revoked_at INTEGER;"
    "ALTER TABLE rec_decisions ADD COLUMN revoked_by TEXT;"
    "ALTER TABLE rec_decisions ADD COLUMN revoked_reason TEXT;",
};

int huren_index__schema_latest(void)
{
    return (int)(sizeof(steps) / sizeof(steps[0]));
}

int huren_index__schema_current(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int apply_step(sqlite3 *db, int n, char *err, size_t errlen)
{
    char *msg = NULL;
    char bump[64];
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", n);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        goto done;
    rc = sqlite3_exec(db, steps[n - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, bump, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "schema migration %d: %s", n, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

int huren_index__schema_migrate(sqlite3 *db, int target, int *version, char *err, size_t errlen)
{
    int latest = huren_index__schema_latest();
    int v = 0;
    if (target <= 0 || target > latest)
        target = latest;
    int rc = huren_index__schema_current(db, &v);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "reading schema version: %s", sqlite3_errmsg(db));
        return rc;
    }
    if (v > latest) {
        snprintf(err, errlen, "database schema version %d is newer than this build (%d)", v,
                 latest);
        return SQLITE_ERROR;
    }
    for (; v < target; v++) {
        rc = apply_step(db, v + 1, err, errlen);
        if (rc != SQLITE_OK)
            break;
    }
    *version = v;
    return rc;
}
