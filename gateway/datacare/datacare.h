/* datacare.h: data care (gateway/datacare/): backups and restores (backup_cmd.c, the commands
 * in commands.h), a study's deletion by an administrator (delete.c) and pack compaction
 * (compact.c), each as a command and an admin endpoint. */
#ifndef HUREN_DATACARE_H
#define HUREN_DATACARE_H

#include "config.h"
#include "http/http.h"

/* DELETE /api/v1/studies/{StudyInstanceUID} (admin): 200 with what went, 404, 400. */
int api_study_delete(http_request *req, http_response *res);
/* POST /api/v1/admin/compact[?threshold=0.3] (admin): compacts the packs now (compact.c). */
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
