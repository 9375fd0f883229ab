/* index_int.h: declarations shared by the files of index/ and by its unit tests only.
 * The handle, the field table, the schema migrations, the blob store, the writer (group
 * commit) and the query builder each live in their own file; this header ties them together. */
#ifndef HUREN_INDEX_INT_H
#define HUREN_INDEX_INT_H

#include "huren_buf.h"
#include "huren_index.h"
#include "index_consents.h"
#include "index_directory.h"
#include "index_recognition.h"
#include "index_records.h"
#include "index_sys.h"
#include "index_pacs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/types.h>

#define HUREN_INDEX__HASH_HEX 64      /* SHA-256 in hex */
#define HUREN_INDEX__BLOB_NAME_MAX 96 /* "xx/yy/<64 hex>-<gen>" */
#define HUREN_INDEX__ERR_MAX 512
#define HUREN_INDEX__VALUE_MAX 4096  /* longest attribute value accepted on put or in a query */
#define HUREN_INDEX__READERS_IDLE 32 /* reader connections kept open when idle */

/* ---- field table (field.c) ---- */
typedef struct huren_index__field_def {
    const char *name; /* stable lowercase name, also the SQL column name */
    huren_index_level level;
    huren_index_kind kind;
    const char *alias; /* table alias in queries: p, st, se, i */
} huren_index__field_def;

const huren_index__field_def *huren_index__field(huren_index_field f);

/* ---- person names (pname.c) ---- */
/* The normalised forms of a PN value kept in their own indexed columns: the whole value and
 * its alphabetic, ideographic and phonetic groups, folded to lower case (case_fold). */
typedef struct huren_index__pname {
    char *full, *group[3]; /* NULL when absent; owned */
} huren_index__pname;

int huren_index__pname_split(const char *value, huren_index__pname *out);
void huren_index__pname_clear(huren_index__pname *pn);
/* Fold upper case to lower case in place, for ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic
 * and full-width Latin letters; the UTF-8 length never changes. */
void huren_index__case_fold(char *s);

