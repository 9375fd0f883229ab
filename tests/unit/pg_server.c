/* pg_server.c: start and stop a throwaway PostgreSQL for the unit tests (see pg_server.h). */
#include "pg_server.h"

#include <arpa/inet.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_AS "nobody"

int pg_server_available(pg_server *s)
{
    const char *env = getenv("HUREN_PG_BIN");
    memset(s, 0, sizeof(*s));
    if (env && *env) {
        snprintf(s->bin, sizeof s->bin, "%s", env);
    } else {
        glob_t g;
        if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
            return 0;
        /* the newest version sorts last */
        snprintf(s->bin, sizeof s->bin, "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - 7),
                 g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
    }
    char initdb[300];
    snprintf(initdb, sizeof initdb, "%s/initdb", s->bin);
    return access(initdb, X_OK) == 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Run a command line (paths are mkdtemp's: no quoting needed) as the server's user. */
static int run(pg_server *s, char *err, size_t errlen, const char *fmt, ...)
{
    char cmd[2048], line[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s%s >>%s/commands.log 2>&1",
             geteuid() == 0 ? "runuser -u " RUN_AS " -- " : "", cmd, s->dir);
    if (system(line) == 0)
        return 0;
    char log[300];
    snprintf(log, sizeof log, "%s/commands.log", s->dir);
    FILE *f = fopen(log, "r");
    char tail[1024] = "";
    if (f) {
        fseek(f, -(long)(sizeof tail - 1), SEEK_END);
        tail[fread(tail, 1, sizeof tail - 1, f)] = 0;
        fclose(f);
    }
    snprintf(err, errlen, "%s failed: %s", cmd, tail);
    return -1;
}

int pg_server_restart(pg_server *s, char *err, size_t errlen)
{
    if (run(s, err, errlen,
            "%s/pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-p %d -k %s -c "
            "listen_addresses=''\" start",
            s->bin, s->dir, s->dir, s->port, s->dir) < 0)
        return -1;
    s->running = 1;
    return 0;
}

static pg_server *registered;
static void stop_at_exit(void)
{
    if (registered)
        pg_server_destroy(registered);
}

int pg_server_start(pg_server *s, char *err, size_t errlen)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/huren-pg-XXXXXX");
    if (!mkdtemp(s->dir)) {
        snprintf(err, errlen, "mkdtemp failed");
        return -1;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(RUN_AS);
        if (!pw || chown(s->dir, pw->pw_uid, pw->pw_gid) != 0) {
            snprintf(err, errlen, "cannot give %s to user %s", s->dir, RUN_AS);
            return -1;
        }
    }
    s->port = free_port();
    snprintf(s->dsn, sizeof s->dsn, "host=%s port=%d dbname=huren user=huren", s->dir, s->port);
    if (!registered) {
        registered = s;
        atexit(stop_at_exit);
    }
    if (run(s, err, errlen,
            "%s/initdb -D %s/data -U huren --auth=trust -E UTF8 --locale=C --no-sync", s->bin,
            s->dir) < 0 ||
        run(s, err, errlen, "sh -c 'echo fsync=off >> %s/data/postgresql.conf'", s->dir) < 0 ||
        pg_server_restart(s, err, errlen) < 0)
        return -1;
    return run(s, err, errlen, "%s/createdb -h %s -p %d -U huren huren", s->bin, s->dir, s->port);
}

void pg_server_stop(pg_server *s, const char *mode)
{
    char err[256];
    if (!s->running)
        return;
    run(s, err, sizeof err, "%s/pg_ctl -D %s/data -m %s -w stop", s->bin, s->dir, mode);
    s->running = 0;
}

void pg_server_destroy(pg_server *s)
{
    pg_server_stop(s, "immediate");
    if (s->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_server: could not remove %s\n", s->dir);
        s->dir[0] = 0;
    }
    if (registered == s)
        registered = NULL;
}

static void notice_drop(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_server_exec(pg_server *s, const char *sql)
{
    PGconn *c = PQconnectdb(s->dsn);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, notice_drop, NULL);
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
        if (rc < 0)
            fprintf(stderr, "pg_server: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int pg_server_value(pg_server *s, const char *sql, char *out, size_t outlen)
{
    PGconn *c = PQconnectdb(s->dsn);
    int rc = -1;
    out[0] = 0;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            rc = 0;
            if (PQntuples(r) > 0)
                snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
        } else {
            fprintf(stderr, "pg_server: %s: %s", sql, PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}
