/* directory.c: the regional directory's store (role directory, schema 7): entries saying which
 * institution holds which record of a pseudonymous patient. A batch of entries is validated and
 * applied in one transaction on the writer connection (idempotent by pseudonym, institution,
 * record key and version); lookups read one pseudonym's key range on a reader connection. */
#include "index_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTITUTION_MAX 64
#define RECORD_KEY_MAX 256
#define CODE_MAX 64
#define NAME_MAX_ 256
#define URL_MAX 512
#define DIR_CHECKPOINT_PAGES "16384" /* 64 MiB of WAL */

/* A new entry costs one descent of the primary key (INSERT OR IGNORE); only an existing one
 * is then updated if older, or read to report the version held. */
enum dir_stmt { D_FIND, D_INSERT, D_UPDATE, D_FLAG_OTHERS, D_FLAG_SELF, D_COUNT };

#define NOW "strftime('%Y%m%d%H%M%S','now')"
static const char *const dsql[D_COUNT] = {
    [D_FIND] = "SELECT version FROM dir_entries WHERE pseudonym=?1 AND institution=?2"
               " AND record_key=?3",
    [D_INSERT] =
        "INSERT OR IGNORE INTO dir_entries(pseudonym, institution, record_key, version, kind,"
        " item_code, item_name, modality, body_part, item_date, hr, hr_scope,"
        " qualified_from, qualified_to, source_url, deleted, status, revision,"
        " images, report, report_key, pixel_root, pixel_count, received_at)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
        "?22,?23," NOW ")",
    [D_UPDATE] = "UPDATE dir_entries SET version=?4, kind=?5, item_code=?6, item_name=?7,"
                 " modality=?8, body_part=?9, item_date=?10, hr=?11, hr_scope=?12,"
                 " qualified_from=?13, qualified_to=?14, source_url=?15, deleted=?16,"
                 " status=?17, revision=?18, images=?19, report=?20, report_key=?21,"
                 " pixel_root=?22, pixel_count=?23, received_at=" NOW
                 " WHERE pseudonym=?1 AND institution=?2 AND record_key=?3"
                 " AND version<?4",
    /* the same film under two pseudonyms (同片不同名): every entry involved is flagged once,
     * by institution and record key only (schema 15) */
    [D_FLAG_OTHERS] = "INSERT OR IGNORE INTO dir_flags(kind, institution, record_key, pixel_root,"
                      " flagged_at) SELECT 'same_pixels', institution, record_key, pixel_root, " NOW
                      " FROM dir_entries WHERE pixel_root=?1 AND deleted=0 AND pseudonym<>?2",
    [D_FLAG_SELF] = "INSERT OR IGNORE INTO dir_flags(kind, institution, record_key, pixel_root,"
                    " flagged_at) SELECT 'same_pixels', ?3, ?4, ?1, " NOW " WHERE EXISTS"
                    " (SELECT 1 FROM dir_entries WHERE pixel_root=?1 AND deleted=0"
                    " AND pseudonym<>?2)",
};

struct huren_index__dirrows {
    sqlite3_stmt *st[D_COUNT];
};

