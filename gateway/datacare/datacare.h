/* datacare.h: data care (gateway/datacare/): backups and restores (backup_cmd.c, the commands
 * in commands.h), a study's deletion by an administrator (delete.c) and pack compaction
 * (compact.c), each as a command and an admin endpoint. */
#ifndef HUREN_DATACARE_H
#define HUREN_DATACARE_H

#include "config.h"

#include <stdio.h>
#include "http/http.h"
#include "node.h"

/* DELETE /api/v1/studies/{StudyInstanceUID} (admin): 200 with what went, 404, 400. */
int api_study_delete(http_request *req, http_response *res);
/* Delete a study outside HTTP (a command, the retention job) and record it in the audit trail
 * as study.delete by actor/role. Returns 0, 1 (deleted but not recorded), or the index's
 * negative code (recorded as failed). */
int datacare_delete_audited(node *n, const char *uid, const char *actor, const char *role,
                            huren_index_study_deleted *d);

/* Retention ([retention], retention.c): what the rules would delete now, oldest first, printed
 * to out (dry_run) or deleted (audited, actor "retention"), then compacted. Returns the number
 * of studies listed or deleted, or -1 with err. grace_s as huren_index_compact's. */
int retention_run(node *n, int dry_run, int grace_s, FILE *out, char *err, size_t errlen);
/* Is any rule set (max_age_days or min_free_mb)? */
int retention_enabled(const config *cfg);
/* The serve job: retention_run every [retention] interval (default daily) on its own thread,
 * the first after at most 5 minutes. Stopped (and joined) by retention_stop. */
int retention_start(node *n, char *err, size_t errlen);
void retention_stop(void);

/* Seconds a serving node leaves a rewritten pack for readers that found it before the commit. */
#define DATACARE_GRACE_S 300
/* POST /api/v1/admin/compact[?threshold=0.3][&grace=300] (admin): compacts the packs now
 * (compact.c); grace=0 unlinks rewritten packs at once. */
int api_compact(http_request *req, http_response *res);
/* Parse a --threshold or threshold= value: a number from 0 to 1. Returns 0 or -1. */
int datacare_threshold(const char *s, double *out);

/* The command line of a data-care command: cli_parse's flags, the flags of own (NULL-ended;
 * seen[k] set when given) and exactly one operand (*operand; none when operand is NULL),
 * before or after the flags.
 * Returns 0, 1 (--help shown) or -1 (message printed); cfg is to be freed whatever it returns. */
int datacare_parse(int argc, char **argv, const char *usage, const char *const *own, int *seen,
                   config *cfg, const char **operand);

#endif
