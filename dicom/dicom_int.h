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

/* Top-level text elements of a dataset, values in UTF-8; pointers in v stay valid while the
 * set lives and finish() has been called after the last add(). */
struct huren_dicom__elements {
    std::vector<std::string> values;
    std::vector<huren_dicom_element> v;
    void add(uint32_t tag, const char *vr, std::string value);
    void finish();
};

/* Collect the top-level elements of ds converted to UTF-8 from its Specific Character Set.
 * keep_empty: also collect zero-length elements (query keys). A charset that cannot be used is
 * not fatal: values fall back (UTF-8 kept, else GB18030, else Latin-1) and warn says why. */
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

/* Make every connection of net turn Nagle's algorithm off (the network owns the layer). */
void huren_dicom__nodelay_network(T_ASC_Network *net);

struct huren_dicom_scp;

/* One association being served by a worker thread. */
struct huren_dicom__assoc {
    huren_dicom_scp *scp;
    T_ASC_Association *assoc;
    std::string calling_ae, called_ae, address;
    huren_dicom_peer peer;
    std::string store_tmp; /* C-STORE temp file kept for the next C-STORE ("" = none) */
};

struct huren_dicom__worker {
    std::thread thread;
    std::atomic<bool> done{false};
    int fd = -1; /* -1 once the worker no longer owns a live socket (guarded by scp->mu) */
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
    std::atomic<int> active{0};
    std::atomic<uint64_t> total{0};
};

/* association.cpp: negotiate and serve one received association, then drop it. */
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
