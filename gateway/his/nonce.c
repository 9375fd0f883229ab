/* nonce.c: the launches already used, so that a launch URL opens one session only. A launch
 * lives at most HIS_LAUNCH_MAX_AGE seconds, so a nonce is kept until its launch's exp: in
 * memory for the check, and appended (fsync'd) to a file under the data folder before the
 * session opens, so that a restart inside the window does not forget it. */
#include "his_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void forget_expired(his_nonces *st, time_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->v[i].exp >= now)
            st->v[k++] = st->v[i];
    st->n = k;
}

static int write_line(int fd, const his_nonce *e)
{
    char line[200];
    int len = snprintf(line, sizeof line, "%lld %s\n", (long long)e->exp, e->text);
    return len > 0 && write(fd, line, (size_t)len) == len ? 0 : -1;
}

/* Read back the lines still in force, then rewrite the file with them only. */
static int load(his_nonces *st, char *err, size_t errlen)
{
    FILE *f = fopen(st->path, "r");
    time_t now = time(NULL);
    char line[256];
    while (f && fgets(line, sizeof line, f) && st->n < HIS_NONCES_MAX) {
        long long exp;
        char text[129];
        if (sscanf(line, "%lld %128[^\n]", &exp, text) == 2 && exp >= now) {
            st->v[st->n].exp = (time_t)exp;
            snprintf(st->v[st->n++].text, sizeof st->v[0].text, "%s", text);
        }
    }
    if (f)
        fclose(f);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", st->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    for (size_t i = 0; fd >= 0 && i < st->n; i++)
        if (write_line(fd, &st->v[i]) < 0) {
            close(fd);
            fd = -1;
        }
    if (fd < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, st->path) < 0) {
        snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
        return -1;
    }
    st->fd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (st->fd < 0) {
        snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
        return -1;
    }
    return 0;
}

int his__nonces_open(his_nonces *st, const char *path, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    snprintf(st->path, sizeof st->path, "%s", path);
    if (!(st->v = calloc(HIS_NONCES_MAX, sizeof *st->v))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&st->mu, NULL);
    if (load(st, err, errlen) < 0) {
        his__nonces_close(st);
        return -1;
    }
    return 0;
}

void his__nonces_close(his_nonces *st)
{
    if (!st->v)
        return;
    if (st->fd >= 0)
        close(st->fd);
    pthread_mutex_destroy(&st->mu);
    free(st->v);
    st->v = NULL;
}

int his__nonce_use(his_nonces *st, const char *his, const char *nonce, time_t exp)
{
    his_nonce e = {.exp = exp};
    if (snprintf(e.text, sizeof e.text, "%s %s", his, nonce) >= (int)sizeof e.text)
        return -1;
    int rc = 1;
    pthread_mutex_lock(&st->mu);
    forget_expired(st, time(NULL));
    for (size_t i = 0; i < st->n && rc == 1; i++)
        if (strcmp(st->v[i].text, e.text) == 0)
            rc = 0;
    if (rc == 1 && (st->n == HIS_NONCES_MAX || write_line(st->fd, &e) < 0 || fdatasync(st->fd) < 0))
        rc = -1;
    if (rc == 1)
        st->v[st->n++] = e;
    pthread_mutex_unlock(&st->mu);
    return rc;
}
