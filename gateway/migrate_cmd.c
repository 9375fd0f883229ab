/* migrate_cmd.c: `huren migrate`: brings the archive's SQLite schema (--data) and, with
 * [directory] store = postgresql, the directory's PostgreSQL schema up to date, and says from
 * which version to which. serve runs the same migrations at start; this runs them alone, e.g.
 * before starting several directory nodes on one database, or to see where a database is. */
#include "commands.h"
#include "directory/store.h"
#include "huren_err.h"
#include "node.h"

#include <stdio.h>

static void say(const char *what, int from, int to)
{
    if (from == to)
        printf("%s: schema version %d, up to date\n", what, to);
    else
        printf("%s: schema version %d -> %d\n", what, from, to);
}

int cmd_migrate(const config *cfg)
{
    char err[HUREN_ERRLEN];
    node n = {.cfg = cfg};
    if (node_open_index(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren migrate: %s\n", err);
        return 1;
    }
    char what[600];
    snprintf(what, sizeof what, "archive %s/index.db (sqlite)", cfg->data_dir);
    say(what, huren_index_schema_version_opened(n.index), huren_index_schema_version(n.index));
    huren_index_close(n.index);
    if (cfg->dir_store != CONFIG_DIR_STORE_POSTGRESQL)
        return 0;
    directory_store_options o;
    directory_store_options_from_config(&o, cfg, NULL);
    int from = 0, to = 0;
    if (directory_store_migrate(&o, &from, &to, err, sizeof err) < 0) {
        fprintf(stderr, "huren migrate: directory (postgresql): %s\n", err);
        return 1;
    }
    say("directory (postgresql, [directory] dsn)", from, to);
    return 0;
}
