/* listener.c: the MLLP listener. An accept thread hands each connection to a thread of its
 * own (up to max_connections); that thread decodes frames, parses each message, asks the
 * handler for the ACK code and sends the ACK. Events go to the log callback, never stdout. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hl7_int.h"

typedef struct conn {
    struct huren_hl7_mllp *srv;
    int fd; /* closed by its thread under srv->lock, then -1 */
    pthread_t thread;
    int done;
    char peer[80];
    struct conn *next;
} conn;

struct huren_hl7_mllp {
    huren_hl7_mllp_options opts;
    char bind[64];
    huren_hl7_handler handler;
    void *payload;
    int lfd;
    int port;
    int wake[2]; /* made readable once, by stop: wakes every poll() */
    pthread_t accept_thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    conn *conns;
    int nconns; /* connections whose thread has not finished */
    atomic_int stopping;
    struct {
        atomic_ullong connections, refused, messages, aa, ae, ar, parse_errors, oversize,
            idle_timeouts, noise_bytes, send_errors, bad_framing;
    } st;
};

static void logf_(huren_hl7_mllp *srv, huren_hl7_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(huren_hl7_mllp *srv, huren_hl7_log_level level, const char *fmt, ...)
{
    char buf[600];
    va_list ap;

    if (srv->opts.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    srv->opts.log(level, buf, srv->payload);
}

static int write_all(huren_hl7_mllp *srv, int fd, const char *p, size_t len)
{
    int timeout = srv->opts.write_timeout_s > 0 ? srv->opts.write_timeout_s * 1000 : -1;

    while (len > 0) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        ssize_t n;
        int pr = poll(&pfd, 1, timeout);

        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return HUREN_HL7_EIO;
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return HUREN_HL7_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *code_name(huren_hl7_ack_code code)
{
    return code == HUREN_HL7_AA ? "AA" : code == HUREN_HL7_AR ? "AR" : "AE";
}

/* Parses one frame and fills the handler's result; *msg and *partial are set for the ACK. */
static void handle_frame(conn *c, const char *data, size_t len, huren_hl7_msg **msg,
                         huren_hl7_msg **partial, huren_hl7_handler_result *res)
{
    huren_hl7_mllp *srv = c->srv;
    char err[256] = "", id[41];
    int rc;

    memset(res, 0, sizeof(*res));
    res->code = HUREN_HL7_AE;
    rc = huren_hl7_msg_parse(data, len, &srv->opts.parse, msg, err, sizeof(err));
    if (rc == 0) {
        srv->handler(*msg, data, len, c->peer, res, srv->payload);
        return;
    }
    atomic_fetch_add(&srv->st.parse_errors, 1);
    huren_hl7_msg_parse_header(data, len, &srv->opts.parse, partial, NULL, 0);
    res->code = strcmp(huren_hl7_ack_code_for(rc), "AR") == 0 ? HUREN_HL7_AR : HUREN_HL7_AE;
    snprintf(res->text, sizeof(res->text), "%s", err);
    snprintf(res->error_code, sizeof(res->error_code), "%s", huren_hl7_ack_error_for(rc));
    snprintf(res->location, sizeof(res->location), "%s", huren_hl7_ack_location_for(rc));
    snprintf(id, sizeof(id), "%s", *partial ? huren_hl7_msg_control_id(*partial) : "");
    huren_hl7__printable(id);
    logf_(srv, HUREN_HL7_LOG_WARN, "hl7 %s: unparseable message (control id '%s', %zu bytes): %s",
          c->peer, id, len, err);
    if (srv->opts.handle_unparsed)
        srv->handler(NULL, data, len, c->peer, res, srv->payload);
}

static int on_frame(const char *data, size_t len, void *arg)
{
    conn *c = arg;
    huren_hl7_mllp *srv = c->srv;
    huren_hl7_msg *msg = NULL, *partial = NULL;
    huren_hl7_handler_result res;
    char *ack = NULL, *frame = NULL, err[256] = "";
    size_t ack_len = 0, frame_len = 0;
    int rc;

    if (atomic_load(&srv->stopping))
        return 1; /* not acknowledged: the sender will resend it */
    atomic_fetch_add(&srv->st.messages, 1);
    handle_frame(c, data, len, &msg, &partial, &res);
    res.text[sizeof(res.text) - 1] = '\0';
    res.error_code[sizeof(res.error_code) - 1] = '\0';
    res.location[sizeof(res.location) - 1] = '\0';
    rc = huren_hl7_ack_build_at(msg ? msg : partial, code_name(res.code), res.text, res.error_code,
                                res.location, &ack, &ack_len, err, sizeof(err));
    if (rc == 0)
        rc = huren_hl7_mllp_frame(ack, ack_len, &frame, &frame_len);
    if (rc == 0) {
        /* counted before the write, so that a sender who has read its ACK sees it counted */
        atomic_fetch_add(res.code == HUREN_HL7_AA   ? &srv->st.aa
                         : res.code == HUREN_HL7_AR ? &srv->st.ar
                                                    : &srv->st.ae,
                         1);
        rc = write_all(srv, c->fd, frame, frame_len);
    }
    if (rc < 0) {
        atomic_fetch_add(&srv->st.send_errors, 1);
        logf_(srv, HUREN_HL7_LOG_WARN, "hl7 %s: sending the ACK failed: %s", c->peer,
              err[0] ? err : huren_hl7_strerror(rc));
    }
    if (rc == 0 && srv->opts.log) {
        char what[96];
        snprintf(what, sizeof(what), "%.8s^%.8s control id '%.40s'",
                 msg ? huren_hl7_msg_type(msg) : "?", msg ? huren_hl7_msg_trigger(msg) : "?",
                 msg ? huren_hl7_msg_control_id(msg) : "");
        huren_hl7__printable(what);
        logf_(srv, HUREN_HL7_LOG_DEBUG, "hl7 %s: %s -> %s", c->peer, what, code_name(res.code));
    }
    free(frame);
    huren_hl7_buf_free(ack);
    huren_hl7_msg_free(msg);
    huren_hl7_msg_free(partial);
    return rc < 0 ? -1 : 0;
}

/* Reads until the peer closes, an error, the idle timeout, an oversize frame or stop. */
static void serve(conn *c, huren_hl7_mllp_decoder *dec)
{
    huren_hl7_mllp *srv = c->srv;
    int timeout = srv->opts.idle_timeout_s > 0 ? srv->opts.idle_timeout_s * 1000 : -1;
    char buf[65536];
    size_t noise = 0;
    int framing = 0; /* this connection was counted in bad_framing */

    for (;;) {
        struct pollfd pfd[2] = {{c->fd, POLLIN, 0}, {srv->wake[0], POLLIN, 0}};
        int pr = poll(pfd, 2, timeout), rc;
        ssize_t n;

        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || (pfd[1].revents & POLLIN))
            return;
        if (pr == 0) {
            atomic_fetch_add(&srv->st.idle_timeouts, 1);
            logf_(srv, HUREN_HL7_LOG_INFO, "hl7 %s: idle for %d s, closing", c->peer,
                  srv->opts.idle_timeout_s);
            return;
        }
        n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (n == 0 && huren_hl7_mllp_decoder_in_frame(dec) && !framing)
                atomic_fetch_add(&srv->st.bad_framing, 1); /* closed inside a frame */
            return;
        }
        rc = huren_hl7_mllp_decoder_feed(dec, buf, (size_t)n, on_frame, c);
        if (huren_hl7_mllp_decoder_noise(dec) != noise && !framing++)
            atomic_fetch_add(&srv->st.bad_framing, 1); /* bytes outside frames */
        if (huren_hl7_mllp_decoder_noise(dec) != noise) {
            atomic_fetch_add(&srv->st.noise_bytes, huren_hl7_mllp_decoder_noise(dec) - noise);
            noise = huren_hl7_mllp_decoder_noise(dec);
            logf_(srv, HUREN_HL7_LOG_DEBUG, "hl7 %s: %zu bytes of noise skipped so far", c->peer,
                  noise);
        }
        if (rc == HUREN_HL7_ETOOBIG) {
            atomic_fetch_add(&srv->st.oversize, 1);
            logf_(srv, HUREN_HL7_LOG_WARN, "hl7 %s: frame larger than %zu bytes, closing", c->peer,
                  srv->opts.max_message_size);
            return;
        }
        if (rc != 0)
            return;
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    huren_hl7_mllp *srv = c->srv;
    huren_hl7_mllp_decoder *dec = NULL;

    if (huren_hl7_mllp_decoder_new(&dec, srv->opts.max_message_size) == 0)
        serve(c, dec);
    huren_hl7_mllp_decoder_free(dec);
    pthread_mutex_lock(&srv->lock);
    close(c->fd);
    c->fd = -1;
    c->done = 1;
    srv->nconns--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    logf_(srv, HUREN_HL7_LOG_DEBUG, "hl7 %s: connection closed", c->peer);
    return NULL;
}

/* Joins and frees finished connections; with `all`, every connection. */
static void reap(huren_hl7_mllp *srv, int all)
{
    conn **pp = &srv->conns, *done = NULL, *c;

    pthread_mutex_lock(&srv->lock);
    while ((c = *pp) != NULL) {
        if (c->done || all) {
            *pp = c->next;
            c->next = done;
            done = c;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    while ((c = done) != NULL) {
        done = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
}

static void peer_name(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t sz)
{
    char host[64], serv[16];

    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, sz, "?");
    else
        snprintf(out, sz, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static void accept_one(huren_hl7_mllp *srv)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, open_now, fd = accept4(srv->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    conn *c;

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
            logf_(srv, HUREN_HL7_LOG_ERROR, "hl7 accept: %s", strerror(errno));
            poll(NULL, 0, 100); /* let connections close before trying again */
        }
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    peer_name(&ss, sl, c->peer, sizeof(c->peer));
    pthread_mutex_lock(&srv->lock);
    open_now = srv->nconns;
    if (open_now >= srv->opts.max_connections ||
        pthread_create(&c->thread, NULL, conn_main, c) != 0) {
        pthread_mutex_unlock(&srv->lock);
        atomic_fetch_add(&srv->st.refused, 1);
        logf_(srv, HUREN_HL7_LOG_WARN, "hl7 %s: refused, %d connections open", c->peer, open_now);
        close(fd);
        free(c);
        return;
    }
    srv->nconns++;
    atomic_fetch_add(&srv->st.connections, 1);
    c->next = srv->conns;
    srv->conns = c;
    pthread_mutex_unlock(&srv->lock);
    logf_(srv, HUREN_HL7_LOG_DEBUG, "hl7 %s: connection accepted", c->peer);
}

static void *accept_main(void *arg)
{
    huren_hl7_mllp *srv = arg;

    while (!atomic_load(&srv->stopping)) {
        struct pollfd pfd[2] = {{srv->lfd, POLLIN, 0}, {srv->wake[0], POLLIN, 0}};
        int pr = poll(pfd, 2, 1000);

        reap(srv, 0);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && (pfd[1].revents & POLLIN))
            break;
        if (pr > 0 && (pfd[0].revents & POLLIN))
            accept_one(srv);
    }
    return NULL;
}

static int bind_listen(huren_hl7_mllp *srv, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char port[16];
    int one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", srv->opts.port);
    rc = getaddrinfo(srv->bind, port, &hints, &ai);
    if (rc != 0) {
        huren_hl7__seterr(err, errlen, "bind address '%s': %s", srv->bind, gai_strerror(rc));
        return HUREN_HL7_EINVAL;
    }
    srv->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->lfd < 0 || setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(srv->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(srv->lfd, 128) < 0 ||
        getsockname(srv->lfd, (struct sockaddr *)&ss, &sl) < 0) {
        huren_hl7__seterr(err, errlen, "cannot listen on %s port %d: %s", srv->bind, srv->opts.port,
                          strerror(errno));
        freeaddrinfo(ai);
        return HUREN_HL7_EIO;
    }
    freeaddrinfo(ai);
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static int check_options(const huren_hl7_mllp_options *opts, char *err, size_t errlen)
{
    if (opts->port < 0 || opts->port > 65535 || opts->max_connections < 1 ||
        opts->max_message_size < 16 || opts->idle_timeout_s < 0 ||
        (opts->bind_address && strlen(opts->bind_address) >= 64)) {
        huren_hl7__seterr(err, errlen, "invalid MLLP listener options");
        return HUREN_HL7_EINVAL;
    }
    return 0;
}

int huren_hl7_mllp_start(huren_hl7_mllp **out, const huren_hl7_mllp_options *opts,
                         huren_hl7_handler handler, void *payload, char *err, size_t errlen)
{
    huren_hl7_mllp *srv;
    int rc;

    if (out == NULL || opts == NULL || handler == NULL) {
        huren_hl7__seterr(err, errlen, "missing listener, options or handler");
        return HUREN_HL7_EINVAL;
    }
    *out = NULL;
    if ((rc = check_options(opts, err, errlen)) < 0)
        return rc;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return HUREN_HL7_ENOMEM;
    srv->opts = *opts;
    snprintf(srv->bind, sizeof(srv->bind), "%s",
             opts->bind_address ? opts->bind_address : "0.0.0.0");
    if (srv->opts.parse.max_message_size < opts->max_message_size)
        srv->opts.parse.max_message_size = opts->max_message_size;
    srv->handler = handler;
    srv->payload = payload;
    srv->lfd = srv->wake[0] = srv->wake[1] = -1;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    rc = bind_listen(srv, err, errlen);
    if (rc == 0 && pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        huren_hl7__seterr(err, errlen, "cannot create the wake-up pipe: %s", strerror(errno));
        rc = HUREN_HL7_EIO;
    }
    if (rc == 0 && pthread_create(&srv->accept_thread, NULL, accept_main, srv) != 0) {
        huren_hl7__seterr(err, errlen, "cannot start the accept thread");
        rc = HUREN_HL7_EIO;
    }
    if (rc < 0) {
        if (srv->lfd >= 0)
            close(srv->lfd);
        if (srv->wake[0] >= 0)
            close(srv->wake[0]), close(srv->wake[1]);
        pthread_mutex_destroy(&srv->lock);
        pthread_cond_destroy(&srv->cond);
        free(srv);
        return rc;
    }
    logf_(srv, HUREN_HL7_LOG_INFO, "hl7 listening on %s port %d", srv->bind, srv->port);
    *out = srv;
    return 0;
}

int huren_hl7_mllp_port(const huren_hl7_mllp *srv)
{
    return srv ? srv->port : -1;
}

int huren_hl7_mllp_connections(const huren_hl7_mllp *srv)
{
    int n;

    if (srv == NULL)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&srv->lock);
    n = srv->nconns;
    pthread_mutex_unlock((pthread_mutex_t *)&srv->lock);
    return n;
}

void huren_hl7_mllp_stats_get(const huren_hl7_mllp *srv, huren_hl7_mllp_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (srv == NULL)
        return;
    out->connections = atomic_load(&srv->st.connections);
    out->refused = atomic_load(&srv->st.refused);
    out->messages = atomic_load(&srv->st.messages);
    out->acks_aa = atomic_load(&srv->st.aa);
    out->acks_ae = atomic_load(&srv->st.ae);
    out->acks_ar = atomic_load(&srv->st.ar);
    out->parse_errors = atomic_load(&srv->st.parse_errors);
    out->oversize_frames = atomic_load(&srv->st.oversize);
    out->idle_timeouts = atomic_load(&srv->st.idle_timeouts);
    out->noise_bytes = atomic_load(&srv->st.noise_bytes);
    out->send_errors = atomic_load(&srv->st.send_errors);
    out->bad_framing = atomic_load(&srv->st.bad_framing);
    out->open_connections = huren_hl7_mllp_connections(srv);
}

void huren_hl7_mllp_stop(huren_hl7_mllp *srv, int grace_s)
{
    struct timespec deadline;
    conn *c;

    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, 1);
    if (write(srv->wake[1], "x", 1) < 0) {
        /* the pipe is empty and non-blocking, so this cannot fail in practice */
    }
    pthread_join(srv->accept_thread, NULL);
    close(srv->lfd);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_s > 0 ? grace_s : 0;
    pthread_mutex_lock(&srv->lock);
    while (srv->nconns > 0 && pthread_cond_timedwait(&srv->cond, &srv->lock, &deadline) == 0)
        ;
    for (c = srv->conns; c != NULL; c = c->next) /* unblock sends stuck on slow peers */
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&srv->lock);
    reap(srv, 1);
    logf_(srv, HUREN_HL7_LOG_INFO, "hl7 listener on port %d stopped", srv->port);
    close(srv->wake[0]);
    close(srv->wake[1]);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    free(srv);
}
