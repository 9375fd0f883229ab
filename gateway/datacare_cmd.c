/* datacare_cmd.c: `huren delete-study UID` (node stopped; the API's DELETE is
 * datacare/delete.c): the deletion through the index with the publish hook attached (a linked
 * exam report is described again on its own), recorded in the audit trail as cli:USER; and
 * `huren compact` (node stopped; the API's is datacare/compact.c). */
#include "audit_trail.h"
#include "commands.h"
#include "datacare/datacare.h"
#include "directory/publisher.h"
#include "huren_err.h"
#include "node.h"
#include "dicom/huren_dicom.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_delete[] =
    "usage: huren delete-study UID [-c FILE] [--data DIR]\n"
    "\n"
    "Delete the study UID with the node stopped (with the node running use\n"
    "DELETE /api/v1/studies/UID): its rows in one transaction with the directory's\n"
    "tombstone, its files of their own removed, its packed bytes left for huren compact.\n"
    "Recorded in the audit trail (actor cli:USER). Exit status 0, 1 (failed or not held),\n"
    "2 (bad UID or command line).\n\n"
    "  -c, --config FILE   read FILE\n"
    "  --data DIR          archive folder (default ./var)\n"
    "  -h, --help          this help\n";

static int delete_run(node *n, const char *uid)
{
    char actor[64];
    struct passwd *pw = getpwuid(getuid());
    snprintf(actor, sizeof actor, "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    huren_index_study_deleted d = {0};
    int rc = datacare_delete_audited(n, uid, actor, "admin", &d);
    if (rc == 1)
        fprintf(stderr, "huren delete-study: the deletion was not recorded in the audit log\n");
    if (rc < 0) {
        fprintf(stderr, "huren delete-study: %s\n", huren_index_errmsg(n->index));
        return 1;
    }
    printf("study %s deleted: %lld instances, %lld files removed, %lld packed bytes left for "
           "huren compact\n",
           uid, (long long)d.instances, (long long)d.files_removed, (long long)d.pack_bytes);
    return 0;
}

int cmd_delete_study(int argc, char **argv)
{
    static const char *const own[] = {NULL};
    config cfg;
    const char *uid = NULL;
    int rc = datacare_parse(argc, argv, usage_delete, own, NULL, &cfg, &uid);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : EXIT_USAGE;
    }
    if (!huren_dicom_uid_valid(uid)) {
        fprintf(stderr, "huren delete-study: expected one StudyInstanceUID\n\n%s", usage_delete);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    node n = {.cfg = &cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN];
    if (node_open_index(&n, err, sizeof err) < 0 || audit_open(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren delete-study: %s\n", err);
        huren_index_close(n.index);
        config_free(&cfg);
        return 1;
    }
    if (publisher_attach(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren delete-study: directory: %s\n", err);
        rc = 1;
    } else {
        rc = delete_run(&n, uid);
        publisher_stop(&n);
    }
    audit_close(&n);
    huren_index_close(n.index);
    config_free(&cfg);
    return rc;
}

static const char usage_compact[] =
    "usage: huren compact [--threshold F] [-c FILE] [--data DIR]\n"
    "\n"
    "Rewrite every pack whose garbage (bytes of replaced or deleted instances) is at least F\n"
    "of its size (0..1, default 0.3): live instances are copied into the current pack and\n"
    "synced, the index repointed in one transaction, the old pack removed. Safe to interrupt\n"
    "at any point (a rerun finishes the job). With the node running use\n"
    "POST /api/v1/admin/compact instead. Exit status 0, 1 (failed), 2 (command line).\n\n"
    "  --threshold F       garbage share that makes a pack worth rewriting (default 0.3)\n"
    "  -c, --config FILE   read FILE\n"
    "  --data DIR          archive folder (default ./var)\n"
    "  -h, --help          this help\n";

/* --threshold F / --threshold=F taken out of argv (in place); -1 when malformed. */
static int take_threshold(int *argc, char **argv, double *out)
{
    int j = 0, bad = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--threshold") && i + 1 < *argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--threshold=", 12))
            v = argv[i] + 12;
        else
            argv[j++] = argv[i];
        if (v && datacare_threshold(v, out) < 0)
            bad = 1;
    }
    *argc = j;
    return bad ? -1 : 0;
}

