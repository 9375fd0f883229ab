/* serve.c: `huren serve`: open the archive, start the listeners of the node's role, wait for
 * SIGTERM/SIGINT, then stop them in reverse order, letting associations in flight finish.
 * SIGHUP in between reloads the certificates (reload.c). */
#define LOG_COMPONENT "serve"
#include "routes.h"
#include "huren_err.h"
#include "audit_trail.h"
#include "his/his.h"
#include "http/auth.h"
#include "claims/claims.h"
#include "commands.h"
#include "datacare/datacare.h"
#include "dimse/dimse.h"
#include "records/hl7feed.h"
#include "log.h"
#include "node.h"
#include "privileges.h"
#include "reload.h"
#include "directory/publisher.h"
#include "recognition/recognition.h"
#include "pacs/pacs.h"
#include "forward/forward.h"
#include "directory/store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SHUTDOWN_GRACE_S 30

/* Split "A B,C" into a NULL-terminated array (owned by the caller, one free()). */
static char **split_aes(const char *list)
{
    size_t n = 0, len = strlen(list);
    char **v = calloc(len / 2 + 2, sizeof *v);
    char *copy = v ? malloc(len + 1) : NULL;
    if (!copy) {
        free(v);
        return NULL;
    }
    memcpy(copy, list, len + 1);
    for (char *save = NULL, *tok = strtok_r(copy, " ,\t", &save); tok;
         tok = strtok_r(NULL, " ,\t", &save))
        v[n++] = tok;
    if (n == 0) {
        free(copy);
        free(v);
        return NULL;
    }
    return v; /* v[0] points at the start of copy */
}

static int start_dicom(node *n, char ***allowed)
{
    huren_dicom_scp_options so = HUREN_DICOM_SCP_OPTIONS_INIT;
    so.aet = n->cfg->aet;
    so.bind_address = n->cfg->bind_address;
    so.port = (int)n->cfg->dicom_port;
    so.max_associations = (int)n->cfg->max_associations;
    so.max_pdu = (unsigned)n->cfg->max_pdu;
    so.acse_timeout_s = (int)n->cfg->acse_timeout;
    so.dimse_timeout_s = (int)n->cfg->dimse_timeout;
    so.tcp_nodelay = n->cfg->tcp_nodelay;
    so.accept_unknown_sop_classes = n->cfg->accept_unknown_sop_classes;
    so.tmp_dir = huren_index_tmp_dir(n->index);
    so.max_negotiating = (int)n->cfg->max_negotiating;
    so.negotiation_timeout_s = (int)n->cfg->negotiation_timeout;
    so.max_identifier = (unsigned)n->cfg->max_identifier;
    *allowed = n->cfg->allowed_calling_aes[0] ? split_aes(n->cfg->allowed_calling_aes) : NULL;
    so.allowed_calling_aes = (const char *const *)*allowed;
    huren_dicom_handlers h;
    dimse_handlers_init(&h, n);
    char err[HUREN_ERRLEN];
    if (huren_dicom_scp_start(&n->scp, &so, &h, err, sizeof err) < 0) {
        log_error("DICOM: %s", err);
        return -1;
    }
    log_info("DICOM listening: AE %s on %s port %d", n->cfg->aet, n->cfg->bind_address,
             huren_dicom_scp_port(n->scp));
    if (!n->cfg->dicom_tls_port)
        return 0;
    /* the TLS port: the same services and limits, over TLS (its clients: dimse_admit) */
    so.port = (int)n->cfg->dicom_tls_port;
    config_dicom_tls_options(n->cfg, &so);
    if (huren_dicom_scp_start(&n->scp_tls, &so, &h, err, sizeof err) < 0) {
        log_error("DICOM TLS: %s", err);
        return -1;
    }
    log_info("DICOM TLS listening: AE %s on %s port %d", n->cfg->aet, n->cfg->bind_address,
             huren_dicom_scp_port(n->scp_tls));
    return 0;
}

static int start_http(node *n)
{
    const config *c = n->cfg;
    http_options ho = {
        .bind_address = c->bind_address,
        .port = (int)c->http_port,
        .threads = (unsigned)c->http_threads,
        .max_body = (size_t)c->http_max_body,
        .tls_cert = c->tls_cert,
        .tls_key = c->tls_key,
        .tls_client_ca = c->tls_client_ca,
        .client_verify = c->tls_client_verify == CONFIG_VERIFY_REQUIRE    ? 2
                         : c->tls_client_verify == CONFIG_VERIFY_OPTIONAL ? 1
                                                                          : 0,
        /* plain HTTP (loopback only): full local access unless [access] says otherwise */
        .loopback_roles = c->loopback_full_access ? HTTP_ROLES_ALL : 0,
        .access = n->auth,
        .audit = audit_http,
        .cors_origins = c->dicomweb_cors_origins,
        .sessions = his_sessions(n),
    };
    size_t nroutes;
    const char *role = config_choice_name("node", "role", (int)c->role);
    const http_route *routes = api_routes(role, &nroutes);
    ho.body_routes = api_body_routes(role, &ho.nbody_routes);
    char err[HUREN_ERRLEN];
    if (http_server_start(&n->http, &ho, routes, nroutes, n, err, sizeof err) < 0) {
        log_error("HTTP: %s", err);
        return -1;
    }
    log_info("HTTP listening: %s://%s:%d/", c->tls_cert[0] ? "https" : "http", c->bind_address,
             http_server_port(n->http));
    return 0;
}

