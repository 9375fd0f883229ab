/* cli.h: command-line parsing shared by the subcommands: -c FILE and the flags that override
 * the configuration file, applied through config_set() so they are validated the same way. */
#ifndef HUREN_GATEWAY_CLI_H
#define HUREN_GATEWAY_CLI_H

#include "config.h"

/* Parse argv (argv[0] is the subcommand) into cfg: defaults, then the file, then the flags.
 * On success returns 0 and sets *first_operand to the index of the first non-option argument.
 * Returns 1 if help was printed, or -1 after printing the reason to stderr. */
int cli_parse(int argc, char **argv, const char *usage, config *cfg, int *first_operand);

#endif
