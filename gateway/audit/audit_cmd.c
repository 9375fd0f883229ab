/* audit_cmd.c: `huren audit verify` (walk the hash chain; report the count and head, or the
 * first broken link) and `huren audit export --since T` (entries as DICOM/ATNA audit messages
 * on stdout). Both read the log named by the configuration and may run beside a live node. */
#include "audit_trail.h"
#include "huren_err.h"
#include "audit_xml.h"
#include "cli.h"
#include "commands.h"
#include "audit/huren_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_FLAGS                                                                                \
    "  -c, --config FILE   read FILE (the log is [audit] file, or DATA/audit.log)\n"               \
    "  --data DIR          archive folder (default ./var)\n"                                       \
    "  -h, --help          this help\n"

static const char usage_audit[] =
    "usage: huren audit verify [-c FILE] [--data DIR]\n"
    "       huren audit export --since YYYY-MM-DD[THH:MM:SS] [-c FILE] [--data DIR]\n"
    "\n"
    "verify: check every link of the audit log's hash chain. Prints \"audit log OK: N\n"
    "entries\" and the hash of the last one (exit 0), or the line and entry number of the\n"
    "first broken link and why (exit 1).\n"
    "export: write the entries at or after --since (UTC) to stdout as one XML document of\n"
    "DICOM PS3.15 / IHE ATNA audit messages (<AuditMessages><AuditMessage>...).\n\n" AUDIT_FLAGS;

static int verify(const char *path)
{
    huren_audit_check c;
    char err[HUREN_ERRLEN];
    if (huren_audit_verify(path, &c, err, sizeof err) < 0) {
        fprintf(stderr, "huren audit verify: %s\n", err);
        return 1;
    }
    if (!c.intact) {
        printf("audit log BROKEN: %s: line %llu (entry %llu): %s\n"
               "%llu entries before it are intact (last hash %s)\n",
               path, (unsigned long long)c.bad_line, (unsigned long long)c.bad_line, c.reason,
               (unsigned long long)c.entries, c.head);
        return 1;
    }
    printf("audit log OK: %s: %llu entries, last hash %s\n", path, (unsigned long long)c.entries,
           c.head);
    return 0;
}

static int export(const config *cfg, const char *path, const char *since)
{
    char err[HUREN_ERRLEN], source[64];
    long skipped = 0;
    snprintf(source, sizeof source, "huren:%s", cfg->aet);
    long n = audit_xml_export(path, since, source, stdout, &skipped, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "huren audit export: %s\n", err);
        return 1;
    }
    fprintf(stderr, "huren audit export: %ld messages since %s%s\n", n, since,
            skipped ? " (some lines were not entries: run huren audit verify)" : "");
    return skipped ? 1 : 0;
}

int cmd_audit(int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";
    if (!strcmp(action, "-h") || !strcmp(action, "--help")) {
        fputs(usage_audit, stdout);
        return 0;
    }
    if (strcmp(action, "verify") != 0 && strcmp(action, "export") != 0) {
        fprintf(stderr, "huren audit: expected verify or export\n\n%s", usage_audit);
        return EXIT_USAGE;
    }
    /* take --since out; the rest are the common flags */
    const char *since = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    int nrest = 0;
    rest[nrest++] = "audit";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--since") && i + 1 < argc)
            since = argv[++i];
        else if (!strncmp(argv[i], "--since=", 8))
            since = argv[i] + 8;
        else
            rest[nrest++] = argv[i];
    }
    config cfg;
    int first = 0, rc = cli_parse(nrest, rest, usage_audit, &cfg, &first);
    char path[4200];
    if (rc != 0) {
        rc = rc > 0 ? 0 : EXIT_USAGE;
    } else if (first < nrest) {
        fprintf(stderr, "huren audit: unexpected argument \"%s\"\n", rest[first]);
        rc = EXIT_USAGE;
    } else if (!strcmp(action, "export") && (!since || !audit_since_valid(since))) {
        fprintf(stderr, "huren audit export: --since YYYY-MM-DD[THH:MM:SS] is required\n");
        rc = EXIT_USAGE;
    } else if (audit_path(&cfg, path, sizeof path) < 0) {
        fprintf(stderr, "huren audit: path too long\n");
        rc = EXIT_USAGE;
    } else {
        rc = !strcmp(action, "verify") ? verify(path) : export(&cfg, path, since);
    }
    config_free(&cfg);
    free(rest);
    return rc;
}
