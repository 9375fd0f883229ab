/* commands.h: the subcommands of the huren executable, each in its own file. They return the
 * process exit status (documented in docs/operate.md). */
#ifndef HUREN_GATEWAY_COMMANDS_H
#define HUREN_GATEWAY_COMMANDS_H

#include "config.h"

#define EXIT_USAGE 2 /* bad command line or configuration */

int cmd_serve(const config *cfg);
int cmd_import(const config *cfg, int npaths, char *const paths[]);
/* `huren directory migrate-store ...`: argv[0] is "directory" (directory_cmd.c). */
int cmd_directory(int argc, char **argv);
/* `huren catalogue import|export --kind K ...`: argv[0] is "catalogue" (catalogue_cmd.c). */
int cmd_catalogue(int argc, char **argv);
/* `huren migrate`: the archive's and the directory store's schema migrations (migrate_cmd.c). */
int cmd_migrate(const config *cfg);
/* `huren audit verify|export ...`: argv[0] is "audit" (audit_cmd.c). */
int cmd_audit(int argc, char **argv);
/* `huren verify-claim FILE [--ca CA.pem]`: argv[0] is "verify-claim" (verify_claim.c). */
int cmd_verify_claim(int argc, char **argv);
/* `huren pacs sync NAME [--from YYYYMMDD] [--to YYYYMMDD] [--again] [OPTIONS]`: argv[0] is
 * "pacs" (pacs_cmd.c). */
int cmd_pacs(int argc, char **argv);
/* `huren backup [--verify] DEST`, `huren restore SRC` (datacare/backup_cmd.c). */
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
/* `huren delete-study UID` (datacare_cmd.c). */
int cmd_delete_study(int argc, char **argv);
/* `huren compact [--threshold F]` (datacare_cmd.c). */
int cmd_compact(int argc, char **argv);
/* `huren retention [--dry-run]` (datacare_cmd.c). */
int cmd_retention(int argc, char **argv);

#endif
