/* node.h: one running huren node: its configuration, archive, listeners and counters. The
 * services (DICOM, HTTP, ...) get a pointer to it as their handlers' payload. */
#ifndef HUREN_GATEWAY_NODE_H
#define HUREN_GATEWAY_NODE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "huren_dicom.h"
#include "huren_hl7.h"
#include "huren_index.h"
#include "audit/huren_audit.h"
#include "http/http.h"
#include "metrics.h"

struct node;

/* Calls one feature offers another through the node, so that neither includes the other: the
 * root (serve.c) installs them; NULL means no feature offers it. */
typedef struct node_hooks {
    /* A C-MOVE or C-GET asked for study_uid and the archive holds none of it: bring it here
     * if it is known elsewhere (recognition installs recognition_retrieve_study). Returns 1
     * when instances were stored, 0 when there was nothing to fetch, -1 with err. */
    int (*study_not_held)(struct node *n, const char *study_uid, char *err, size_t errlen);
    /* An instance arrived by source (C-STORE from calling_ae, STOW-RS, a peer's retrieval;
     * calling_ae NULL but for C-STORE) and is stored, new or kept once: forwarding rules queue
     * it (forward/ installs forward_note). */
    void (*instance_stored)(struct node *n, config_fwd_source source, const char *calling_ae,
                            const char *sop_uid, const char *modality);
    /* A study is about to be read (delta +1: WADO-RS, C-MOVE, C-GET) or its read ended (-1):
     * while read it is not evicted from the PACS fetch cache, and the read is noted as its
     * last (pacs/ installs pacs_study_read). Called before the archive is searched. */
    void (*study_read)(struct node *n, const char *study_uid, int delta);
} node_hooks;

typedef struct node {
    const config *cfg;
    huren_index *index;
    huren_dicom_scp *scp;
    huren_dicom_scp *scp_tls; /* the DICOM TLS port ([dicom] tls_port), or NULL */
    huren_hl7_mllp *mllp;
    http_server *http;
    huren_audit *audit;              /* the audit trail (audit.c); NULL until opened */
    struct auth_table *auth;         /* the [client] sections, for lookups (auth.c) */
    struct claims_ctx *claims;       /* insurer claims: signer, rate limit (claims.c) */
    struct publisher *publisher;     /* publishing to the directory (publisher.c), or NULL */
    struct recognition *recognition; /* recognition/ (catalogue, region key), or NULL */
    struct his_ctx *his;             /* his/: HIS launches and their sessions, or NULL */
    /* pacs/: the [pacs] sections (sync, fetch), or NULL */
    struct pacs_ctx *pacs;
    /* forward/: the [forward] rules' queue sender, or NULL */
    struct forwarder *forwarder;
    node_hooks hooks;
    /* role directory: where its entries are kept (directory/store.h), or NULL */
    struct directory_store *dir_store;
    metrics metrics;
    time_t started;
} node;

/* Open the archive under cfg->data_dir (creating it). Returns 0, or -1 with err. */
int node_open_index(node *n, char *err, size_t errlen);

#endif
