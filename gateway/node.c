/* node.c: opening a node's archive from its configuration. */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == 0)
                break;
        }
    }
    return 0;
}

/* HUREN_TEST_CRASH_AT=copied|synced|committed|unlinked: the process stops dead after that
 * step of a compaction (exit status 77), as a crash there would (tests/integration). */
static void crash_at_step(const char *step, void *ctx)
{
    (void)ctx;
    const char *want = getenv("HUREN_TEST_CRASH_AT");
    if (want && !strcmp(want, step))
        _exit(77);
}

int node_open_index(node *n, char *err, size_t errlen)
{
    if (make_dirs(n->cfg->data_dir, err, errlen) < 0)
        return -1;
    huren_index_options io = HUREN_INDEX_OPTIONS_INIT;
    io.data_dir = n->cfg->data_dir;
    io.dup_policy = n->cfg->duplicates == CONFIG_DUPLICATES_REPLACE ? HUREN_INDEX_DUP_REPLACE
                                                                    : HUREN_INDEX_DUP_KEEP;
    io.fsync = n->cfg->fsync;
    io.busy_timeout_ms = (int)n->cfg->busy_timeout_ms;
    io.group_commit_max = (int)n->cfg->group_commit_max;
    io.pack_max_instance = n->cfg->pack_max_instance;
    char ierr[512];
    if (huren_index_open(&n->index, &io, ierr, sizeof ierr) < 0) {
        snprintf(err, errlen, "archive %s: %s", n->cfg->data_dir, ierr);
        return -1;
    }
    if (getenv("HUREN_TEST_CRASH_AT")) /* crash tests of compaction only */
        huren_index_compact_steps_set(n->index, crash_at_step, NULL);
    return 0;
}
