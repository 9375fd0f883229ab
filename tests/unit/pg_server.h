/* pg_server.h: a real PostgreSQL for unit tests (Debian's postgresql-15), the C twin of
 * tests/integration/pg.py: initdb and pg_ctl in a temp folder of its own, a Unix socket in that
 * folder only (no TCP), a free port number, database "huren" for user "huren" (trust). The
 * server refuses to run as root, so as root it runs as "nobody" (the folder is made for it).
 * pg_server_stop runs from the tests' teardown and from atexit, so a failed test stops it too. */
#ifndef HUREN_TESTS_PG_SERVER_H
#define HUREN_TESTS_PG_SERVER_H

#include <stddef.h>

typedef struct pg_server {
    char bin[256]; /* the folder of initdb, pg_ctl, psql */
    char dir[256]; /* the server's folder: socket, data/, server.log */
    int port;
    char dsn[512]; /* host=DIR port=PORT dbname=huren user=huren */
    int running;
} pg_server;

/* Are the server binaries installed? Fills bin. 1 yes, 0 no. */
int pg_server_available(pg_server *s);
/* initdb, start, createdb. Returns 0, or -1 with the reason (and the server's log) in err. */
int pg_server_start(pg_server *s, char *err, size_t errlen);
/* Start again after pg_server_stop (same folder and port). */
int pg_server_restart(pg_server *s, char *err, size_t errlen);
/* mode "fast" or "immediate" (the server dies: no checkpoint). */
void pg_server_stop(pg_server *s, const char *mode);
/* Stop and remove the folder. */
void pg_server_destroy(pg_server *s);
/* Run SQL through libpq on the "huren" database; returns 0 or -1. */
int pg_server_exec(pg_server *s, const char *sql);
/* The first column of the first row of a query, as text, into out ("" when none); 0 or -1. */
int pg_server_value(pg_server *s, const char *sql, char *out, size_t outlen);

#endif
