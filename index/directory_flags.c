/* directory_flags.c: what the directory flagged for the platform operator (schema 15): the
 * same pixel root under two pseudonyms (同片不同名), written by directory.c when an entry is
 * stored; listed here oldest first, by institution code and record key only. */
#include "index_int.h"
#include "index/index_directory.h"

#include <string.h>

int huren_index_dir_flags_list(huren_index *idx, int64_t after, size_t limit,
                               huren_index_dir_flag_list *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (!idx || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof(*out));
    if (limit == 0 || limit > HUREN_INDEX_DIR_FIND_MAX)
        limit = HUREN_INDEX_DIR_FIND_MAX;
    huren_index__arena *a = huren_index__arena_new();
    huren_index_dir_flag *items = a ? huren_index__arena_alloc(a, limit * sizeof(*items)) : NULL;
    if (!items) {
        huren_index__arena_free(a);
        huren_index__seterr(idx, "out of memory");
        return HUREN_INDEX_ERROR;
    }
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0) {
        huren_index__arena_free(a);
        return rc;
    }
    int src = sqlite3_prepare_v2(db,
                                 "SELECT pk, kind, institution, record_key, pixel_root, flagged_at"
                                 " FROM dir_flags WHERE pk > ?1 ORDER BY pk LIMIT ?2",
                                 -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int64(s, 2, (int64_t)limit + 1);
    }
    size_t n = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            out->truncated = 1;
            src = SQLITE_DONE;
            break;
        }
        huren_index_dir_flag *f = &items[n++];
        f->id = sqlite3_column_int64(s, 0);
        f->kind = huren_index__col_copy(a, s, 1);
        f->institution = huren_index__col_copy(a, s, 2);
        f->record_key = huren_index__col_copy(a, s, 3);
        f->pixel_root = huren_index__col_copy(a, s, 4);
        f->flagged_at = huren_index__col_copy(a, s, 5);
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE)
        rc = huren_index__sqlerr(idx, db, src, "reading directory flags");
    else if (huren_index__arena_oom(a)) {
        huren_index__seterr(idx, "out of memory");
        rc = HUREN_INDEX_ERROR;
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    if (rc < 0) {
        huren_index__arena_free(a);
        return rc;
    }
    out->items = items;
    out->n = n;
    out->arena_ = a;
    return (int)n;
}

void huren_index_dir_flag_list_free(huren_index_dir_flag_list *l)
{
    if (!l)
        return;
    huren_index__arena_free(l->arena_);
    memset(l, 0, sizeof(*l));
}
