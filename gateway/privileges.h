/* privileges.h: running as a service: `[node] user` and `group`. serve started as root binds
 * its listening sockets as root while every file is opened and created as that user (the
 * filesystem uid of each thread), then drops to the user for good. */
#ifndef HUREN_GATEWAY_PRIVILEGES_H
#define HUREN_GATEWAY_PRIVILEGES_H

#include "config.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct privileges {
    int switching; /* started as root with a [node] user: privileges_drop switches */
    uid_t uid;
    gid_t gid;
} privileges;

/* check-config and serve: the user and group exist, and the data folder, when it exists, is
 * owned by the user (and its index.db too). Each problem is reported as config_check_files
 * reports them; returns their count. */
int privileges_check(const config *cfg, config_problem_fn report, void *ctx);

/* serve, before anything is opened: as root with a user, make a missing data folder owned by
 * the user, take the user's groups and its filesystem uid and gid (inherited by every thread
 * started later); as root without one, refuse a non-loopback bind_address and warn on
 * loopback; as another user than the configured one, refuse. 0 or -1 with err set. */
int privileges_begin(const config *cfg, privileges *p, char *err, size_t errlen);

/* serve, once every listener is bound: setgid + setuid to the user (all threads), checked
 * that root cannot be regained, and every capability dropped (the systemd unit's
 * AmbientCapabilities=CAP_NET_BIND_SERVICE case). 0 or -1 with err set. */
int privileges_drop(const privileges *p, char *err, size_t errlen);

#endif
