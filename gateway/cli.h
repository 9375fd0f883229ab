/* cli.h: command-line parsing shared by the subcommands: -c FILE and the flags that override
 * the configuration file, applied through config_set() so they are validated the same way. */
#ifndef HUREN_GATEWAY_CLI_H
#define HUREN_GATEWAY_CLI_H

#include "config.h"

/* Parse argv (argv[0] is the subcommand) into cfg: defaults, then the file, then the flags.
 * On success returns 0 and sets *first_operand to the index of the first non-option argument.
 * Returns 1 if help was printed, or -1 after printing the reason to stderr. */
/* The options cli_parse() takes, for each command's usage text. */
#define COMMON_FLAGS                                                                               \
    "  -c, --config FILE   read FILE (INI; see conf/huren.conf); flags below override it\n"        \
    "  --data DIR          archive folder (default ./var)\n"                                       \
    "  --role ROLE         hospital | directory (default hospital)\n"                              \
    "  --bind ADDR         address to listen on (default 127.0.0.1; others need TLS)\n"            \
    "  --aet AE            DICOM AE title (default HUREN)\n"                                       \
    "  --dicom-port N      DICOM port (default 11112; 0 = any free port)\n"                        \
    "  --http-port N       HTTP port (default 8080; 0 = any free port)\n"                          \
    "  --hl7-port N        HL7 MLLP port (default 2575; 0 = any free port)\n"                      \
    "  --log-level LEVEL   error | warn | info | debug (default info)\n"                           \
    "  -h, --help          this help\n"

int cli_parse(int argc, char **argv, const char *usage, config *cfg, int *first_operand);

#endif
