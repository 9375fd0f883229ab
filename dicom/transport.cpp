/* transport.cpp: the connections DCMTK reads and writes through. Nagle's algorithm off on every
 * socket (Debian's DCMTK only does so with TCP_NODELAY=1 in the environment), and, for the SCP,
 * the replay of an A-ASSOCIATE-RQ that the listener has already read off the socket without
 * blocking: DCMTK then negotiates in a worker thread and never waits on a slow client there.
 * On the TLS port the listener has done the handshake too: DCMTK's connection takes over the
 * session (dcmtls' DcmTLSConnection) with the request's bytes, already decrypted, first. */
#include "dicom_int.h"

#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "dcmtk/dcmnet/dcmlayer.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmtls/tlstrans.h"

void huren_dicom__set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

namespace
{
class NodelayLayer : public DcmTransportLayer
{
  public:
    DcmTransportConnection *createConnection(DcmNativeSocketType sock, OFBool secure) override
    {
        huren_dicom__set_nodelay((int)sock);
        return DcmTransportLayer::createConnection(sock, secure);
    }
};

/* A TCP connection whose first bytes were read earlier: they are served again first. */
class ReplayConnection : public DcmTCPConnection
{
    std::vector<unsigned char> pre_;
    size_t off_ = 0;

  public:
    ReplayConnection(DcmNativeSocketType sock, std::vector<unsigned char> &&pre)
        : DcmTCPConnection(sock), pre_(std::move(pre))
    {
    }
    ssize_t read(void *buf, size_t n) override
    {
        if (off_ < pre_.size()) {
            size_t k = std::min(n, pre_.size() - off_);
            memcpy(buf, pre_.data() + off_, k);
            off_ += k;
            return (ssize_t)k;
        }
        return DcmTCPConnection::read(buf, n);
    }
    OFBool networkDataAvailable(int timeout) override
    {
        return off_ < pre_.size() ? OFTrue : DcmTCPConnection::networkDataAvailable(timeout);
    }
};

/* The same over a TLS session whose handshake the listener did (DcmTLSConnection owns it). */
class TLSReplayConnection : public DcmTLSConnection
{
    std::vector<unsigned char> pre_;
    size_t off_ = 0;

  public:
    TLSReplayConnection(DcmNativeSocketType sock, SSL *ssl, std::vector<unsigned char> &&pre)
        : DcmTLSConnection(sock, ssl), pre_(std::move(pre))
    {
    }
    ssize_t read(void *buf, size_t n) override
    {
        if (off_ < pre_.size()) {
            size_t k = std::min(n, pre_.size() - off_);
            memcpy(buf, pre_.data() + off_, k);
            off_ += k;
            return (ssize_t)k;
        }
        return DcmTLSConnection::read(buf, n);
    }
    OFBool networkDataAvailable(int timeout) override
    {
        return off_ < pre_.size() ? OFTrue : DcmTLSConnection::networkDataAvailable(timeout);
    }
};

struct intake_entry {
    std::vector<unsigned char> bytes;
    SSL *ssl = nullptr;
};

class IntakeLayer : public DcmTransportLayer
{
    bool nodelay_;
    std::mutex mu_;
    std::map<int, intake_entry> pre_;

  public:
    explicit IntakeLayer(bool nodelay) : nodelay_(nodelay) {}
    ~IntakeLayer() override
    {
        for (auto &e : pre_)
            huren_dicom__tls_free(e.second.ssl);
    }
    void put(int fd, std::vector<unsigned char> &&bytes, SSL *ssl)
    {
        std::lock_guard<std::mutex> lk(mu_);
        intake_entry &e = pre_[fd];
        huren_dicom__tls_free(e.ssl);
        e.bytes = std::move(bytes);
        e.ssl = ssl;
    }
    void drop(int fd)
    {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = pre_.find(fd);
        if (it != pre_.end()) {
            huren_dicom__tls_free(it->second.ssl);
            pre_.erase(it);
        }
    }
    DcmTransportConnection *createConnection(DcmNativeSocketType sock, OFBool secure) override
    {
        if (nodelay_)
            huren_dicom__set_nodelay((int)sock);
        intake_entry e;
        {
            std::lock_guard<std::mutex> lk(mu_);
            auto it = pre_.find((int)sock);
            if (it != pre_.end()) {
                e = std::move(it->second);
                pre_.erase(it);
            }
        }
        if (e.ssl)
            return new TLSReplayConnection(sock, e.ssl, std::move(e.bytes));
        if (secure || e.bytes.empty())
            return DcmTransportLayer::createConnection(sock, secure);
        return new ReplayConnection(sock, std::move(e.bytes));
    }
};
} // namespace

void huren_dicom__nodelay_network(T_ASC_Network *net)
{
    (void)ASC_setTransportLayer(net, new NodelayLayer(), 1);
}

huren_dicom__intake *huren_dicom__intake_network(T_ASC_Network *net, bool nodelay)
{
    IntakeLayer *l = new IntakeLayer(nodelay);
    if (ASC_setTransportLayer(net, l, 1).bad()) {
        delete l;
        return nullptr;
    }
    return reinterpret_cast<huren_dicom__intake *>(l);
}

void huren_dicom__intake_put(huren_dicom__intake *in, int fd, std::vector<unsigned char> &&bytes,
                             SSL *ssl)
{
    reinterpret_cast<IntakeLayer *>(in)->put(fd, std::move(bytes), ssl);
}

void huren_dicom__intake_drop(huren_dicom__intake *in, int fd)
{
    reinterpret_cast<IntakeLayer *>(in)->drop(fd);
}