/* Role directory: the store of entries (the index, or PostgreSQL, migrated now). */
static int open_dir_store(node *n, char *err, size_t errlen)
{
    directory_store_options so;
    directory_store_options_from_config(&so, n->cfg, n->index);
    if (directory_store_open(&so, &n->dir_store, err, errlen) < 0)
        return -1;
    log_info("directory store: %s", config_choice_name("directory", "store", n->cfg->dir_store));
    return 0;
}

/* The hook study_not_held: a study held only at the hospital's PACS is fetched from it; else
 * one a recognition prompt listed is retrieved from its holder. */
static int study_not_held(node *n, const char *study_uid, char *err, size_t errlen)
{
    int got = pacs_fetch_study(n, study_uid, err, errlen);
    if (got != 0)
        return got;
    return recognition_retrieve_study(n, study_uid, err, errlen);
}

static void log_problem(void *ctx, int warning, const char *line)
{
    (void)ctx;
    if (warning)
        log_warnx("%s", line);
    else
        log_error("%s", line);
}

int cmd_serve(const config *cfg)
{
    /* Block the stop signals in every thread; the main thread waits for them below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP); /* reload.c */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    node n = {.cfg = cfg, .started = time(NULL)};
    char err[HUREN_ERRLEN];
    char **allowed = NULL;
    int rc = 1;
    log_info("huren %s starting: role %s, data %s%s%s", HUREN_VERSION,
             config_choice_name("node", "role", (int)cfg->role), cfg->data_dir,
             cfg->path ? ", config " : " (embedded defaults)", cfg->path ? cfg->path : "");
    /* [node] user: files opened as the user from here on, ports bound as root */
    privileges priv;
    if (privileges_begin(cfg, &priv, err, sizeof err) < 0) {
        log_error("%s", err);
        return 1;
    }
    /* the checks of `huren check-config`, so a node never half-starts on a bad file */
    int problems = config_check_files(cfg, time(NULL), log_problem, NULL);
    if (problems > 0) {
        log_error("not starting: %d problem%s in the configuration (huren check-config lists "
                  "them)",
                  problems, problems == 1 ? "" : "s");
        return EXIT_USAGE;
    }
    if (node_open_index(&n, err, sizeof err) < 0 || audit_open(&n, err, sizeof err) < 0 ||
        auth_table_build(cfg, &n.auth, err, sizeof err) < 0 ||
        (cfg->role == CONFIG_ROLE_HOSPITAL && claims_open(&n, err, sizeof err) < 0)) {
        log_error("%s", err);
        goto done;
    }
    if (cfg->role == CONFIG_ROLE_DIRECTORY && open_dir_store(&n, err, sizeof err) < 0) {
        log_error("directory: %s", err);
        goto done;
    }
    if (publisher_start(&n, err, sizeof err) < 0) { /* before anything can be stored */
        log_error("directory: %s", err);
        goto done;
    }
    if (recognition_start(&n, err, sizeof err) < 0) {
        log_error("%s", err);
        goto done;
    }
    if (pacs_start(&n, err, sizeof err) < 0 || his_start(&n, err, sizeof err) < 0) {
        log_error("%s", err);
        goto done;
    }
    if (forward_start(&n, err, sizeof err) < 0) {
        log_error("%s", err);
        goto done;
    }
    if (n.forwarder)
        n.hooks.instance_stored = forward_note; /* [forward] rules queue what arrives */
    n.hooks.study_read = pacs_study_read;       /* the PACS fetch cache: pins, last reads */
    n.hooks.study_not_held = study_not_held;    /* C-MOVE/C-GET/WADO-RS of a study held elsewhere */
    /* C-STORE, STOW-RS and identifiers: nesting checked before DCMTK parses */
    huren_dicom_max_sequence_depth_set((unsigned)cfg->max_sequence_depth);
    if (cfg->role == CONFIG_ROLE_HOSPITAL && start_dicom(&n, &allowed) < 0)
        goto done;
    if (cfg->role == CONFIG_ROLE_HOSPITAL && hl7feed_start(&n) < 0)
        goto done;
    if (start_http(&n) < 0)
        goto done;
    if (privileges_drop(&priv, err, sizeof err) < 0) { /* every listener is bound */
        log_error("%s", err);
        goto done;
    }
    if (retention_start(&n, err, sizeof err) < 0) { /* [retention] rules, if any */
        log_error("%s", err);
        goto done;
    }
    log_info("ready");
    int sig = 0;
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP)
        reload_node(&n);
    log_info("%s received: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
done:
    retention_stop();
    http_server_stop(n.http);
    huren_dicom_scp_stop(n.scp_tls, SHUTDOWN_GRACE_S);
    huren_dicom_scp_stop(n.scp, SHUTDOWN_GRACE_S);
    huren_hl7_mllp_stop(n.mllp, SHUTDOWN_GRACE_S);
    publisher_stop(&n);
    recognition_stop(&n); /* its background retrievals write to the archive */
    pacs_stop(&n);
    his_stop(&n);
    forward_stop(&n);
    directory_store_close(n.dir_store);
    huren_index_close(n.index);
    audit_close(&n);
    auth_table_free(n.auth);
    claims_close(&n);
    if (allowed)
        free(allowed[0]);
    free(allowed);
    if (rc == 0)
        log_info("stopped");
    return rc;
}
