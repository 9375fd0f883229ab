/* scp.cpp: the SCP's life cycle. It binds its own listening socket (DCMTK would bind all
 * interfaces), starts the listener thread (listener.cpp: requests read without blocking, each
 * association negotiated and served in a worker thread up to max_associations), and stops:
 * drains, then aborts, then joins. With TLS options it is the TLS port: its dcmtls layer is
 * set up (tls.cpp) before the socket is bound. */
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
#include "dcmtk/dcmtls/tlslayer.h"

huren_dicom_scp::~huren_dicom_scp()
{
    delete tls;
    for (DcmTLSTransportLayer *l : tls_retired)
        delete l;
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
    /* non-blocking: the listener accepts until nothing is left, and never waits */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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
    if (o->max_negotiating < 1 || o->max_negotiating > 10000 || o->negotiation_timeout_s < 1 ||
        o->max_identifier < 1024) {
        huren_dicom__seterr(err, errlen,
                            "max_negotiating, negotiation_timeout or max_identifier invalid");
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
    if (opts->tls_cert && *opts->tls_cert) {
        scp->tls_cert = opts->tls_cert;
        scp->tls_key = opts->tls_key ? opts->tls_key : "";
        scp->tls_client_ca = opts->tls_client_ca ? opts->tls_client_ca : "";
        scp->opts.tls_cert = scp->tls_cert.c_str();
        scp->opts.tls_key = scp->tls_key.c_str();
        scp->opts.tls_client_ca = scp->tls_client_ca.c_str();
        scp->tls = huren_dicom__tls_layer(&scp->opts, err, errlen);
        if (!scp->tls)
            return HUREN_DICOM_EINVAL;
    } else {
        scp->opts.tls_cert = scp->opts.tls_key = scp->opts.tls_client_ca = NULL;
    }

    rc = open_listener(scp.get(), err, errlen);
    if (rc)
        return rc;
    OFCondition cond;
    {
        /* with an external socket set, DCMTK creates no listening socket of its own */
        std::lock_guard<std::mutex> lk(huren_dicom__external_socket());
        dcmExternalSocketHandle.set(scp->listen_fd);
        cond = ASC_initializeNetwork(NET_ACCEPTOR, scp->port, scp->opts.acse_timeout_s, &scp->net);
        dcmExternalSocketHandle.set(-1);
    }
    if (cond.bad()) {
        huren_dicom__seterr(err, errlen, "DICOM network: %s", cond.text());
        close(scp->listen_fd);
        return HUREN_DICOM_ERROR;
    }
    scp->intake = huren_dicom__intake_network(scp->net, scp->opts.tcp_nodelay != 0);
    if (!scp->intake) {
        huren_dicom__seterr(err, errlen, "DICOM network: cannot set its transport layer");
        (void)ASC_dropNetwork(&scp->net);
        close(scp->listen_fd);
        return HUREN_DICOM_ERROR;
    }
    scp->listener = std::thread(huren_dicom__listener_main, scp.get());
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

extern "C" void huren_dicom_scp_stats_get(const huren_dicom_scp *scp, huren_dicom_scp_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!scp)
        return;
    const huren_dicom__stats &s = scp->stats;
    out->accepted = scp->total.load();
    out->refused_busy = s.refused_busy.load();
    out->refused_negotiating = s.refused_negotiating.load();
    out->refused_ae = s.refused_ae.load();
    out->refused_other = s.refused_other.load();
    out->negotiation_timeouts = s.negotiation_timeouts.load();
    out->idle_closed = s.idle_closed.load();
    out->not_association = s.not_association.load();
    out->identifiers_refused = s.identifiers_refused.load();
    out->tls_failed = s.tls_failed.load();
    out->negotiating = scp->negotiating.load();
    out->active = scp->active.load();
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
