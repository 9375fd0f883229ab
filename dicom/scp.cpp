/* scp.cpp: the SCP's life cycle. It binds its own listening socket (DCMTK would bind all
 * interfaces), accepts connections in a listener thread, hands each accepted socket to DCMTK
 * through dcmExternalSocketHandle, and serves each association in a worker thread up to
 * max_associations; stop drains, then aborts, then joins. */
#include "dicom_int.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "dcmtk/dcmnet/dcmlayer.h"
#include "dcmtk/dcmnet/dul.h"

/* dcmExternalSocketHandle is process-wide: every use of it (network creation and the reception
 * of an A-ASSOCIATE-RQ on an accepted socket) holds this lock, across all SCP instances. */
static std::mutex g_external_socket;

static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

namespace
{
/* DCMTK creates every connection of a network through its transport layer: ours turns Nagle's
 * algorithm off on the socket first (Debian's DCMTK only does so with TCP_NODELAY=1 set). */
class NodelayLayer : public DcmTransportLayer
{
  public:
    DcmTransportConnection *createConnection(DcmNativeSocketType sock, OFBool secure) override
    {
        set_nodelay((int)sock);
        return DcmTransportLayer::createConnection(sock, secure);
    }
};
} // namespace

void huren_dicom__nodelay_network(T_ASC_Network *net)
{
    (void)ASC_setTransportLayer(net, new NodelayLayer(), 1);
}

static int open_listener(huren_dicom_scp *scp, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = nullptr;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    std::string port = std::to_string(scp->opts.port);
    int rc = getaddrinfo(scp->bind_address.c_str(), port.c_str(), &hints, &ai);
    if (rc != 0) {
        huren_dicom__seterr(err, errlen, "bind address \"%s\": %s", scp->bind_address.c_str(),
                            gai_strerror(rc));
        return HUREN_DICOM_EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        huren_dicom__seterr(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return HUREN_DICOM_EIO;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        huren_dicom__seterr(err, errlen, "cannot listen on %s port %d: %s",
                            scp->bind_address.c_str(), scp->opts.port, strerror(errno));
        freeaddrinfo(ai);
        close(fd);
        return HUREN_DICOM_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        huren_dicom__seterr(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        return HUREN_DICOM_EIO;
    }
    scp->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    scp->listen_fd = fd;
    return HUREN_DICOM_OK;
}

static void reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result,
                   T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason)
{
    T_ASC_RejectParameters rej = {result, source, reason};
    (void)ASC_rejectAssociation(assoc, &rej);
    (void)ASC_dropAssociation(assoc);
    (void)ASC_destroyAssociation(&assoc);
}

static void worker_main(huren_dicom_scp *scp, huren_dicom__worker *w, huren_dicom__assoc *a)
{
    huren_dicom__log_bind(&scp->h);
    try {
        huren_dicom__assoc_serve(a);
    } catch (...) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR, "association from %s: exception",
                          a->address.c_str());
        (void)ASC_abortAssociation(a->assoc);
    }
    {
        /* from here on the socket may be closed and its number reused: stop may not touch it */
        std::lock_guard<std::mutex> lk(scp->mu);
        w->fd = -1;
    }
    (void)ASC_dropSCPAssociation(a->assoc);
    (void)ASC_destroyAssociation(&a->assoc);
    if (!a->store_tmp.empty())
        (void)unlink(a->store_tmp.c_str());
    delete a;
    huren_dicom__log_bind(nullptr);
    std::lock_guard<std::mutex> lk(scp->mu);
    scp->active--;
    w->done = true;
    scp->cv.notify_all();
}

static void reap_workers(huren_dicom_scp *scp)
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

