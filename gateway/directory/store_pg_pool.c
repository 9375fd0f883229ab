/* store_pg_pool.c: a small pool of libpq connections to one DSN. Connections open on first use,
 * each with its statement_timeout set and the store's statements prepared; one that broke (the
 * server went away, failed over, shut down) is closed and reopened by the next caller, so a
 * promoted standby named in a multi-host DSN is found without restarting huren. */
#include "store_pg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_WAIT_DEFAULT_MS 30000 /* waiting for a free connection without a statement timeout */

/* Notices (a table that exists already, ...) are not errors: the store returns what matters. */
static void notice_drop(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *pg_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (c)
        PQsetNoticeProcessor(c, notice_drop, NULL);
    return c;
}

void pg_error(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : "out of memory";
    int n = (int)strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, n, m);
}

int pg_conn_broken(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return 1;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return 0;
    /* 08: connection exception; 57P: operator intervention (shutdown, crash recovery);
     * 25006: read-only transaction (the server became a standby); 40001/40P01 are the
     * statement's, not the connection's */
    return !strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strcmp(state, "25006");
}

int pg_pool_init(pg_pool *p, const char *dsn, const char *what, int size, int timeout_ms,
                 int prepare, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->size = size > 0 ? size : 1;
    p->timeout_ms = timeout_ms;
    p->prepare = prepare;
    p->dsn = strdup(dsn);
    p->conns = calloc((size_t)p->size, sizeof(*p->conns));
    p->used = calloc((size_t)p->size, 1);
    if (!p->dsn || !p->conns || !p->used) {
        snprintf(err, errlen, "out of memory");
        pg_pool_destroy(p);
        return DIRECTORY_STORE_ERROR;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return 0;
}

void pg_pool_destroy(pg_pool *p)
{
    if (p->conns) {
        for (int i = 0; i < p->size; i++)
            if (p->conns[i])
                PQfinish(p->conns[i]);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    free(p->conns);
    free(p->used);
    free(p->dsn);
    memset(p, 0, sizeof(*p));
}

/* Open a connection and make it ready (timeout, statements). NULL with err on failure. */
static PGconn *pool_connect(pg_pool *p, char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof what, "connecting (%s)", p->what);
    PGconn *c = pg_connect(p->dsn);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg_error(c, NULL, what, err, errlen);
        PQfinish(c);
        return NULL;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %d", p->timeout_ms);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_error(c, r, what, err, errlen);
    PQclear(r);
    if (!ok || pg_prepare(c, p->prepare, err, errlen) < 0) {
        PQfinish(c);
        return NULL;
    }
    atomic_fetch_add(&p->connects, 1);
    atomic_fetch_add(&p->nopen, 1);
    return c;
}

/* A free slot, waiting for one up to the timeout; -1 when none came. Called with mu held. */
static int pool_slot(pg_pool *p)
{
    int wait_ms = p->timeout_ms > 0 ? p->timeout_ms : POOL_WAIT_DEFAULT_MS;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    for (;;) {
        int best = -1;
        for (int i = 0; i < p->size; i++) {
            if (p->used[i])
                continue;
            if (p->conns[i]) /* an open one first */
                return i;
            if (best < 0)
                best = i;
        }
        if (best >= 0)
            return best;
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
            return -1;
    }
}

int pg_pool_get(pg_pool *p, PGconn **conn, int *fresh, char *err, size_t errlen)
{
    *fresh = 0;
    pthread_mutex_lock(&p->mu);
    int slot = pool_slot(p);
    if (slot >= 0) {
        p->used[slot] = 1;
        p->nbusy++;
    }
    PGconn *c = slot >= 0 ? p->conns[slot] : NULL;
    pthread_mutex_unlock(&p->mu);
    if (slot < 0) {
        atomic_fetch_add(&p->failures, 1);
        snprintf(err, errlen, "%s: all %d connections busy", p->what, p->size);
        return DIRECTORY_STORE_EUNAVAIL;
    }
    if (!c) { /* connecting outside the lock: the others go on */
        c = pool_connect(p, err, errlen);
        pthread_mutex_lock(&p->mu);
        p->conns[slot] = c;
        pthread_mutex_unlock(&p->mu);
        if (!c) {
            atomic_fetch_add(&p->failures, 1);
            pg_pool_put(p, slot, 0);
            return DIRECTORY_STORE_EUNAVAIL;
        }
        *fresh = 1;
    }
    *conn = c;
    return slot;
}

void pg_pool_put(pg_pool *p, int slot, int broken)
{
    PGconn *gone = NULL;
    pthread_mutex_lock(&p->mu);
    if (broken && p->conns[slot]) {
        gone = p->conns[slot];
        p->conns[slot] = NULL;
    }
    p->used[slot] = 0;
    p->nbusy--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (gone) {
        atomic_fetch_add(&p->failures, 1);
        atomic_fetch_sub(&p->nopen, 1);
        PQfinish(gone);
    }
}