void huren_index__dirrows_finalize(huren_index__dirrows *r)
{
    if (!r)
        return;
    for (int i = 0; i < D_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    free(r);
}

/* Prepared on first use, by the thread holding the writer. */
static int dirrows_get(huren_index *idx, huren_index__dirrows **out)
{
    if (idx->dirrows) {
        *out = idx->dirrows;
        return 0;
    }
    huren_index__dirrows *r = calloc(1, sizeof(*r));
    if (!r) {
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    /* A directory's writes are random inserts into one large tree: check-point less often
     * (a page dirtied by several batches is copied back once). Only nodes that store
     * directory entries get here. */
    sqlite3_exec(idx->wdb, "PRAGMA wal_autocheckpoint=" DIR_CHECKPOINT_PAGES, NULL, NULL, NULL);
    for (int i = 0; i < D_COUNT; i++) {
        int src =
            sqlite3_prepare_v3(idx->wdb, dsql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL);
        if (src != SQLITE_OK) {
            int rc = huren_index__sqlerr(idx, idx->wdb, src, "preparing directory statement");
            huren_index__dirrows_finalize(r);
            return rc;
        }
    }
    *out = idx->dirrows = r;
    return 0;
}

/* ---- validation ---- */

int huren_index_pseudonym_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < HUREN_INDEX_PSEUDONYM_HEX; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return s[HUREN_INDEX_PSEUDONYM_HEX] == 0;
}

static int present(const char *v)
{
    return v && *v;
}

/* 1..max printable ASCII characters, no spaces. */
static int token_valid(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* YYYYMMDD with a plausible month and day. */
static int date_valid(const char *s)
{
    if (!s || strlen(s) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    int month = (s[4] - '0') * 10 + (s[5] - '0'), day = (s[6] - '0') * 10 + (s[7] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* No control characters (the text is shown to doctors and written to logs by callers). */
static int text_valid(const char *s, size_t max)
{
    if (!s)
        return 1;
    size_t n = strlen(s);
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int kind_valid(const char *k)
{
    return k && (!strcmp(k, "imaging") || !strcmp(k, "lab"));
}

static int scope_valid(const char *s)
{
    return !present(s) || !strcmp(s, "national") || !strcmp(s, "province") || !strcmp(s, "city");
}

/* Why e cannot be stored, or NULL when it can. */
static const char *entry_problem(const huren_index_dir_entry *e)
{
    if (!e)
        return "entry: missing";
    if (!huren_index_pseudonym_valid(e->pseudonym))
        return "pseudonym: not 64 lowercase hex characters";
    if (!token_valid(e->institution, INSTITUTION_MAX))
        return "institution: missing or malformed";
    if (!token_valid(e->record_key, RECORD_KEY_MAX))
        return "record_key: missing, longer than 256 or not printable ASCII";
    if (e->version < 1)
        return "version: must be a whole number >= 1";
    if (!e->deleted && !kind_valid(e->kind))
        return "kind: must be imaging or lab";
    if (e->deleted && present(e->kind) && !kind_valid(e->kind))
        return "kind: must be imaging or lab";
    if (present(e->date) && !date_valid(e->date))
        return "date: not YYYYMMDD";
    if ((present(e->qualified_from) && !date_valid(e->qualified_from)) ||
        (present(e->qualified_to) && !date_valid(e->qualified_to)))
        return "qualified_from/qualified_to: not YYYYMMDD";
    if (!scope_valid(e->hr_scope))
        return "hr_scope: must be national, province or city";
    if (!text_valid(e->item_code, CODE_MAX) || !text_valid(e->modality, CODE_MAX) ||
        !text_valid(e->body_part, CODE_MAX))
        return "item_code/modality/body_part: longer than 64 or control characters";
    if (!text_valid(e->item_name, NAME_MAX_))
        return "item_name: longer than 256 or control characters";
    if (present(e->status) && strcmp(e->status, "final") && strcmp(e->status, "preliminary") &&
        strcmp(e->status, "corrected"))
        return "status: must be final, preliminary or corrected";
    if (e->revision < 0)
        return "revision: must be a whole number >= 0";
    if (present(e->report_key) &&
        (!token_valid(e->report_key, RECORD_KEY_MAX) || strncmp(e->report_key, "report:", 7)))
        return "report_key: not a report's record key (report:...)";
    if (e->images < -1 || e->images > 1 || e->report < -1 || e->report > 1)
        return "images/report: must be true or false";
    if (present(e->pixel_root) && !huren_index_pseudonym_valid(e->pixel_root))
        return "pixel_root: must be 64 lowercase hex";
    if (e->pixel_count < 0 || (present(e->pixel_root) && e->pixel_count < 1))
        return "pixel_count: must be a whole number >= 1 with a pixel_root";
    if (present(e->source_url) &&
        (!token_valid(e->source_url, URL_MAX) ||
         (strncmp(e->source_url, "https://", 8) != 0 && strncmp(e->source_url, "http://", 7))))
        return "source_url: not an http(s) URL";
    return NULL;
}

int huren_index_dir_entry_check(const huren_index_dir_entry *e,
                                char reason[HUREN_INDEX_DIR_REASON_MAX])
{
    const char *why = entry_problem(e);
    if (!why)
        return 0;
    if (reason)
        snprintf(reason, HUREN_INDEX_DIR_REASON_MAX, "%s", why);
    return HUREN_INDEX_EINVAL;
}

/* ---- writes ---- */

static sqlite3_stmt *stmt(huren_index__dirrows *r, enum dir_stmt id)
{
    sqlite3_stmt *s = r->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Has the exam this part (1/0)? Given (1 yes, -1 no), or as its record key says. */
static int part_of(int given, const char *record_key, const char *prefix)
{
    if (given)
        return given > 0;
    return record_key && !strncmp(record_key, prefix, strlen(prefix));
}

static void entry_bind(sqlite3_stmt *s, const huren_index_dir_entry *e)
{
    huren_index__bind_opt(s, 1, e->pseudonym);
    huren_index__bind_opt(s, 2, e->institution);
    huren_index__bind_opt(s, 3, e->record_key);
    sqlite3_bind_int64(s, 4, e->version);
    sqlite3_bind_text(s, 5, e->kind ? e->kind : "", -1, SQLITE_STATIC);
    huren_index__bind_opt(s, 6, e->item_code);
    huren_index__bind_opt(s, 7, e->item_name);
    huren_index__bind_opt(s, 8, e->modality);
    huren_index__bind_opt(s, 9, e->body_part);
    huren_index__bind_opt(s, 10, e->date);
    sqlite3_bind_int(s, 11, e->hr ? 1 : 0);
    huren_index__bind_opt(s, 12, e->hr_scope);
    huren_index__bind_opt(s, 13, e->qualified_from);
    huren_index__bind_opt(s, 14, e->qualified_to);
    huren_index__bind_opt(s, 15, e->source_url);
    sqlite3_bind_int(s, 16, e->deleted ? 1 : 0);
    huren_index__bind_opt(s, 17, e->status);
    if (e->revision > 0)
        sqlite3_bind_int64(s, 18, e->revision);
    else
        sqlite3_bind_null(s, 18);
    sqlite3_bind_int(s, 19, part_of(e->images, e->record_key, "study:"));
    sqlite3_bind_int(s, 20, part_of(e->report, e->record_key, "report:"));
    huren_index__bind_opt(s, 21, e->report_key);
    huren_index__bind_opt(s, 22, e->deleted ? NULL : e->pixel_root);
    if (e->pixel_root && *e->pixel_root && !e->deleted)
        sqlite3_bind_int64(s, 23, e->pixel_count);
    else
        sqlite3_bind_null(s, 23);
}

/* A stored entry whose root is also published under another pseudonym flags both. */
static int flag_same_pixels(huren_index *idx, huren_index__dirrows *r,
                            const huren_index_dir_entry *e)
{
    if (e->deleted || !e->pixel_root || !*e->pixel_root)
        return 0;
    for (int id = D_FLAG_OTHERS; id <= D_FLAG_SELF; id++) {
        sqlite3_stmt *s = stmt(r, (enum dir_stmt)id);
        sqlite3_bind_text(s, 1, e->pixel_root, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, e->pseudonym, -1, SQLITE_STATIC);
        if (id == D_FLAG_SELF) {
            sqlite3_bind_text(s, 3, e->institution, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, e->record_key, -1, SQLITE_STATIC);
        }
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE)
            return huren_index__sqlerr(idx, idx->wdb, src, "flagging directory entries");
    }
    return 0;
}

static int entry_put(huren_index *idx, huren_index__dirrows *r, const huren_index_dir_entry *e,
                     huren_index_dir_result *res)
{
    if (huren_index_dir_entry_check(e, res->reason) < 0) {
        res->outcome = HUREN_INDEX_DIR_REFUSED;
        return 0;
    }
    for (int id = D_INSERT; id <= D_UPDATE; id++) {
        sqlite3_stmt *s = stmt(r, (enum dir_stmt)id);
        entry_bind(s, e);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE)
            return huren_index__sqlerr(idx, idx->wdb, src, "storing directory entry");
        if (sqlite3_changes(idx->wdb) == 1) {
            res->outcome = id == D_INSERT ? HUREN_INDEX_DIR_STORED : HUREN_INDEX_DIR_REPLACED;
            res->held_version = e->version;
            return flag_same_pixels(idx, r, e);
        }
    }
    /* neither new nor newer: report the version held */
    sqlite3_stmt *s = stmt(r, D_FIND);
    huren_index__bind_opt(s, 1, e->pseudonym);
    huren_index__bind_opt(s, 2, e->institution);
    huren_index__bind_opt(s, 3, e->record_key);
    int src = sqlite3_step(s);
    res->held_version = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return huren_index__sqlerr(idx, idx->wdb, src, "finding directory entry");
    res->outcome = HUREN_INDEX_DIR_IGNORED;
    return 0;
}

/* The entries inside the transaction the write queue opened (writer.c); an error rolls the
 * whole batch back there. */
int huren_index__dir_write(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                           huren_index_dir_result *results)
{
    huren_index__dirrows *r = NULL;
    int rc = dirrows_get(idx, &r);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = entry_put(idx, r, &entries[i], &results[i]);
    return rc;
}

int huren_index_dir_put(huren_index *idx, const huren_index_dir_entry *entries, size_t n,
                        huren_index_dir_result *results)
{
    if (!idx)
        return HUREN_INDEX_EINVAL;
    if ((n && (!entries || !results)) || n > HUREN_INDEX_DIR_BATCH_MAX) {
        huren_index__seterr(idx, "a batch holds 0 to %d entries", HUREN_INDEX_DIR_BATCH_MAX);
        return HUREN_INDEX_EINVAL;
    }
    if (n == 0)
        return 0;
    memset(results, 0, n * sizeof(*results));
    /* one write queue: the batch shares a commit with whatever else is being written */
    return huren_index__dir_put_queued(idx, entries, n, results);
}

/* ---- lookups ---- */

static const char find_sql[] =
    "SELECT pseudonym, institution, record_key, version, kind, item_code, item_name, modality,"
    " body_part, item_date, hr, hr_scope, qualified_from, qualified_to, source_url, deleted,"
    " received_at, status, revision,"
    " coalesce(images, record_key LIKE 'study:%'), coalesce(report, record_key LIKE 'report:%'),"
    " report_key, pixel_root, coalesce(pixel_count, 0) FROM dir_entries WHERE pseudonym=?1"
    " AND (?2 IS NULL OR kind=?2)"
    " AND (?3 IS NULL OR item_code=?3) AND (?4 IS NULL OR item_date>=?4)"
    " AND (?5 OR deleted=0) ORDER BY item_date DESC, received_at DESC, institution, record_key"
    " LIMIT ?6";

const char *huren_index__dir_find_sql(void)
{
    return find_sql;
}

void huren_index__dir_row_read(huren_index__arena *a, sqlite3_stmt *s, huren_index_dir_entry *e)
{
    e->pseudonym = huren_index__col_copy(a, s, 0);
    e->institution = huren_index__col_copy(a, s, 1);
    e->record_key = huren_index__col_copy(a, s, 2);
    e->version = sqlite3_column_int64(s, 3);
    e->kind = huren_index__col_copy(a, s, 4);
    e->item_code = huren_index__col_copy(a, s, 5);
    e->item_name = huren_index__col_copy(a, s, 6);
    e->modality = huren_index__col_copy(a, s, 7);
    e->body_part = huren_index__col_copy(a, s, 8);
    e->date = huren_index__col_copy(a, s, 9);
    e->hr = sqlite3_column_int(s, 10);
    e->hr_scope = huren_index__col_copy(a, s, 11);
    e->qualified_from = huren_index__col_copy(a, s, 12);
    e->qualified_to = huren_index__col_copy(a, s, 13);
    e->source_url = huren_index__col_copy(a, s, 14);
    e->deleted = sqlite3_column_int(s, 15);
    e->received_at = huren_index__col_copy(a, s, 16);
    e->status = huren_index__col_copy(a, s, 17);
    e->revision = sqlite3_column_int64(s, 18);
    e->images = sqlite3_column_int(s, 19) ? 1 : -1;
    e->report = sqlite3_column_int(s, 20) ? 1 : -1;
    e->report_key = huren_index__col_copy(a, s, 21);
    e->pixel_root = huren_index__col_copy(a, s, 22);
    e->pixel_count = sqlite3_column_int64(s, 23);
}

/* Why a lookup cannot run, or NULL when it can. */
static const char *filter_problem(const char *pseudonym, const huren_index_dir_filter *f)
{
    if (!huren_index_pseudonym_valid(pseudonym))
        return "pseudonym: not 64 lowercase hex characters";
    if (present(f->kind) && !kind_valid(f->kind))
        return "kind: must be imaging or lab";
    if (present(f->since) && !date_valid(f->since))
        return "since: not YYYYMMDD";
    if (present(f->item_code) && !text_valid(f->item_code, CODE_MAX))
        return "item: longer than 64 or control characters";
    return NULL;
}

int huren_index_dir_filter_check(const char *pseudonym, const huren_index_dir_filter *filter,
                                 char reason[HUREN_INDEX_DIR_REASON_MAX])
{
    static const huren_index_dir_filter any = {0};
    const char *why = filter_problem(pseudonym, filter ? filter : &any);
    if (!why)
        return 0;
    if (reason)
        snprintf(reason, HUREN_INDEX_DIR_REASON_MAX, "%s", why);
    return HUREN_INDEX_EINVAL;
}

static int filter_check(huren_index *idx, const char *pseudonym, const huren_index_dir_filter *f)
{
    const char *why = filter_problem(pseudonym, f);
    if (why) {
        huren_index__seterr(idx, "%s", why);
        return HUREN_INDEX_EINVAL;
    }
    return 0;
}

int huren_index_dir_find(huren_index *idx, const char *pseudonym,
                         const huren_index_dir_filter *filter, huren_index_dir_list *out)
{
    static const huren_index_dir_filter any = {0};
    const huren_index_dir_filter *f = filter ? filter : &any;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc, src;
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = filter_check(idx, pseudonym, f)) < 0)
        return rc;
    size_t limit =
        f->limit && f->limit <= HUREN_INDEX_DIR_FIND_MAX ? f->limit : HUREN_INDEX_DIR_FIND_MAX;
    huren_index__arena *a = huren_index__arena_new();
    huren_index_dir_entry *items =
        a ? huren_index__arena_alloc(a, (limit + 1) * sizeof(*items)) : NULL;
    if (!items) {
        huren_index__arena_free(a);
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    if ((rc = huren_index__reader_get(idx, &db)) < 0)
        goto done;
    src = sqlite3_prepare_v2(db, find_sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        huren_index__bind_opt(s, 1, pseudonym);
        huren_index__bind_opt(s, 2, f->kind);
        huren_index__bind_opt(s, 3, f->item_code);
        huren_index__bind_opt(s, 4, f->since);
        sqlite3_bind_int(s, 5, f->include_deleted ? 1 : 0);
        sqlite3_bind_int64(s, 6, (int64_t)limit + 1); /* one more tells of truncation */
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            if (out->n == limit) {
                out->truncated = 1;
                continue;
            }
            huren_index__dir_row_read(a, s, &items[out->n++]);
        }
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    rc = src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "reading directory");
    if (rc == 0 && huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
done:
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    if (rc < 0) {
        huren_index__arena_free(a);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->items = items;
    out->arena_ = a;
    return (int)out->n;
}

void huren_index_dir_list_free(huren_index_dir_list *list)
{
    if (!list)
        return;
    huren_index__arena_free(list->arena_);
    memset(list, 0, sizeof(*list));
}
