/* directory_cmd.c: `huren directory migrate-store --from sqlite:PATH --to postgresql`: copies
 * the directory a node kept in its SQLite index (a test region's) into the PostgreSQL store of
 * the configuration, resumable (directory/migrate_store.c), with progress on stderr. */
#include "cli.h"
#include "commands.h"
#include "directory/migrate_store.h"
#include "huren_err.h"
#include "node.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: huren directory migrate-store --from sqlite:PATH --to postgresql [--batch N]\n"
    "                                     [-c FILE]\n"
    "Copy every entry of the directory held in the SQLite index at PATH (a node's --data\n"
    "folder, or its index.db) into the PostgreSQL store that FILE's [directory] store, dsn\n"
    "configure, N entries a batch (default 1000) through the same put as publishing. Run it\n"
    "again after an interruption: it resumes after the last batch committed (kept in the\n"
    "table migrate_progress) and changes nothing already copied. Progress on stderr.\n"
    "Exit status 0 done, 1 failed, 2 bad command line or configuration.\n";

/* The data folder of PATH: itself, or the folder of an index.db. */
static int data_dir_of(const char *path, char *out, size_t len)
{
    struct stat st;
    char real[PATH_MAX];
    if (stat(path, &st) != 0 || !realpath(path, real))
        return -1;
    if (S_ISDIR(st.st_mode))
        return snprintf(out, len, "%s", real) < (int)len ? 0 : -1;
    char *slash = strrchr(real, '/');
    if (!slash || strcmp(slash + 1, "index.db") != 0)
        return -1;
    *slash = 0;
    return snprintf(out, len, "%s", real[0] ? real : "/") < (int)len ? 0 : -1;
}

static int migrate(const config *cfg, const char *data, size_t batch)
{
    char err[HUREN_ERRLEN], source[PATH_MAX + 16];
    config src_cfg = *cfg; /* the source's own folder, the rest as configured */
    src_cfg.data_dir = (char *)data;
    node n = {.cfg = &src_cfg};
    if (node_open_index(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren directory migrate-store: %s\n", err);
        return 1;
    }
    snprintf(source, sizeof source, "sqlite:%s/index.db", data);
    directory_store_options so;
    directory_store_options_from_config(&so, cfg, NULL);
    directory_store *dst = NULL;
    int rc = 1;
    if (directory_store_open(&so, &dst, err, sizeof err) < 0) {
        fprintf(stderr, "huren directory migrate-store: %s\n", err);
        goto done;
    }
    migrate_store_options mo = {.src = n.index,
                                .source = source,
                                .dst = dst,
                                .dsn = cfg->dir_dsn,
                                .batch = batch,
                                .progress = stderr};
    migrate_store_counts c;
    if (migrate_store_run(&mo, &c, err, sizeof err) < 0) {
        fprintf(stderr, "huren directory migrate-store: %s\n", err);
        goto done;
    }
    printf("migrate-store: %lld of %lld entries in PostgreSQL (%lld by an earlier run); this run: "
           "%lld stored, %lld replaced, %lld unchanged, %lld refused\n",
           (long long)c.done, (long long)c.total, (long long)c.resumed, (long long)c.stored,
           (long long)c.replaced, (long long)c.ignored, (long long)c.refused);
    rc = c.refused ? 1 : 0;
done:
    directory_store_close(dst);
    huren_index_close(n.index);
    return rc;
}

int cmd_directory(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "migrate-store") != 0) {
        fputs(usage, argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : EXIT_USAGE;
    }
    /* --from, --to, --batch here; the rest (-c FILE, --log-level ...) as every command */
    const char *from = NULL, *to = NULL;
    long batch = 1000;
    char *rest[64];
    int nrest = 0;
    rest[nrest++] = "directory migrate-store";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int value = i + 1 < argc;
        if (!strcmp(a, "--from") && value)
            from = argv[++i];
        else if (!strcmp(a, "--to") && value)
            to = argv[++i];
        else if (!strcmp(a, "--batch") && value)
            batch = strtol(argv[++i], NULL, 10);
        else if (nrest < 63)
            rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    config cfg;
    int first = 0, rc = cli_parse(nrest, rest, usage, &cfg, &first);
    char data[PATH_MAX];
    if (rc != 0) {
        rc = rc > 0 ? 0 : EXIT_USAGE;
    } else if (first < nrest || !from || !to || strncmp(from, "sqlite:", 7) != 0 ||
               strcmp(to, "postgresql") != 0 || batch < 1 || batch > HUREN_INDEX_DIR_BATCH_MAX) {
        fprintf(stderr,
                "huren directory migrate-store: give --from sqlite:PATH --to postgresql"
                " (and --batch 1 to %d)\n\n%s",
                HUREN_INDEX_DIR_BATCH_MAX, usage);
        rc = EXIT_USAGE;
    } else if (cfg.dir_store != CONFIG_DIR_STORE_POSTGRESQL) {
        fprintf(stderr, "huren directory migrate-store: --to postgresql needs [directory] store ="
                        " postgresql and dsn in the configuration (-c FILE)\n");
        rc = EXIT_USAGE;
    } else if (data_dir_of(from + 7, data, sizeof data) < 0) {
        fprintf(stderr, "huren directory migrate-store: %s: not a node's data folder or index.db\n",
                from + 7);
        rc = EXIT_USAGE;
    } else {
        rc = migrate(&cfg, data, (size_t)batch);
    }
    config_free(&cfg);
    return rc;
}
