/* stmt.c: the statement helpers every area of the index shares: binding optional text,
 * preparing on the writer connection, stepping a statement that returns no row, and copying
 * a column out into a query answer's arena. */
#include "index_int.h"

void huren_index__bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int huren_index__wprep(huren_index *idx, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(idx->wdb, sql, -1, out, NULL);
    return rc == SQLITE_OK ? 0 : huren_index__sqlerr(idx, idx->wdb, rc, "preparing");
}

int huren_index__step_done(huren_index *idx, sqlite3_stmt *s, const char *what)
{
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, idx->wdb, src, what);
}

const char *huren_index__col_copy(huren_index__arena *a, sqlite3_stmt *s, int i)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    return v ? huren_index__arena_str(a, (const char *)v) : NULL;
}

const char *huren_index__col_copy_opt(huren_index__arena *a, sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);
    return v && *v ? huren_index__arena_str(a, v) : NULL;
}
