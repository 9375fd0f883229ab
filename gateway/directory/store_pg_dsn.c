/* store_pg_dsn.c: the check of a PostgreSQL conninfo from [directory] dsn / read_dsn, for
 * check-config and start: it must parse (libpq's own parser: key=value or postgresql:// URI)
 * and must not carry a password, which belongs in a passfile or is replaced by certificates. */
#include "store.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

int directory_store_dsn_check(const char *dsn, const char *key, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    if (!opts) {
        size_t n = perr ? strlen(perr) : 0;
        while (n && (perr[n - 1] == '\n' || perr[n - 1] == ' '))
            perr[--n] = 0;
        snprintf(err, errlen, "[directory] %s: not a PostgreSQL connection string (%s)", key,
                 perr && *perr ? perr : "out of memory");
        PQfreemem(perr);
        return -1;
    }
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "password") && o->val) {
            snprintf(err, errlen,
                     "[directory] %s: a password is not allowed in the configuration file; "
                     "use a passfile (passfile=, PGPASSFILE or ~/.pgpass) or client "
                     "certificates (sslcert, sslkey)",
                     key);
            rc = -1;
        }
    }
    PQconninfoFree(opts);
    return rc;
}