/* One accepted socket: read its A-ASSOCIATE-RQ and give it to a worker, or refuse it. */
static void accept_one(huren_dicom_scp *scp, int fd, const std::string &address)
{
    /* DCMTK leaves the socket open if its getpeername() fails (peer already gone) and owns
     * it in every other case, so that one failure is caught here */
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        close(fd);
        return;
    }
    T_ASC_Association *assoc = nullptr;
    OFCondition cond;
    {
        std::lock_guard<std::mutex> lk(g_external_socket);
        dcmExternalSocketHandle.set(fd);
        cond = ASC_receiveAssociation(scp->net, &assoc, scp->opts.max_pdu, NULL, NULL, OFFalse,
                                      DUL_NOBLOCK, scp->opts.acse_timeout_s);
        dcmExternalSocketHandle.set(-1);
    }
    if (cond.bad()) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "association from %s not received: %s",
                          address.c_str(), cond.text());
        if (assoc) {
            (void)ASC_dropAssociation(assoc);
            (void)ASC_destroyAssociation(&assoc);
        }
        return;
    }
    if (scp->stopping || scp->active.load() >= scp->opts.max_associations) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "association from %s refused: %d associations in progress",
                          address.c_str(), scp->active.load());
        reject(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
        return;
    }
    huren_dicom__assoc *a = new huren_dicom__assoc;
    a->scp = scp;
    a->assoc = assoc;
    a->address = address;
    std::unique_ptr<huren_dicom__worker> w(new huren_dicom__worker);
    w->fd = fd;
    std::lock_guard<std::mutex> lk(scp->mu);
    scp->active++;
    try {
        w->thread = std::thread(worker_main, scp, w.get(), a);
        scp->workers.push_back(std::move(w));
    } catch (...) {
        scp->active--;
        delete a;
        reject(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
    }
}

/* A connection accepted but not yet readable: it is handed to DCMTK only once its
 * A-ASSOCIATE-RQ starts to arrive, so a silent client (port scan, health check) cannot hold
 * the listener; one that stays silent for the ACSE timeout is closed. */
struct pending_conn {
    int fd;
    std::string address;
    std::chrono::steady_clock::time_point since;
};

static void accept_new(huren_dicom_scp *scp, std::vector<pending_conn> &pend)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(scp->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char host[NI_MAXHOST] = "?";
    (void)getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
    if (pend.size() >= 64) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "connection from %s closed: too many connections without a request",
                          host);
        close(fd);
        return;
    }
    if (scp->opts.tcp_nodelay)
        set_nodelay(fd);
    pend.push_back({fd, host, std::chrono::steady_clock::now()});
}

static void listener_main(huren_dicom_scp *scp)
{
    huren_dicom__log_bind(&scp->h);
    std::vector<pending_conn> pend;
    std::vector<struct pollfd> pfds;
    while (!scp->stopping) {
        reap_workers(scp);
        pfds.assign(1, {scp->listen_fd, POLLIN, 0});
        for (const pending_conn &p : pend)
            pfds.push_back({p.fd, POLLIN, 0});
        if (poll(pfds.data(), pfds.size(), 200) < 0)
            continue;
        auto now = std::chrono::steady_clock::now();
        std::vector<pending_conn> still;
        for (size_t i = 0; i < pend.size(); i++) {
            pending_conn &p = pend[i];
            if (pfds[i + 1].revents) {
                try {
                    accept_one(scp, p.fd, p.address);
                } catch (...) {
                    huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR,
                                      "accepting from %s: exception", p.address.c_str());
                }
            } else if (now - p.since > std::chrono::seconds(scp->opts.acse_timeout_s)) {
                huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                                  "connection from %s closed: no association request",
                                  p.address.c_str());
                close(p.fd);
            } else {
                still.push_back(p);
            }
        }
        pend.swap(still);
        if (pfds[0].revents & POLLIN)
            accept_new(scp, pend);
    }
    for (const pending_conn &p : pend)
        close(p.fd);
    huren_dicom__log_bind(nullptr);
}

static int check_options(const huren_dicom_scp_options *o, const huren_dicom_handlers *h, char *err,
                         size_t errlen)
{
    if (!h || !h->store || !h->find) {
        huren_dicom__seterr(err, errlen, "handlers store and find are required");
        return HUREN_DICOM_EINVAL;
    }
    if (!o->aet || !*o->aet || strlen(o->aet) > 16) {
        huren_dicom__seterr(err, errlen, "AE title must have 1 to 16 characters");
        return HUREN_DICOM_EINVAL;
    }
    if (!o->bind_address || o->port < 0 || o->port > 65535 || o->max_associations < 1 ||
        o->max_associations > 1000) {
        huren_dicom__seterr(err, errlen, "bind address, port or max_associations invalid");
        return HUREN_DICOM_EINVAL;
    }
    if (!o->tmp_dir || !*o->tmp_dir) {
        huren_dicom__seterr(err, errlen, "tmp_dir is required");
        return HUREN_DICOM_EINVAL;
    }
    return HUREN_DICOM_OK;
}

