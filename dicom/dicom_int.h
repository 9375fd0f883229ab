/* dicom_int.h: declarations shared by the files of dicom/ and by nothing else.
 * Element sets (UTF-8 text elements with stable pointers), the SCP handle and its
 * per-association context, and the routing of DCMTK's logger into huren's log callback. */
#ifndef HUREN_DICOM_INT_H
#define HUREN_DICOM_INT_H

#include "huren_dicom.h"

#include <atomic>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"

typedef struct ssl_st SSL; /* OpenSSL's, for the TLS port (tls.cpp) */
class DcmTLSTransportLayer;

/* Top-level text elements of a dataset, values in UTF-8; pointers in v stay valid while the
 * set lives and finish() has been called after the last add(). */
struct huren_dicom__elements {
    std::vector<std::string> values;
    std::vector<huren_dicom_element> v;
    void add(uint32_t tag, const char *vr, std::string value);
    void finish();
};

/* A Specific Character Set ready to convert values to UTF-8 (charset.cpp): either one codec
 * for whole values (ISO_IR 192, GB18030, GBK) or ISO 2022 sets switched by escape sequences
 * (every term of PS3.3 C.12.1.1.2, single-byte ones included, value 1 first). */
struct huren_dicom__charset_set;
struct huren_dicom__charset {
    std::vector<const huren_dicom__charset_set *> terms;
    std::string whole_iconv;
    /* From the element's value ("\\ISO 2022 IR 87"); false with why if a term is not known.
     * A usable but odd value returns true and may still set why. */
    bool select(const std::string &scs, std::string &why);
    /* Convert one element value (all its values, delimiters kept); delims are the VR's
     * delimiters, where the initial sets apply again. out is always set: bytes that are not
     * valid become U+FFFD and the function returns false with why naming the first. */
    bool convert(const std::string &raw, const char *delims, std::string &out,
                 std::string &why) const;
};

/* codecs.cpp: register DCMTK's JPEG, JPEG-LS and RLE decoders (once; thread-safe). */
void huren_dicom__register_codecs();

/* send_raw.cpp: C-STORE of a stored instance on dst as it lies on disk: the dataset after the
 * meta header of [offset, offset+length) of path (length 0: to the end), unchanged, in the
 * context pid (whose transfer syntax must be the stored one). rsp gets the peer's answer.
 * started tells whether anything was sent: if not, the caller may still send another way; if
 * so, an error means the association is lost. */
OFCondition huren_dicom__store_raw(T_ASC_Association *dst, T_ASC_PresentationContextID pid,
                                   const T_DIMSE_C_StoreRQ &rq, const char *path, uint64_t offset,
                                   uint64_t length, int timeout_s, T_DIMSE_C_StoreRSP &rsp,
                                   bool &started);

/* j2k.cpp: one JPEG 2000 codestream (or JP2 file) decoded by OpenJPEG; pixels interleaved
 * (colour-by-pixel), 1 byte per sample up to 8 bits, else 2 (little endian). */
struct huren_dicom__j2k_image {
    unsigned width = 0, height = 0, components = 0, precision = 0;
    bool is_signed = false;
    std::string pixels;
};
bool huren_dicom__j2k_decode(const std::string &codestream, huren_dicom__j2k_image &out,
                             std::string &err);

/* Collect the top-level elements of ds converted to UTF-8 from its Specific Character Set.
 * keep_empty: also collect zero-length elements (query keys). A charset that cannot be used is
 * not fatal: values fall back (UTF-8 kept, else GB18030, else Latin-1) and warn says why. */
/* Every string value of ds and of its sequences' items converted to UTF-8 in place by the same
 * rules as huren_dicom__collect() (ISO 2022 code extensions included), and the Specific
 * Character Set set to ISO_IR 192. warn gets the first problem. */
void huren_dicom__dataset_to_utf8(DcmItem *ds, std::string &warn);
void huren_dicom__collect(DcmItem *ds, bool keep_empty, huren_dicom__elements &out,
                          std::string &warn);

