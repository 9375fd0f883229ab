/* listener.cpp: the SCP's listener thread and its workers. The listener only accepts and reads
 * without blocking: a connection's A-ASSOCIATE-RQ is gathered into memory (bounded in size, in
 * time, and in how many arrive at once); once complete it goes to a worker thread, where DCMTK
 * receives it (replayed by transport.cpp), negotiates and serves the association. A silent or
 * slow client thus delays nobody else; what is refused or closed is counted. On the TLS port
 * the handshake is driven here the same way (tls.cpp) before the request is read through it. */
#include "dicom_int.h"

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dcmtk/dcmnet/dul.h"

/* An A-ASSOCIATE-RQ is a few KiB (one with 128 presentation contexts of 10 transfer syntaxes
 * each is about 40 KiB); one past this is not served. */
#define MAX_REQUEST_PDU (1024u * 1024u)
#define PDU_HEADER 6
#define MIN_REQUEST_BODY 68 /* version, reserved, called and calling AE, reserved (PS3.8 9.3.2) */

static std::mutex g_external_socket;

std::mutex &huren_dicom__external_socket(void)
{
    return g_external_socket;
}

using clock_type = std::chrono::steady_clock;

/* A connection accepted, its A-ASSOCIATE-RQ not complete yet. */
struct pending_conn {
    int fd;
    std::string address;
    clock_type::time_point since;
    std::vector<unsigned char> pdu; /* what has arrived; complete at PDU_HEADER + length */
    size_t want = PDU_HEADER;
    bool negotiating = false; /* has sent something: counts against max_negotiating */
    SSL *ssl = nullptr;       /* TLS port: the session (owned until handed to DCMTK) */
    bool handshaken = false, want_write = false;
    std::string subject; /* TLS: the verified client certificate's subject, or "" */
};

/* At most one line a second per kind of refusal, so that a flood does not flood the log. */
static void log_limited(huren_dicom_scp *scp, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_limited(huren_dicom_scp *scp, int kind, const char *fmt, ...)
{
    /* shared by the listener and the workers (process-wide, like the log) */
    static std::mutex mu;
    static clock_type::time_point last[8];
    static unsigned suppressed[8];
    unsigned more;
    {
        std::lock_guard<std::mutex> lk(mu);
        auto now = clock_type::now();
        if (now - last[kind] < std::chrono::seconds(1)) {
            suppressed[kind]++;
            return;
        }
        last[kind] = now;
        more = suppressed[kind];
        suppressed[kind] = 0;
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (more)
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "%s (and %u more like it)", msg, more);
    else
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "%s", msg);
}

static void reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result,
                   T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason)
{
    T_ASC_RejectParameters rej = {result, source, reason};
    (void)ASC_rejectAssociation(assoc, &rej);
    (void)ASC_dropAssociation(assoc);
    (void)ASC_destroyAssociation(&assoc);
}

/* DCMTK receives the request, already in memory, on the accepted socket. nullptr if it could
 * not (the socket is then closed). */
static T_ASC_Association *receive(huren_dicom_scp *scp, int fd, std::vector<unsigned char> &pdu,
                                  SSL *ssl, const std::string &address)
{
    /* DCMTK leaves the socket open if its getpeername() fails (peer already gone) and owns
     * it in every other case, so that one failure is caught here */
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        huren_dicom__tls_free(ssl);
        close(fd);
        return nullptr;
    }
    T_ASC_Association *assoc = nullptr;
    OFCondition cond;
    huren_dicom__intake_put(scp->intake, fd, std::move(pdu), ssl);
    {
        /* held for as long as DCMTK takes to parse bytes in memory, never for a read */
        std::lock_guard<std::mutex> lk(g_external_socket);
        dcmExternalSocketHandle.set(fd);
        cond = ASC_receiveAssociation(scp->net, &assoc, scp->opts.max_pdu, NULL, NULL, OFFalse,
                                      DUL_NOBLOCK, scp->opts.negotiation_timeout_s);
        dcmExternalSocketHandle.set(-1);
    }
    huren_dicom__intake_drop(scp->intake, fd);
    if (cond.good())
        return assoc;
    scp->stats.not_association++;
    log_limited(scp, 0, "association from %s not received: %s", address.c_str(), cond.text());
    if (assoc) {
        (void)ASC_dropAssociation(assoc);
        (void)ASC_destroyAssociation(&assoc);
    }
    return nullptr;
}

