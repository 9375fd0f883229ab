/* cli.c: getopt_long over the flags every subcommand accepts. Each flag maps to one
 * configuration key, so `--dicom-port 0x1` fails with the same message as the file would. */
#include "cli.h"
#include "huren_err.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *flag;
    const char *section, *key;
} flag_keys[] = {
    {"data", "node", "data_dir"},
    {"role", "node", "role"},
    {"log-level", "node", "log_level"},
    {"bind", "node", "bind_address"},
    {"aet", "dicom", "aet"},
    {"dicom-port", "dicom", "port"},
    {"http-port", "http", "port"},
    {"hl7-port", "hl7", "port"},
};
#define NFLAGS (sizeof flag_keys / sizeof flag_keys[0])

int cli_parse(int argc, char **argv, const char *usage, config *cfg, int *first_operand)
{
    struct option longopts[NFLAGS + 3];
    memset(cfg, 0, sizeof *cfg); /* the caller frees it whatever we return (--help too) */
    for (size_t i = 0; i < NFLAGS; i++)
        longopts[i] = (struct option){flag_keys[i].flag, required_argument, NULL, 1000 + (int)i};
    longopts[NFLAGS] = (struct option){"config", required_argument, NULL, 'c'};
    longopts[NFLAGS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[NFLAGS + 2] = (struct option){0, 0, 0, 0};

    const char *file = NULL;
    const char *values[NFLAGS] = {0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        if (c == 'c') {
            file = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 1;
        } else if (c >= 1000 && c < 1000 + (int)NFLAGS) {
            values[c - 1000] = optarg;
        } else {
            fprintf(stderr, "huren %s: unknown option or missing value: %s\n\n%s", argv[0],
                    argv[optind - 1], usage);
            return -1;
        }
    }
    char err[HUREN_ERRLEN];
    if (config_defaults(cfg) < 0 || (file && config_load(cfg, file, err, sizeof err) < 0)) {
        fprintf(stderr, "huren: %s\n", file ? err : "bad embedded defaults");
        return -1;
    }
    for (size_t i = 0; i < NFLAGS; i++) {
        if (values[i] && config_set(cfg, flag_keys[i].section, flag_keys[i].key, values[i], err,
                                    sizeof err) < 0) {
            fprintf(stderr, "huren: --%s: %s\n", flag_keys[i].flag, err);
            return -1;
        }
    }
    if (config_validate(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "huren: %s\n", err);
        return -1;
    }
    log_init(cfg->log_level, stderr);
    *first_operand = optind;
    return 0;
}
