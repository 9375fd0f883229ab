/* privileges.c: `[node] user` and `group`: checked for check-config, taken as filesystem ids
 * while serve opens files and binds as root, then for good once it listens (see privileges.h).
 * Linux: setfsuid is per thread and inherited at thread creation; glibc's setuid, setgid and
 * setgroups apply to every thread of the process. */
#define LOG_COMPONENT "serve"
#include "privileges.h"
#include "huren_err.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The user's uid and gid ([node] group, else its primary group). 0, or -1 with *key (the
 * key at fault) and err set. */
static int lookup(const config *cfg, uid_t *uid, gid_t *gid, const char **key, char *err,
                  size_t errlen)
{
    *key = "user";
    if (!*cfg->user) {
        *key = "group";
        snprintf(err, errlen, "%s needs [node] user", cfg->group);
        return -1;
    }
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw) {
        snprintf(err, errlen, "no such user: %s", cfg->user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (*cfg->group) {
        struct group *gr = getgrnam(cfg->group);
        if (!gr) {
            *key = "group";
            snprintf(err, errlen, "no such group: %s", cfg->group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

/* A file of the archive that exists must be the user's: it creates files next to it. */
static int owned(const char *path, uid_t uid, const config *cfg, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0; /* made by serve, as the user */
        snprintf(err, errlen, "%s: not reachable for the [node] user %s: %s", path, cfg->user,
                 strerror(errno));
        return -1;
    }
    if (st.st_uid == uid)
        return 0;
    struct passwd *pw = getpwuid(st.st_uid);
    snprintf(err, errlen,
             "%s is owned by %s, not by the [node] user %s, who must write to it "
             "(chown -R %s: %s)",
             path, pw ? pw->pw_name : "another user", cfg->user, cfg->user, cfg->data_dir);
    return -1;
}

/* The data folder and its index, when they exist. 0, or -1 with *key and err set. */
static int check_data(const config *cfg, uid_t uid, gid_t gid, const char **key, char *err,
                      size_t errlen)
{
    char db[PATH_MAX];
    snprintf(db, sizeof db, "%s/index.db", cfg->data_dir);
    *key = "data_dir";
    /* looked at with the user's eyes (check-config as root sees what serve will) */
    uid_t old_uid = (uid_t)setfsuid(uid);
    gid_t old_gid = (gid_t)setfsgid(gid);
    int rc =
        owned(cfg->data_dir, uid, cfg, err, errlen) < 0 ? -1 : owned(db, uid, cfg, err, errlen);
    setfsgid(old_gid);
    setfsuid(old_uid);
    return rc;
}

int privileges_check(const config *cfg, config_problem_fn report, void *ctx)
{
    if (!*cfg->user && !*cfg->group)
        return 0;
    char err[HUREN_ERRLEN], line[HUREN_ERRLEN + 128];
    const char *key;
    uid_t uid;
    gid_t gid;
    if (lookup(cfg, &uid, &gid, &key, err, sizeof err) == 0 &&
        check_data(cfg, uid, gid, &key, err, sizeof err) == 0)
        return 0;
    snprintf(line, sizeof line, "%s: [node] %s: %s", cfg->path ? cfg->path : "configuration", key,
             err);
    report(ctx, 0, line);
    return 1;
}

/* mkdir -p of a missing data folder, as root, and the folder given to the user. */
static int make_data(const config *cfg, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct stat st;
    if (stat(cfg->data_dir, &st) == 0)
        return 0;
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", cfg->data_dir) >= (int)sizeof buf) {
        snprintf(err, errlen, "[node] data_dir: path too long");
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        /* the folders above it open to all (the user walks through them), its own 0750 */
        if (mkdir(buf, c ? 0755 : 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "[node] data_dir: cannot create %s: %s", buf, strerror(errno));
            return -1;
        }
        *p = c;
        if (!c)
            break;
    }
    if (chown(cfg->data_dir, uid, gid) != 0) {
        snprintf(err, errlen, "[node] data_dir: chown %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    log_info("created %s for user %s", cfg->data_dir, cfg->user);
    return 0;
}

/* As root without a user: only on loopback, with a warning. */
static int root_without_user(const config *cfg, char *err, size_t errlen)
{
    if (!config_is_loopback(cfg->bind_address)) {
        snprintf(err, errlen,
                 "not starting as root on %s: set [node] user (and group) to the account the "
                 "node runs as, or start it as that user (conf/huren.service)",
                 cfg->bind_address);
        return -1;
    }
    log_warnx("running as root: set [node] user to drop to an unprivileged account once the "
              "listeners are bound (docs/operate.md, \"Running as a service\")");
    return 0;
}

int privileges_begin(const config *cfg, privileges *p, char *err, size_t errlen)
{
    const char *key;
    char why[HUREN_ERRLEN];
    memset(p, 0, sizeof *p);
    if (geteuid() == 0 && !*cfg->user)
        return root_without_user(cfg, err, errlen);
    if (!*cfg->user)
        return 0;
    if (lookup(cfg, &p->uid, &p->gid, &key, why, sizeof why) < 0) {
        snprintf(err, errlen, "[node] %s: %s", key, why);
        return -1;
    }
    if (geteuid() != 0) {
        if (geteuid() == p->uid)
            return 0; /* started as the user already (systemd User=) */
        snprintf(err, errlen, "[node] user: %s: running as uid %u, not as root or as that user",
                 cfg->user, (unsigned)geteuid());
        return -1;
    }
    if (make_data(cfg, p->uid, p->gid, err, errlen) < 0)
        return -1;
    if (initgroups(cfg->user, p->gid) != 0) {
        snprintf(err, errlen, "[node] user: initgroups %s: %s", cfg->user, strerror(errno));
        return -1;
    }
    /* from here on, this thread and every thread it starts opens and creates files as the
     * user, while binding ports stays root's */
    setfsgid(p->gid);
    setfsuid(p->uid);
    if ((uid_t)setfsuid((uid_t)-1) != p->uid || (gid_t)setfsgid((gid_t)-1) != p->gid) {
        snprintf(err, errlen, "[node] user: setfsuid %s failed", cfg->user);
        return -1;
    }
    p->switching = 1;
    return 0;
}

/* Every capability gone: permitted, effective, inheritable and ambient. */
static int drop_capabilities(char *err, size_t errlen)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        snprintf(err, errlen, "clearing ambient capabilities: %s", strerror(errno));
        return -1;
    }
    if (syscall(SYS_capset, &h, d) != 0) {
        snprintf(err, errlen, "dropping capabilities: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int privileges_drop(const privileges *p, char *err, size_t errlen)
{
    if (p->switching) {
        if (setgid(p->gid) != 0 || setuid(p->uid) != 0) {
            snprintf(err, errlen, "dropping to uid %u gid %u: %s", (unsigned)p->uid,
                     (unsigned)p->gid, strerror(errno));
            return -1;
        }
        /* the saved ids went too: no way back */
        if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != p->uid ||
            geteuid() != p->uid || getgid() != p->gid || getegid() != p->gid) {
            snprintf(err, errlen, "dropping to uid %u: root could be regained", (unsigned)p->uid);
            return -1;
        }
    }
    if (geteuid() != 0 && drop_capabilities(err, errlen) < 0)
        return -1;
    if (p->switching)
        log_info("running as uid %u gid %u", (unsigned)p->uid, (unsigned)p->gid);
    return 0;
}