static void worker_main(huren_dicom_scp *scp, huren_dicom__worker *w, pending_conn *p)
{
    huren_dicom__log_bind(&scp->h);
    std::unique_ptr<pending_conn> guard(p);
    T_ASC_Association *assoc = nullptr;
    bool counted = false;
    try {
        SSL *ssl = p->ssl;
        p->ssl = nullptr; /* DCMTK's connection owns it from here on */
        assoc = receive(scp, p->fd, p->pdu, ssl, p->address);
    } catch (...) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR, "association from %s: exception",
                          p->address.c_str());
    }
    if (assoc) {
        std::unique_lock<std::mutex> lk(scp->mu);
        if (scp->stopping || scp->active.load() >= scp->opts.max_associations) {
            int n = scp->active.load();
            lk.unlock();
            scp->stats.refused_busy++;
            log_limited(scp, 1, "association from %s refused: %d associations in progress",
                        p->address.c_str(), n);
            reject(assoc, ASC_RESULT_REJECTEDTRANSIENT,
                   ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                   ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
            assoc = nullptr;
        } else {
            scp->active++;
            counted = true;
        }
    }
    if (assoc) {
        huren_dicom__assoc *a = new huren_dicom__assoc;
        a->scp = scp;
        a->assoc = assoc;
        a->address = p->address;
        a->tls = scp->tls != nullptr;
        a->tls_subject = p->subject;
        try {
            bool ok = huren_dicom__assoc_admit(a);
            scp->negotiating--;
            p->negotiating = false;
            if (ok)
                huren_dicom__assoc_serve(a);
        } catch (...) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR, "association from %s: exception",
                              a->address.c_str());
            (void)ASC_abortAssociation(a->assoc);
        }
        {
            /* from here on the socket may be closed and its number reused: stop may not touch
             * it */
            std::lock_guard<std::mutex> lk(scp->mu);
            w->fd = -1;
        }
        (void)ASC_dropSCPAssociation(a->assoc);
        (void)ASC_destroyAssociation(&a->assoc);
        if (!a->store_tmp.empty())
            (void)unlink(a->store_tmp.c_str());
        delete a;
    }
    if (p->negotiating)
        scp->negotiating--;
    huren_dicom__log_bind(nullptr);
    std::lock_guard<std::mutex> lk(scp->mu);
    w->fd = -1;
    if (counted)
        scp->active--;
    w->done = true;
    scp->cv.notify_all();
}

void huren_dicom__reap_workers(huren_dicom_scp *scp)
{
    std::list<std::unique_ptr<huren_dicom__worker>> finished;
    {
        std::lock_guard<std::mutex> lk(scp->mu);
        for (auto it = scp->workers.begin(); it != scp->workers.end();) {
            if ((*it)->done) {
                finished.push_back(std::move(*it));
                it = scp->workers.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto &w : finished)
        w->thread.join();
}

/* A complete request goes to a worker thread (which owns the socket from now on). */
static void hand_off(huren_dicom_scp *scp, pending_conn &p)
{
    pending_conn *mine = new pending_conn(std::move(p));
    if (mine->ssl) /* DCMTK's TLS connection reads and writes a blocking socket */
        (void)fcntl(mine->fd, F_SETFL, fcntl(mine->fd, F_GETFL) & ~O_NONBLOCK);
    std::unique_ptr<huren_dicom__worker> w(new huren_dicom__worker);
    w->fd = mine->fd;
    std::lock_guard<std::mutex> lk(scp->mu);
    try {
        w->thread = std::thread(worker_main, scp, w.get(), mine);
        scp->workers.push_back(std::move(w));
    } catch (...) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR, "association from %s: no thread",
                          mine->address.c_str());
        huren_dicom__tls_free(mine->ssl);
        close(mine->fd);
        if (mine->negotiating)
            scp->negotiating--;
        delete mine;
    }
}

enum read_result { READ_MORE, READ_COMPLETE, READ_CLOSED };

/* A connection has started to send: it counts against max_negotiating, or is closed. */
static bool count_negotiating(huren_dicom_scp *scp, pending_conn &p)
{
    if (p.negotiating)
        return true;
    if (scp->negotiating.load() >= scp->opts.max_negotiating) {
        scp->stats.refused_negotiating++;
        log_limited(scp, 2, "connection from %s closed: %d association requests arriving",
                    p.address.c_str(), scp->negotiating.load());
        return false;
    }
    scp->negotiating++;
    p.negotiating = true;
    return true;
}

/* What has arrived, never blocking: > 0 bytes, 0 closed, HUREN_DICOM__TLS_AGAIN nothing yet.
 * On the TLS port the handshake comes first; a failed one is logged and counted here. */