/* ---- error messages (error.c) ---- */
void huren_index__seterr(const huren_index *idx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Map an SQLite result code to one of ours and set the message with the connection's text. */
int huren_index__sqlerr(const huren_index *idx, sqlite3 *db, int rc, const char *what);
/* Binds a report's item code as a key column: "" when absent (a text-only OBR-4), since the
 * report key (source, order_key, item_code) is NOT NULL. */
void huren_index__bind_item(sqlite3_stmt *s, int i, const char *item_code);

/* ---- growable string: common/huren_buf.h (SQL text of the query builder) ---- */

/* ---- schema and migrations (schema.c) ---- */
/* Number of migration steps known to this build (= the newest schema version). */
int huren_index__schema_latest(void);
/* Apply the migrations after the database's user_version up to target (<= 0: the latest), each
 * step in its own transaction. Returns 0 and the resulting version in *version, or nonzero with
 * err set (a database newer than this build is refused). */
int huren_index__schema_migrate(sqlite3 *db, int target, int *version, char *err, size_t errlen);
/* The version the database is at (PRAGMA user_version): SQLITE_OK or a SQLite code. */
int huren_index__schema_current(sqlite3 *db, int *out);

/* ---- blob store (blob.c) ---- */
/* Relative blob name "xx/yy/<hex sha-256 of uid>[-gen]" into out (HUREN_INDEX__BLOB_NAME_MAX). */
int huren_index__blob_name(const char *sop_uid, int64_t gen, char *out, size_t outlen);
/* Create blobs/xx/yy for a blob name (fsync'ing the parents of new folders when asked). */
int huren_index__blob_mkdirs(huren_index *idx, const char *name);
int huren_index__blob_path(const huren_index *idx, const char *name, char *out, size_t outlen);
/* fsync a file or a folder by path; 0 or -errno. */
int huren_index__fsync_path(const char *path, int is_dir);
/* Remove every regular file left in tmp/. */
int huren_index__tmp_clean(const huren_index *idx);

/* ---- rows (rows.c): writer-side statements on the writer connection ---- */
typedef struct huren_index__rows huren_index__rows;
int huren_index__rows_prepare(huren_index *idx, sqlite3 *db, huren_index__rows **out);
void huren_index__rows_finalize(huren_index__rows *r);

typedef struct huren_index__existing {
    int found;
    int64_t pk, gen;
    char blob_name[HUREN_INDEX__BLOB_NAME_MAX];
} huren_index__existing;

int huren_index__rows_lookup(huren_index__rows *r, const char *sop_uid, huren_index__existing *out);
/* Insert one instance with its parents, maintaining counts and computed fields. blob_name may be
 * NULL (rows seeded without a file). */
int huren_index__rows_insert(huren_index__rows *r, const char *const values[HUREN_INDEX_F_COUNT],
                             const char *blob_name, int64_t gen, int64_t offset, int64_t size,
                             const huren_index_copy *copy);
/* Remove one instance row, maintaining counts and removing parents left empty. */
int huren_index__rows_remove(huren_index__rows *r, int64_t instance_pk);
/* The same; keep_study = 1 keeps the study row (and its patient) when its last instance goes:
 * an evicted fetch cache copy, the study again held only at its PACS. */
int huren_index__rows_remove_ex(huren_index__rows *r, int64_t instance_pk, int keep_study);

/* ---- the journal of blob files in flight (pending.c) ---- */
/* Open data_dir/pending, remove the files it lists that no committed row references, empty it. */
int huren_index__pending_open(huren_index *idx, char *err, size_t errlen);
/* Record a blob name (and its UID) before the file is renamed or left for removal; -errno. */
int huren_index__pending_add(huren_index *idx, const char *name, const char *uid);
/* Empty the journal once a batch's files are committed or removed. */
void huren_index__pending_clear(huren_index *idx);

/* ---- pack files of small instances (pack.c; the leader only) ---- */
/* Is this blob name a pack ("pack/<8 hex>")? Packs are shared and never unlinked per instance. */
int huren_index__pack_is(const char *blob_name);
/* Open the last pack (trimming bytes no committed row references) or create the first. */
int huren_index__pack_open(huren_index *idx, char *err, size_t errlen);
void huren_index__pack_close(huren_index *idx);
/* Copy tmp_path (size bytes) to the end of the current pack, starting a new pack when the
 * current one would pass pack_max_bytes; returns the pack's blob name and the offset. */
int huren_index__pack_append(huren_index *idx, const char *tmp_path, int64_t size, char name[32],
                             int64_t *offset);
/* fdatasync the pack if anything was appended since the last sync (and fsync is on). */
int huren_index__pack_sync(huren_index *idx);
/* Copy size bytes of src_fd from src_off to the end of the current pack, as pack_append. */
int huren_index__pack_append_fd(huren_index *idx, int src_fd, int64_t src_off, int64_t size,
                                char name[32], int64_t *offset);
/* Close the current pack (synced) and start the next one, e.g. so that compaction may rewrite
 * the one that was current. Writer held. */
int huren_index__pack_roll(huren_index *idx);
/* The pack folder under blobs/. */
#define HUREN_INDEX__PACK_DIR "pack"

/* ---- string arena for query answers (arena.c) ---- */
typedef struct huren_index__arena huren_index__arena;
huren_index__arena *huren_index__arena_new(void);
void *huren_index__arena_alloc(huren_index__arena *a, size_t n); /* zeroed; NULL when oom */
/* Make room for one more element in an array kept in the arena: returns the slot of element
 * *n (incrementing *n), moving the array to a doubled allocation when *cap is reached; NULL
 * when out of memory (the arena then reports oom). */
void *huren_index__arena_push(huren_index__arena *a, void **items, size_t *n, size_t *cap,
                              size_t elem);
const char *huren_index__arena_str(huren_index__arena *a, const char *s);
int huren_index__arena_oom(const huren_index__arena *a);
void huren_index__arena_free(huren_index__arena *a);

/* ---- clinical records (records.c: writes on the writer connection) ---- */
#define HUREN_INDEX__TEXT_MAX (1 << 20) /* longest observation value */
typedef struct huren_index__recrows huren_index__recrows;
int huren_index__recrows_prepare(huren_index *idx, sqlite3 *db, huren_index__recrows **out);
void huren_index__recrows_finalize(huren_index__recrows *r);
/* Check a put's values before it is queued; HUREN_INDEX_EINVAL naming the first bad one. */
int huren_index__records_check(huren_index *idx, const huren_index_records *recs);
/* Write recs inside the writer's open transaction (the caller holds a savepoint). Sets
 * *duplicate when the message was stored before (and writes nothing). */
int huren_index__records_write(huren_index *idx, const huren_index_records *recs, int *duplicate);
/* directory.c: store a batch of entries inside the open transaction (the write queue's). */
int huren_index__dir_write(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                           huren_index_dir_result *results);
/* writer.c: queue a batch of directory entries and wait for the commit it shares. */
int huren_index__dir_put_queued(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                                huren_index_dir_result *results);

/* ---- statement helpers (stmt.c), shared by every area ---- */
/* Bind v as text, or NULL when v is NULL or "". */
void huren_index__bind_opt(sqlite3_stmt *s, int i, const char *v);
/* Prepare sql on the writer connection (error message set on failure). */
int huren_index__wprep(huren_index *idx, const char *sql, sqlite3_stmt **out);
/* Step a statement that returns no row, then reset it. 0 or the error (named by what). */
int huren_index__step_done(huren_index *idx, sqlite3_stmt *s, const char *what);
/* Column i copied into arena a: NULL stays NULL (col_copy), or NULL and "" give NULL (_opt). */
const char *huren_index__col_copy(huren_index__arena *a, sqlite3_stmt *s, int i);
const char *huren_index__col_copy_opt(huren_index__arena *a, sqlite3_stmt *s, int i);

/* ---- the handle (archive.c) ---- */
typedef struct huren_index__put huren_index__put;

struct huren_index {
    huren_index_options opts;
    char *data_dir; /* absolute */
    char *blob_dir; /* data_dir/blobs */
    char *tmp_dir;  /* data_dir/tmp */
    char *db_path;
    int schema_version;
    int schema_version_opened; /* before this open's migrations */

    /* the writer: one connection, used by the group-commit leader only */
    sqlite3 *wdb;
    huren_index__rows *rows;
    huren_index__recrows *recrows;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    huren_index__put *qhead, *qtail;
    int leader_active;
    huren_index__put **batch; /* the leader's batch, group_commit_max entries */
    int batch_max;
    int64_t commits, committed_puts; /* group-commit statistics (under qlock) */

    /* blobs/xx/yy folders known to exist, one bit per xxyy (blob.c; leader only) */
    unsigned char dir_known[65536 / 8];

    /* the pack small instances are appended to (pack.c), used by the leader only */
    int pack_fd;
    int64_t pack_seq;
    char pack_name[32];
    off_t pack_off;
    off_t pack_zeroed; /* the file is written (zeros past pack_off) up to here: see pack.c */
    _Atomic int64_t pack_ahead; /* pack_zeroed - pack_off, for huren_index_pack_usage */
    int pack_dirty;

    /* the journal of blob files in flight (pending.c), written by the leader only */
    int pending_fd;
    off_t pending_off;

    /* the directory and the outbox (directory.c, outbox.c): statements on the writer
     * connection, prepared on first use by whoever holds the writer; the publish hook */
    struct huren_index__dirrows *dirrows;
    struct huren_index__outrows *outrows;
    huren_index_publish_fn publish_fn;
    void *publish_payload;

    /* commits whose WAL fsync was deferred (durable.c): the syncer thread fdatasyncs the WAL
     * behind them, so a caller overlaps its own fsync (the audit entry) with the index's */
    pthread_mutex_t slock;
    pthread_cond_t scond; /* the syncer waits here for work */
    pthread_cond_t dcond; /* waiters of durable_wait, woken after each WAL sync */
    pthread_t syncer;
    int syncer_running, syncer_stop;
    int wal_fd;                      /* our own descriptor of index.db-wal, or -1 */
    uint64_t deferred_seq;           /* the last commit that deferred its WAL sync */
    uint64_t synced_seq;             /* every deferred commit up to here is durable */
    int sync_errno;                  /* a failed WAL sync: every later wait fails */
    int sync_normal;                 /* the writer runs synchronous=NORMAL now (leader only) */
    int64_t deferred_commits, syncs; /* statistics */

    /* compaction's step hook (compact.c), for crash tests */
    huren_index_step_fn compact_step;
    void *compact_step_ctx;

    /* idle reader connections */
    pthread_mutex_t rlock;
    sqlite3 *readers[HUREN_INDEX__READERS_IDLE];
    int nreaders;
};

int huren_index__reader_get(huren_index *idx, sqlite3 **out);

/* ---- deferred WAL syncs (durable.c) ---- */
/* Start the syncer (with fsync on); 0 or a negative code with err set. */
int huren_index__durable_open(huren_index *idx, char *err, size_t errlen);
/* Sync what is outstanding and stop the syncer. NULL-safe, idempotent. */
void huren_index__durable_close(huren_index *idx);
/* Whether a batch may defer its WAL sync now (a syncer runs and no sync failed). */
int huren_index__durable_can_defer(huren_index *idx);
/* The leader committed a batch, deferred (its ticket returned, the syncer woken) or synced by
 * SQLite (0 returned; the deferred commits before it count as synced). Still as leader. */
uint64_t huren_index__durable_committed(huren_index *idx, int deferred);
/* Deferred commits and WAL syncs so far, for tests and statistics. */
void huren_index__durable_stats(huren_index *idx, int64_t *deferred_commits, int64_t *syncs);
/* Remember ticket as the calling thread's latest deferred write on idx. */
void huren_index__durable_note(huren_index *idx, uint64_t ticket);
void huren_index__reader_put(huren_index *idx, sqlite3 *db);

/* ---- retrieved copies (copies.c) ---- */
/* A copy's source: an institution, values within HUREN_INDEX__VALUE_MAX. EINVAL otherwise. */
int huren_index__copy_check(huren_index *idx, const huren_index_copy *c);

/* ---- writer (writer.c) ---- */
/* An instance put, own (copy NULL) or a retrieved copy (copies.c checks copy first). */
int huren_index__instance_put(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                              const char *tmp_path, unsigned flags, const huren_index_copy *copy,
                              huren_index_put_outcome *outcome);
/* Become the only user of the writer connection (waiting for a running group commit). */
void huren_index__writer_acquire(huren_index *idx);
void huren_index__writer_release(huren_index *idx);
/* BEGIN IMMEDIATE holding the writer / COMMIT or ROLLBACK and release (writer.c). */
int huren_index__txn_begin(huren_index *idx);
int huren_index__txn_end(huren_index *idx, int rc);

/* ---- query matching (match.c) ---- */
typedef struct huren_index__params {
    char **v;
    size_t n, cap;
} huren_index__params;

/* Append to where the SQL condition for one match (with " AND " before it), its parameters to
 * params. Returns 0, HUREN_INDEX_EINVAL with a message naming the field, or HUREN_INDEX_ERROR. */
int huren_index__match_sql(const huren_index *idx, const huren_index_match *m, huren_buf *where,
                           huren_index__params *params);
void huren_index__params_free(huren_index__params *p);

/* ---- queries (query.c) ---- */
/* The SELECT for a query, with its parameters (limit and offset are the last two). Exposed for
 * the unit tests' EXPLAIN QUERY PLAN checks. */
int huren_index__find_sql(const huren_index *idx, const huren_index_query *q, huren_buf *sql,
                          huren_index__params *params);

/* ---- the directory and publishing to it (directory.c, outbox.c) ---- */
typedef struct huren_index__dirrows huren_index__dirrows;
typedef struct huren_index__outrows huren_index__outrows;
void huren_index__dirrows_finalize(huren_index__dirrows *r);
void huren_index__outrows_finalize(huren_index__outrows *r);
/* The lookup's SELECT, for the unit tests' EXPLAIN QUERY PLAN check. */
const char *huren_index__dir_find_sql(void);
/* One row of a statement selecting find's columns, into e (strings copied into a). */
void huren_index__dir_row_read(huren_index__arena *a, sqlite3_stmt *s, huren_index_dir_entry *e);
/* Inside the writer's transaction (the caller holds a savepoint): ask the publish hook about
 * the study just written / the reports a message just stored (and, for patient updates and
 * merges, every record of the patient), queueing new versions in the outbox. No-ops without
 * a hook. */
int huren_index__outbox_study(huren_index *idx, const char *study_uid);
/* provenance.c: a study's provenance read on db (the writer's, inside its transaction). */
int huren_index__provenance(huren_index *idx, sqlite3 *db, const char *study_uid,
                            huren_index_provenance *out);
int huren_index__outbox_records(huren_index *idx, const huren_index_records *recs);
/* Inside the writer's transaction: the record (e.g. "study:<uid>") is gone here; a published
 * one is withdrawn from the directory (a deletion queued). No-op without a hook. */
int huren_index__outbox_withdraw(huren_index *idx, const char *record_key);
/* Inside the writer's transaction, after a study's rows were removed: queue the tombstone of
 * "study:<uid>" (if it was ever published) and re-describe the exam report it carried. */
int huren_index__outbox_study_deleted(huren_index *idx, const char *study_uid,
                                      const char *accession);

#endif