static int start(huren_dicom_scp **out, const huren_dicom_scp_options *opts,
                 const huren_dicom_handlers *handlers, char *err, size_t errlen)
{
    int rc = check_options(opts, handlers, err, errlen);
    if (rc)
        return rc;
    huren_dicom__log_init();
    dcmDisableGethostbyaddr.set(OFTrue);
    /* connect() of C-MOVE sub-associations; process-wide in DCMTK, like the two above */
    dcmConnectionTimeout.set(opts->acse_timeout_s > 0 ? opts->acse_timeout_s : 30);

    std::unique_ptr<huren_dicom_scp> scp(new huren_dicom_scp);
    scp->opts = *opts;
    scp->h = *handlers;
    scp->aet = opts->aet;
    scp->bind_address = opts->bind_address;
    scp->tmp_dir = opts->tmp_dir;
    scp->opts.aet = scp->aet.c_str();
    scp->opts.bind_address = scp->bind_address.c_str();
    scp->opts.tmp_dir = scp->tmp_dir.c_str();
    scp->opts.allowed_calling_aes = NULL;
    if (opts->allowed_calling_aes) {
        scp->allow_any = false;
        for (const char *const *p = opts->allowed_calling_aes; *p; p++)
            scp->allowed.push_back(*p);
    }
    if (scp->opts.max_pdu < ASC_MINIMUMPDUSIZE)
        scp->opts.max_pdu = ASC_MINIMUMPDUSIZE;
    if (scp->opts.max_pdu > ASC_MAXIMUMPDUSIZE)
        scp->opts.max_pdu = ASC_MAXIMUMPDUSIZE;
    if (scp->opts.acse_timeout_s <= 0)
        scp->opts.acse_timeout_s = 30;
    if (scp->opts.dimse_timeout_s <= 0)
        scp->opts.dimse_timeout_s = 60;

    rc = open_listener(scp.get(), err, errlen);
    if (rc)
        return rc;
    OFCondition cond;
    {
        /* with an external socket set, DCMTK creates no listening socket of its own */
        std::lock_guard<std::mutex> lk(g_external_socket);
        dcmExternalSocketHandle.set(scp->listen_fd);
        cond = ASC_initializeNetwork(NET_ACCEPTOR, scp->port, scp->opts.acse_timeout_s, &scp->net);
        dcmExternalSocketHandle.set(-1);
    }
    if (cond.bad()) {
        huren_dicom__seterr(err, errlen, "DICOM network: %s", cond.text());
        close(scp->listen_fd);
        return HUREN_DICOM_ERROR;
    }
    scp->listener = std::thread(listener_main, scp.get());
    *out = scp.release();
    return HUREN_DICOM_OK;
}

extern "C" int huren_dicom_scp_start(huren_dicom_scp **out, const huren_dicom_scp_options *opts,
                                     const huren_dicom_handlers *handlers, char *err, size_t errlen)
{
    if (!out || !opts) {
        huren_dicom__seterr(err, errlen, "huren_dicom_scp_start: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    *out = NULL;
    try {
        return start(out, opts, handlers, err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "huren_dicom_scp_start: %s", e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "huren_dicom_scp_start: unexpected exception");
    }
    return HUREN_DICOM_ERROR;
}

extern "C" int huren_dicom_scp_port(const huren_dicom_scp *scp)
{
    return scp ? scp->port : -1;
}

extern "C" int huren_dicom_scp_active(const huren_dicom_scp *scp)
{
    return scp ? scp->active.load() : 0;
}

extern "C" uint64_t huren_dicom_scp_total(const huren_dicom_scp *scp)
{
    return scp ? scp->total.load() : 0;
}

extern "C" void huren_dicom_scp_stop(huren_dicom_scp *scp, int grace_s)
{
    if (!scp)
        return;
    try {
        scp->stopping = true;
        if (scp->listener.joinable())
            scp->listener.join();
        close(scp->listen_fd);
        {
            std::unique_lock<std::mutex> lk(scp->mu);
            scp->cv.wait_for(lk, std::chrono::seconds(grace_s > 0 ? grace_s : 0),
                             [scp] { return scp->active.load() == 0; });
            if (scp->active.load() > 0) {
                /* workers notice the flag within a second; a blocked read fails at once */
                scp->aborting = true;
                for (auto &w : scp->workers)
                    if (w->fd >= 0)
                        (void)shutdown(w->fd, SHUT_RDWR);
            }
        }
        for (auto &w : scp->workers)
            if (w->thread.joinable())
                w->thread.join();
        scp->workers.clear();
        (void)ASC_dropNetwork(&scp->net);
    } catch (...) {
        /* nothing sensible is left to do; never let it cross into C */
    }
    delete scp;
}