static ssize_t receive_some(huren_dicom_scp *scp, pending_conn &p, unsigned char *buf, size_t n)
{
    if (!p.ssl) {
        ssize_t k = recv(p.fd, buf, n, MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return HUREN_DICOM__TLS_AGAIN;
        return k < 0 ? 0 : k;
    }
    std::string why;
    int r = 1;
    if (!p.handshaken) {
        if (!count_negotiating(scp, p))
            return 0;
        r = huren_dicom__tls_io(p.ssl, nullptr, 0, p.want_write, why);
        if (r == 1) {
            p.handshaken = true;
            p.subject = huren_dicom__tls_subject(p.ssl);
        }
    }
    if (r == 1)
        r = huren_dicom__tls_io(p.ssl, buf, n, p.want_write, why);
    if (r == HUREN_DICOM__TLS_FAILED) {
        scp->stats.tls_failed++;
        log_limited(scp, 6, "TLS connection from %s closed: %s%s", p.address.c_str(),
                    p.handshaken ? "" : "handshake failed: ", why.c_str());
        return 0;
    }
    return r;
}

/* Read what has arrived (never blocking) towards the complete A-ASSOCIATE-RQ. */
static read_result read_request(huren_dicom_scp *scp, pending_conn &p)
{
    for (;;) {
        size_t have = p.pdu.size();
        p.pdu.resize(p.want);
        ssize_t n = receive_some(scp, p, p.pdu.data() + have, p.want - have);
        p.pdu.resize(have + (n > 0 ? (size_t)n : 0));
        if (n == HUREN_DICOM__TLS_AGAIN)
            return READ_MORE;
        if (n <= 0 || !count_negotiating(scp, p))
            return READ_CLOSED;
        if (p.pdu.size() == PDU_HEADER && p.want == PDU_HEADER) {
            const unsigned char *h = p.pdu.data();
            uint32_t len = (uint32_t)h[2] << 24 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 8 | h[5];
            if (h[0] != 0x01 || len < MIN_REQUEST_BODY || len > MAX_REQUEST_PDU) {
                scp->stats.not_association++;
                log_limited(scp, 3,
                            "connection from %s closed: not an A-ASSOCIATE-RQ (PDU type 0x%02x, "
                            "length %u)",
                            p.address.c_str(), h[0], len);
                return READ_CLOSED;
            }
            p.want = PDU_HEADER + len;
        }
        if (p.pdu.size() == p.want)
            return READ_COMPLETE;
    }
}

static void close_pending(huren_dicom_scp *scp, pending_conn &p)
{
    huren_dicom__tls_free(p.ssl);
    close(p.fd);
    if (p.negotiating)
        scp->negotiating--;
}

/* Accept what is waiting; silent connections beyond their share close the oldest silent one. */
static void accept_new(huren_dicom_scp *scp, std::vector<pending_conn> &pend)
{
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(scp->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char host[NI_MAXHOST] = "?";
        (void)getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
        size_t silent = 0;
        for (const pending_conn &p : pend)
            silent += !p.negotiating;
        if (silent >= (size_t)scp->opts.max_negotiating * 4) {
            for (auto it = pend.begin(); it != pend.end(); ++it)
                if (!it->negotiating) {
                    scp->stats.idle_closed++;
                    log_limited(scp, 4, "connection from %s closed: silent, and %zu others wait",
                                it->address.c_str(), silent);
                    close_pending(scp, *it);
                    pend.erase(it);
                    break;
                }
        }
        if (scp->opts.tcp_nodelay)
            huren_dicom__set_nodelay(fd);
        pending_conn p;
        if (scp->tls) {
            /* the handshake is driven from poll(): the socket must not block */
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            {
                std::lock_guard<std::mutex> g(scp->tls_mu); /* a reload may swap it */
                p.ssl = huren_dicom__tls_session(scp->tls, fd);
            }
            if (!p.ssl) {
                close(fd);
                continue;
            }
        }
        p.fd = fd;
        p.address = host;
        p.since = clock_type::now();
        pend.push_back(std::move(p));
    }
}

/* One round: read what arrived, hand complete requests over, close the ones out of time. */
static void serve_pending(huren_dicom_scp *scp, std::vector<pending_conn> &pend,
                          const std::vector<struct pollfd> &pfds)
{
    auto now = clock_type::now();
    auto limit = std::chrono::seconds(scp->opts.negotiation_timeout_s);
    std::vector<pending_conn> still;
    for (size_t i = 0; i < pend.size(); i++) {
        pending_conn &p = pend[i];
        read_result r = READ_MORE;
        if (pfds[i + 1].revents)
            r = read_request(scp, p);
        if (r == READ_COMPLETE) {
            hand_off(scp, p);
        } else if (r == READ_CLOSED) {
            close_pending(scp, p);
        } else if (now - p.since > limit) {
            scp->stats.negotiation_timeouts++;
            log_limited(scp, 5, "connection from %s closed: no association request within %d s",
                        p.address.c_str(), scp->opts.negotiation_timeout_s);
            close_pending(scp, p);
        } else {
            still.push_back(std::move(p));
        }
    }
    pend.swap(still);
}

void huren_dicom__listener_main(huren_dicom_scp *scp)
{
    huren_dicom__log_bind(&scp->h);
    std::vector<pending_conn> pend;
    std::vector<struct pollfd> pfds;
    while (!scp->stopping) {
        huren_dicom__reap_workers(scp);
        pfds.assign(1, {scp->listen_fd, POLLIN, 0});
        for (const pending_conn &p : pend)
            pfds.push_back({p.fd, (short)(p.want_write ? POLLOUT : POLLIN), 0});
        if (poll(pfds.data(), pfds.size(), 200) < 0)
            continue;
        try {
            serve_pending(scp, pend, pfds);
            if (pfds[0].revents & POLLIN)
                accept_new(scp, pend);
        } catch (...) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR, "listener: exception");
        }
    }
    for (pending_conn &p : pend)
        close_pending(scp, p);
    huren_dicom__log_bind(nullptr);
}
