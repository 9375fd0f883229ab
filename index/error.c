/* error.c: per-thread error messages. The handle is shared by many threads, so the message of a
 * failed call is kept in a thread-local buffer tagged with the handle it belongs to. */
#include "index_int.h"

#include <stdio.h>
#include <string.h>

static _Thread_local struct {
    const huren_index *idx;
    char msg[HUREN_INDEX__ERR_MAX];
} tls_err;

void huren_index__seterr(const huren_index *idx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err.msg, sizeof(tls_err.msg), fmt, ap);
    va_end(ap);
    tls_err.idx = idx;
}

int huren_index__sqlerr(const huren_index *idx, sqlite3 *db, int rc, const char *what)
{
    huren_index__seterr(idx, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HUREN_INDEX_EBUSY;
    case SQLITE_IOERR:
    case SQLITE_FULL:
        return HUREN_INDEX_EIO;
    default:
        return HUREN_INDEX_ERROR;
    }
}

const char *huren_index_errmsg(const huren_index *idx)
{
    return tls_err.idx == idx ? tls_err.msg : "";
}
