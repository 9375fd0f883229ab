/* publisher.h: a hospital node publishing to the regional directory. The index's publish hook
 * describes each stored study and report as a directory entry (pseudonym, catalogue item, date,
 * HR mark; never a name or an id), which index/ writes to the outbox in the same transaction;
 * a sender thread drains the outbox to POST /api/v1/directory/entries with libcurl (mTLS),
 * in batches, retrying with exponential backoff, removing rows only once acknowledged. */
#ifndef HUREN_GATEWAY_PUBLISHER_H
#define HUREN_GATEWAY_PUBLISHER_H

#include "catalogue.h"
#include "huren_index.h"
#include "index/index_directory.h"
#include "node.h"

#include <jansson.h>

typedef struct publisher publisher;

/* With [directory] publish = yes: load the region key and the catalogue, install the hook on
 * n->index and start the sender (n->publisher). Without: nothing (returns 0, NULL). Returns
 * -1 with err when the key or catalogue cannot be loaded. Call before any listener starts. */
int publisher_start(node *n, char *err, size_t errlen);
/* The same without the sender (`huren import`): what is stored is queued in the outbox, and
 * sent by the next `huren serve`. */
int publisher_attach(node *n, char *err, size_t errlen);
/* Stop the sender (a send in flight is abandoned: its rows stay for the next start) and
 * remove the hook. NULL-safe. */
void publisher_stop(node *n);
/* SIGHUP: the [directory] catalogue read again for what is described from now on. 0 done, 1
 * not publishing (or no catalogue), -1 with err (the file's line) and the old one kept. */
int publisher_catalogue_reload(node *n, char *err, size_t errlen);

/* The publish hook (huren_index_publish_fn), exposed for tests: payload is a publisher. */
int publisher_describe(const huren_index_publish_event *ev, char pseudonym[65], char **entry,
                       void *payload);

/* Prometheus text of the publisher (backlog, oldest, sent, refused, failures, last success)
 * and JSON for /api/v1/health. Caller frees / decrefs; NULL when p is NULL. */
char *publisher_metrics(publisher *p);
json_t *publisher_health(publisher *p);

/* Test and tool hook: a publisher without a node or thread, for publisher_describe. */
publisher *publisher_new_detached(const config *cfg, huren_index *idx, catalogue *cat,
                                  const unsigned char *key, size_t keylen);
void publisher_free_detached(publisher *p);

#endif
