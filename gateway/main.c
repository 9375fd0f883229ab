/* main.c: the huren executable: picks the subcommand, parses its options, runs it. */
#include "claims/claims.h"
#include "huren_err.h"
#include "cli.h"
#include "commands.h"
#include "reference.h"

#include <stdio.h>
#include <time.h>
#include <string.h>

static const char usage_main[] =
    "usage: huren COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve          run the node (DICOM, HTTP, HL7 listeners) until SIGTERM/SIGINT\n"
    "  import PATH... store DICOM files, HL7 message files and folders, offline\n"
    "  check-config   validate the configuration and exit\n"
    "  migrate        bring the archive's (and the directory's PostgreSQL) schema up to date\n"
    "  catalogue import|export  the province's reference data at the directory\n"
    "  directory migrate-store  copy a SQLite directory into PostgreSQL (resumable)\n"
    "  audit verify   check the audit log's hash chain\n"
    "  audit export   write audit entries as DICOM/IHE ATNA audit messages (XML)\n"
    "  verify-claim   check a signed insurer claim bundle (JWS ES256, x5c chain)\n"
    "  pacs sync      index what a [pacs] holds, day by day (backfill, resumable)\n"
    "  backup DEST    back up the archive (online); backup --verify DEST checks one\n"
    "  restore SRC    restore a backup into --data DIR (node stopped)\n"
    "  delete-study UID  delete a study (node stopped; else DELETE /api/v1/studies/UID)\n"
    "  compact        rewrite packs holding replaced or deleted instances (node stopped)\n"
    "  retention      apply the [retention] rules now (--dry-run lists what would go)\n"
    "  version        print the version\n"
    "\n"
    "`huren COMMAND --help` describes each command. Exit status: 0 success, 1 failure,\n"
    "2 bad command line or configuration.\n";

static const char usage_serve[] = "usage: huren serve [OPTIONS]\n"
                                  "Run the node until SIGTERM or SIGINT.\n\n" COMMON_FLAGS;
static const char usage_import[] =
    "usage: huren import [OPTIONS] PATH...\n"
    "Store the DICOM files found in PATHs (folders are walked recursively) into the archive.\n"
    "Non-DICOM files are skipped with a warning; files already stored are counted as\n"
    "duplicates. Exit status 1 if any file was rejected or could not be stored.\n\n" COMMON_FLAGS;
static const char usage_check[] =
    "usage: huren check-config [OPTIONS]\n"
    "Validate the configuration (file and flags); print \"configuration OK\" or\n"
    "FILE:LINE: what is wrong, and exit 0 or 2.\n\n" COMMON_FLAGS;

static const char usage_migrate[] =
    "usage: huren migrate [OPTIONS]\n"
    "Run the schema migrations of the archive in --data and, with [directory] store =\n"
    "postgresql, of the directory's database ([directory] dsn), as serve does at start;\n"
    "print each schema's version before and after. Exit status 1 if one failed.\n\n" COMMON_FLAGS;

static void print_problem(void *ctx, int warning, const char *line)
{
    (void)warning;
    (void)ctx;
    fprintf(stderr, "huren: %s\n", line);
}

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

/* Everything serve would check before it starts, every problem on its own line. */
static int check_config(const config *cfg)
{
    char err[HUREN_ERRLEN];
    int problems = config_check_files(cfg, time(NULL), print_problem, NULL);
    if (!problems && claims_check_config(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "huren: %s\n", err);
        problems++;
    }
    if (problems) {
        fprintf(stderr, "huren: %d problem%s in the configuration\n", problems,
                problems == 1 ? "" : "s");
        return EXIT_USAGE;
    }
    printf("configuration OK%s%s\n", cfg->path ? ": " : " (embedded defaults)",
           cfg->path ? cfg->path : "");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/reference", cfg->data_dir);
    ref_store_describe(dir, print_line, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("huren %s\n", HUREN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "audit"))
        return cmd_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "pacs"))
        return cmd_pacs(argc - 1, argv + 1);
    if (!strcmp(cmd, "catalogue"))
        return cmd_catalogue(argc - 1, argv + 1);
    if (!strcmp(cmd, "directory"))
        return cmd_directory(argc - 1, argv + 1);
    if (!strcmp(cmd, "backup"))
        return cmd_backup(argc - 1, argv + 1);
    if (!strcmp(cmd, "retention"))
        return cmd_retention(argc - 1, argv + 1);
    if (!strcmp(cmd, "compact"))
        return cmd_compact(argc - 1, argv + 1);
    if (!strcmp(cmd, "delete-study"))
        return cmd_delete_study(argc - 1, argv + 1);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify-claim"))
        return cmd_verify_claim(argc - 1, argv + 1);
    const char *usage = !strcmp(cmd, "serve")          ? usage_serve
                        : !strcmp(cmd, "import")       ? usage_import
                        : !strcmp(cmd, "check-config") ? usage_check
                        : !strcmp(cmd, "migrate")      ? usage_migrate
                                                       : NULL;
    if (!usage) {
        fprintf(stderr, "huren: unknown command \"%s\"\n\n%s", cmd, usage_main);
        return EXIT_USAGE;
    }
    config cfg;
    int first = 0;
    int rc = cli_parse(argc - 1, argv + 1, usage, &cfg, &first);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : EXIT_USAGE;
    }
    int nops = argc - 1 - first;
    char **ops = argv + 1 + first;
    if (!strcmp(cmd, "check-config")) {
        rc = check_config(&cfg);
    } else if (!strcmp(cmd, "import")) {
        if (nops == 0) {
            fprintf(stderr, "huren import: no PATH given\n\n%s", usage_import);
            rc = EXIT_USAGE;
        } else {
            rc = cmd_import(&cfg, nops, ops);
        }
    } else if (nops > 0) {
        fprintf(stderr, "huren %s: unexpected argument \"%s\"\n", cmd, ops[0]);
        rc = EXIT_USAGE;
    } else if (!strcmp(cmd, "migrate")) {
        rc = cmd_migrate(&cfg);
    } else {
        rc = cmd_serve(&cfg);
    }
    config_free(&cfg);
    return rc;
}
