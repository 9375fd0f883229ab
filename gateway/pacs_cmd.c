/* pacs_cmd.c: `huren pacs sync NAME [--from YYYYMMDD] [--to YYYYMMDD] [--again] [OPTIONS]`:
 * the backfill of a PACS's past, day by day, newest first, with a line of progress per day.
 * Days already synced completely are skipped (so a backfill stopped half-way resumes), unless
 * --again. What it finds is published by the next `huren serve`, like `huren import`. */
#define LOG_COMPONENT "pacs"
#include "cli.h"
#include "commands.h"
#include "directory/publisher.h"
#include "huren_err.h"
#include "log.h"
#include "node.h"
#include "pacs/pacs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage_pacs[] =
    "usage: huren pacs sync NAME [--from YYYYMMDD] [--to YYYYMMDD] [--again] [OPTIONS]\n"
    "Index the studies the PACS of [pacs \"NAME\"] holds, day by day from --to (default\n"
    "today) back to --from (default: [pacs] sync_window_days before --to), by C-FIND within\n"
    "its limits. Days already synced are skipped (a stopped backfill resumes) unless --again.\n"
    "Exit status 1 if a day failed.\n\n" COMMON_FLAGS;

typedef struct totals {
    size_t days, skipped, answers, added, removed;
    unsigned queries;
} totals;

static void on_day(void *ctx, const pacs_day_report *r)
{
    totals *t = ctx;
    if (r->skipped) {
        t->skipped++;
        printf("%s: already synced, skipped\n", r->day);
    } else {
        t->days++;
        t->answers += r->answers;
        t->added += r->added;
        t->removed += r->removed;
        t->queries += r->queries;
        printf("%s: %zu studies (%zu new, %zu gone), %u queries\n", r->day, r->answers, r->added,
               r->removed, r->queries);
    }
    fflush(stdout);
}

static void day_before(const char *to, long days, char out[9])
{
    struct tm tm = {0};
    sscanf(to, "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    time_t t = timegm(&tm) - (time_t)days * 86400;
    gmtime_r(&t, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
}

static int run(const config *cfg, const char *name, const char *from, const char *to, int again)
{
    node n = {.cfg = cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN] = "", today[9], first[9];
    const config_pacs *p = config_find_pacs(cfg, name);
    if (!p) {
        fprintf(stderr, "huren pacs: no [pacs \"%s\"] in the configuration\n", name);
        return EXIT_USAGE;
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y%m%d", &tm);
    if (!to)
        to = today;
    if (!from) {
        day_before(to, p->sync_window_days - 1, first);
        from = first;
    }
    if (node_open_index(&n, err, sizeof err) < 0 || publisher_attach(&n, err, sizeof err) < 0 ||
        pacs_open_for_command(&n, err, sizeof err) < 0) {
        log_error("%s", err);
        publisher_stop(&n);
        huren_index_close(n.index);
        return 1;
    }
    totals t = {0};
    int days = pacs_sync_days(&n, name, from, to, !again, on_day, &t, err, sizeof err);
    pacs_stop(&n);
    publisher_stop(&n);
    huren_index_close(n.index);
    printf("PACS %s, %s-%s: %zu days synced, %zu skipped; %zu studies, %zu new, %zu gone; %u "
           "queries\n",
           name, from, to, t.days, t.skipped, t.answers, t.added, t.removed, t.queries);
    if (days < 0) {
        fprintf(stderr, "huren pacs: %s\n", err);
        return 1;
    }
    return 0;
}

int cmd_pacs(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "sync") != 0 || argv[2][0] == '-') {
        fprintf(stderr, "%s", usage_pacs);
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : EXIT_USAGE;
    }
    const char *name = argv[2], *from = NULL, *to = NULL;
    int again = 0;
    /* our flags out, the common ones (-c FILE, --data DIR, ...) to cli_parse */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc)
            from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = argv[++i];
        else if (!strcmp(argv[i], "--again"))
            again = 1;
        else
            rest[nrest++] = argv[i];
    }
    config cfg;
    int first = 0, rc = cli_parse(nrest, rest, usage_pacs, &cfg, &first);
    if (rc == 0 && first < nrest) {
        fprintf(stderr, "huren pacs: unexpected argument \"%s\"\n", rest[first]);
        rc = -1;
    }
    if (rc == 0) {
        signal(SIGPIPE, SIG_IGN);
        rc = run(&cfg, name, from, to, again);
    } else {
        rc = rc > 0 ? 0 : EXIT_USAGE;
    }
    config_free(&cfg);
    free(rest);
    return rc;
}
