/* reload.c: what SIGHUP does to a running node: the files the configuration names checked
 * as `huren check-config` checks them, then the TLS listeners' certificates, keys and client
 * CAs replaced for the connections accepted from then on, and the recognition catalogue read
 * again by the publisher and the prompts. The configuration itself is not read again
 * (restart for that). */
#define LOG_COMPONENT "reload"
#include "reload.h"
#include "huren_err.h"
#include "log.h"
#include "catalogue.h"
#include "directory/publisher.h"
#include "recognition/recognition.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_uint_fast64_t reloads[2]; /* [0] failed or refused, [1] done */

uint64_t reload_count(int ok)
{
    return atomic_load(&reloads[ok ? 1 : 0]);
}

static void log_problem(void *ctx, int warning, const char *line)
{
    (void)ctx;
    if (warning)
        log_warnx("%s", line);
    else
        log_error("%s", line);
}

static int outcome(int ok, const char *fmt, const char *what)
{
    atomic_fetch_add(&reloads[ok ? 1 : 0], 1);
    if (ok)
        log_info(fmt, what);
    else
        log_error(fmt, what);
    return ok ? 0 : -1;
}

int reload_node(node *n)
{
    log_info("SIGHUP received: reloading certificates and the catalogue");
    int problems = config_check_files(n->cfg, time(NULL), log_problem, NULL);
    if (problems > 0)
        return outcome(0,
                       "reload refused: %s in the files above; the node goes on with the ones "
                       "it has",
                       problems == 1 ? "a problem" : "problems");
    char err[HUREN_ERRLEN], done[128] = "";
    if (*n->cfg->dir_catalogue) { /* all or nothing: its lines checked before any swap */
        catalogue *probe = NULL;
        if (catalogue_load(n->cfg->dir_catalogue, &probe, err, sizeof err) < 0)
            return outcome(0,
                           "reload refused: [directory] catalogue: %s; the node goes on with "
                           "the one it has",
                           err);
        catalogue_free(probe);
    }
    int rc = n->http ? http_server_tls_reload(n->http, err, sizeof err) : 1;
    if (rc < 0)
        return outcome(0, "reload failed: HTTPS: %s (its old certificate stays)", err);
    if (rc == 0)
        snprintf(done, sizeof done, "HTTPS");
    if (n->scp_tls) {
        if (huren_dicom_scp_tls_reload(n->scp_tls, NULL, NULL, NULL, err, sizeof err) != 0)
            return outcome(0, "reload failed: DICOM TLS: %s (its old certificate stays)", err);
        snprintf(done + strlen(done), sizeof done - strlen(done), "%sDICOM TLS",
                 *done ? " and " : "");
    }
    int rec = recognition_catalogue_reload(n, err, sizeof err);
    int pub = rec < 0 ? 1 : publisher_catalogue_reload(n, err, sizeof err);
    if (rec < 0 || pub < 0)
        return outcome(0, "reload failed: [directory] catalogue: %s", err);
    if (rec == 0 || pub == 0)
        snprintf(done + strlen(done), sizeof done - strlen(done), "%scatalogue",
                 *done ? " and " : "");
    return outcome(1, "reload done: %s", *done ? done : "nothing to reload");
}