int cmd_compact(int argc, char **argv)
{
    static const char *const own[] = {NULL};
    double threshold = 0.3;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return 1;
    memcpy(args, argv, (size_t)argc * sizeof *args);
    int nargs = argc;
    config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = take_threshold(&nargs, args, &threshold);
    if (rc < 0)
        fprintf(stderr, "huren compact: --threshold wants a number from 0 to 1\n");
    else
        rc = datacare_parse(nargs, args, usage_compact, own, NULL, &cfg, NULL);
    free(args);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : EXIT_USAGE;
    }
    node n = {.cfg = &cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN];
    huren_index_compact_stats st;
    huren_index_pack_stats before = {0}, after = {0};
    if (node_open_index(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren compact: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    huren_index_pack_usage(n.index, &before);
    rc = huren_index_compact(n.index, threshold, 0, &st); /* no reader: unlink at once */
    if (rc < 0) {
        fprintf(stderr, "huren compact: %s\n", huren_index_errmsg(n.index));
    } else {
        huren_index_pack_usage(n.index, &after);
        printf("compacted: %lld of %lld packs rewritten, %lld instances moved, %lld bytes "
               "freed; pack garbage %lld -> %lld bytes\n",
               (long long)st.packs_rewritten, (long long)st.packs_seen,
               (long long)st.instances_moved, (long long)st.bytes_freed,
               (long long)before.garbage_bytes, (long long)after.garbage_bytes);
    }
    huren_index_close(n.index);
    config_free(&cfg);
    return rc < 0 ? 1 : 0;
}

static const char usage_retention[] =
    "usage: huren retention [--dry-run] [-c FILE] [--data DIR]\n"
    "\n"
    "Apply the [retention] rules now (node stopped; serve runs them every [retention]\n"
    "interval): studies whose StudyDate is more than max_age_days ago, and, while the disk has\n"
    "less than min_free_mb free, the oldest studies; protected = yes keeps studies with a\n"
    "recognition decision and the studies of patients with an insurer claim. Each deletion is\n"
    "audited (actor retention); packs are compacted after. --dry-run lists what would go.\n\n"
    "  --dry-run           list, delete nothing\n"
    "  -c, --config FILE   read FILE\n"
    "  --data DIR          archive folder (default ./var)\n"
    "  -h, --help          this help\n";

int cmd_retention(int argc, char **argv)
{
    static const char *const own[] = {"--dry-run", NULL};
    int seen[1] = {0};
    config cfg;
    int rc = datacare_parse(argc, argv, usage_retention, own, seen, &cfg, NULL);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : EXIT_USAGE;
    }
    if (!retention_enabled(&cfg)) {
        fprintf(stderr, "huren retention: no rule: set [retention] max_age_days or min_free_mb\n");
        config_free(&cfg);
        return EXIT_USAGE;
    }
    node n = {.cfg = &cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN];
    if (node_open_index(&n, err, sizeof err) < 0 || audit_open(&n, err, sizeof err) < 0 ||
        publisher_attach(&n, err, sizeof err) < 0) {
        fprintf(stderr, "huren retention: %s\n", err);
        audit_close(&n);
        huren_index_close(n.index);
        config_free(&cfg);
        return 1;
    }
    int k = retention_run(&n, seen[0], 0, stdout, err, sizeof err);
    if (k < 0)
        fprintf(stderr, "huren retention: %s\n", err);
    else
        printf("%d stud%s %s\n", k, k == 1 ? "y" : "ies", seen[0] ? "would be deleted" : "deleted");
    publisher_stop(&n);
    audit_close(&n);
    huren_index_close(n.index);
    config_free(&cfg);
    return k < 0 ? 1 : 0;
}
