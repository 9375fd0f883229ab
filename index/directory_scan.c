/* directory_scan.c: the directory's entries in key order, a batch at a time after a key (keyset
 * pagination on the primary key: each batch one index range, however far in), for copying a
 * directory to another store (gateway's migrate-store). */
#include "index_int.h"
#include "index/index_directory.h"

#include <string.h>

static const char scan_sql[] =
    "SELECT pseudonym, institution, record_key, version, kind, item_code, item_name, modality,"
    " body_part, item_date, hr, hr_scope, qualified_from, qualified_to, source_url, deleted,"
    " received_at, status, revision,"
    " coalesce(images, record_key LIKE 'study:%'), coalesce(report, record_key LIKE 'report:%'),"
    " report_key, pixel_root, coalesce(pixel_count, 0) FROM dir_entries"
    " WHERE ?1 IS NULL OR (pseudonym, institution, record_key) >"
    " (?1, ?2, ?3) ORDER BY pseudonym, institution, record_key LIMIT ?4";

static int rows_read(huren_index *idx, sqlite3 *db, const huren_index_dir_entry *after,
                     size_t limit, huren_index__arena *a, huren_index_dir_entry *items, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, scan_sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        huren_index__bind_opt(s, 1, after ? after->pseudonym : NULL);
        huren_index__bind_opt(s, 2, after ? after->institution : NULL);
        huren_index__bind_opt(s, 3, after ? after->record_key : NULL);
        sqlite3_bind_int64(s, 4, (int64_t)limit);
        while ((src = sqlite3_step(s)) == SQLITE_ROW && *n < limit)
            huren_index__dir_row_read(a, s, &items[(*n)++]);
        if (src == SQLITE_DONE || src == SQLITE_ROW)
            src = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "reading directory");
}

static int count_read(huren_index *idx, sqlite3 *db, int64_t *total)
{
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(db, "SELECT count(*) FROM dir_entries", -1, &s, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        *total = sqlite3_column_int64(s, 0);
        src = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return src == SQLITE_OK ? 0 : huren_index__sqlerr(idx, db, src, "counting directory entries");
}

int huren_index_dir_scan(huren_index *idx, const huren_index_dir_entry *after, size_t limit,
                         huren_index_dir_list *out, int64_t *total)
{
    sqlite3 *db = NULL;
    if (!idx || !out || limit < 1 || limit > HUREN_INDEX_DIR_BATCH_MAX)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    huren_index__arena *a = huren_index__arena_new();
    huren_index_dir_entry *items = a ? huren_index__arena_alloc(a, limit * sizeof(*items)) : NULL;
    if (!items) {
        huren_index__arena_free(a);
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    int rc = huren_index__reader_get(idx, &db);
    if (rc == 0)
        rc = rows_read(idx, db, after, limit, a, items, &out->n);
    if (rc == 0 && total)
        rc = count_read(idx, db, total);
    if (rc == 0 && huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
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