/* Copy a message into a caller's err buffer (NULL-safe, always terminated). */
void huren_dicom__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Route DCMTK's oflog into the log callback of the SCP that the current thread works for; a
 * thread that works for none drops DCMTK's messages. DCMTK below WARN is silenced. */
void huren_dicom__log_init(void);
void huren_dicom__log_bind(const huren_dicom_handlers *h); /* NULL unbinds the thread */
void huren_dicom__logf(const huren_dicom_handlers *h, huren_dicom_log_level lvl, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* Give ds this hospital's PatientID and IssuerOfPatientID, the ones it had moved into
 * OtherPatientIDsSequence (once: coercing again adds nothing) (coerce.cpp). */
OFCondition huren_dicom__coerce(DcmDataset *ds, const huren_dicom_coercion *c);

/* transport.cpp: Nagle's algorithm off on fd; on every connection of net (which owns the
 * layer). */
void huren_dicom__set_nodelay(int fd);
void huren_dicom__nodelay_network(T_ASC_Network *net);
/* The SCP's transport layer (owned by net): put() gives the bytes already read off fd, which
 * DCMTK's connection on fd reads first; drop() forgets them if DCMTK did not take them. */
struct huren_dicom__intake;
huren_dicom__intake *huren_dicom__intake_network(T_ASC_Network *net, bool nodelay);
/* ssl (may be NULL): the connection's TLS session, handshake done; DCMTK's connection then
 * reads and writes through it (and owns it) */
void huren_dicom__intake_put(huren_dicom__intake *in, int fd, std::vector<unsigned char> &&bytes,
                             SSL *ssl);
void huren_dicom__intake_drop(huren_dicom__intake *in, int fd);

/* tls.cpp: the SCP's TLS layer from the TLS options (files checked first; nullptr with the
 * reason in err), a server-side session on fd, and reads and handshake steps that never block:
 * huren_dicom__tls_io() with buf NULL advances the handshake (1 once done), else reads up to
 * n bytes; HUREN_DICOM__TLS_AGAIN when it must wait (for POLLOUT if want_write), 0 when the
 * peer closed, HUREN_DICOM__TLS_FAILED with the reason in why. The verified client
 * certificate's subject (RFC 4514), "" if none. */
#define HUREN_DICOM__TLS_AGAIN (-1)
#define HUREN_DICOM__TLS_FAILED (-2)
DcmTLSTransportLayer *huren_dicom__tls_layer(const huren_dicom_scp_options *o, char *err,
                                             size_t errlen);
SSL *huren_dicom__tls_session(DcmTLSTransportLayer *l, int fd);
int huren_dicom__tls_io(SSL *ssl, void *buf, size_t n, bool &want_write, std::string &why);
std::string huren_dicom__tls_subject(SSL *ssl);
void huren_dicom__tls_free(SSL *ssl); /* NULL-safe */

/* listener.cpp: dcmExternalSocketHandle is process-wide: every use of it (network creation and
 * the reception of an A-ASSOCIATE-RQ, already in memory, on an accepted socket) holds this
 * lock, across all SCP instances. */
std::mutex &huren_dicom__external_socket(void);

struct huren_dicom_scp;

/* One association being served by a worker thread. */
struct huren_dicom__assoc {
    huren_dicom_scp *scp;
    T_ASC_Association *assoc;
    std::string calling_ae, called_ae, address;
    std::string tls_subject; /* verified client certificate subject (TLS port only) */
    bool tls = false;
    huren_dicom_peer peer;
    std::string store_tmp;      /* C-STORE temp file kept for the next C-STORE ("" = none) */
    unsigned long requests = 0; /* DIMSE requests answered, for the closing log line */
};

struct huren_dicom__worker {
    std::thread thread;
    std::atomic<bool> done{false};
    int fd = -1; /* -1 once the worker no longer owns a live socket (guarded by scp->mu) */
};

/* Refusals and closes, by stage (see huren_dicom_scp_stats). */
struct huren_dicom__stats {
    std::atomic<uint64_t> refused_busy{0}, refused_negotiating{0}, refused_ae{0}, refused_other{0},
        negotiation_timeouts{0}, idle_closed{0}, not_association{0}, identifiers_refused{0},
        tls_failed{0};
};

struct huren_dicom_scp {
    std::string aet, bind_address, tmp_dir;
    std::vector<std::string> allowed; /* calling AEs; empty with allow_any */
    bool allow_any = true;
    huren_dicom_scp_options opts{};
    huren_dicom_handlers h{};
    int listen_fd = -1;
    int port = 0;
    T_ASC_Network *net = nullptr;
    std::thread listener;
    std::atomic<bool> stopping{false}, aborting{false};
    std::mutex mu;
    std::condition_variable cv;
    std::list<std::unique_ptr<huren_dicom__worker>> workers;
    std::atomic<int> active{0};      /* associations accepted and being served */
    std::atomic<int> negotiating{0}; /* requests arriving or being negotiated */
    std::atomic<uint64_t> total{0};
    huren_dicom__intake *intake = nullptr; /* owned by net */
    std::string tls_cert, tls_key, tls_client_ca;
    DcmTLSTransportLayer *tls = nullptr; /* the TLS port's sessions come from it (owned) */
    std::mutex tls_mu;                   /* tls: swapped by a reload, read by the listener */
    /* layers replaced by a reload: kept until stop (tiny), so nothing in flight outlives one */
    std::vector<DcmTLSTransportLayer *> tls_retired;
    ~huren_dicom_scp(); /* scp.cpp: frees tls and tls_retired */
    huren_dicom__stats stats;
};

/* listener.cpp: the listener thread; joining finished workers. */
void huren_dicom__listener_main(huren_dicom_scp *scp);
void huren_dicom__reap_workers(huren_dicom_scp *scp);

/* association.cpp: check and negotiate a received association, acknowledging or rejecting it
 * (true if acknowledged); then serve its DIMSE commands until it ends (the caller drops it). */
bool huren_dicom__assoc_admit(huren_dicom__assoc *a);
void huren_dicom__assoc_serve(huren_dicom__assoc *a);
/* store.cpp: a C-STORE request on an association. */
OFCondition huren_dicom__store(huren_dicom__assoc *a, T_DIMSE_C_StoreRQ *req,
                               T_ASC_PresentationContextID pres);
/* query.cpp: a C-FIND request; the query identifier of FIND/MOVE/GET. */
OFCondition huren_dicom__find(huren_dicom__assoc *a, T_DIMSE_C_FindRQ *req,
                              T_ASC_PresentationContextID pres);
struct huren_dicom__query {
    huren_dicom_query q{};
    huren_dicom__elements keys;
    std::string level_str, move_dest;
};
/* Receive the identifier of a C-FIND/C-MOVE/C-GET: its raw bytes (at most max_identifier) are
 * scanned for nesting before DCMTK parses them into out. A bad condition means the association
 * failed; otherwise *refusal is 0 (out is set) or the status to refuse the request with (the
 * reason logged, out unset). op names the request in the log. */
OFCondition huren_dicom__receive_identifier(huren_dicom__assoc *a, const char *op,
                                            std::unique_ptr<DcmDataset> &out, uint16_t *refusal);
/* Fill qq from a received identifier; returns a DIMSE failure status or 0. */
uint16_t huren_dicom__query_build(huren_dicom__assoc *a, const char *sop_class, DcmDataset *id,
                                  huren_dicom__query &qq);
/* retrieve.cpp: C-MOVE and C-GET requests. */
OFCondition huren_dicom__move(huren_dicom__assoc *a, T_DIMSE_C_MoveRQ *req,
                              T_ASC_PresentationContextID pres);
OFCondition huren_dicom__get(huren_dicom__assoc *a, T_DIMSE_C_GetRQ *req,
                             T_ASC_PresentationContextID pres);

/* The UIDs of the query/retrieve SOP classes we serve. */
bool huren_dicom__is_qr_class(const char *uid);

#endif
