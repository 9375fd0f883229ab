/* scu.cpp: huren as a DICOM client (DCMTK's DcmSCU): C-FIND with answers streamed to the
 * caller, C-GET with the instances written to files of our own naming and handed to the
 * caller's store handler, C-MOVE, and C-STORE of a stored instance (a file of its own or a
 * range of a pack). One association per call; nothing here knows where the data goes. */
#include "dicom_int.h"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/scu.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace
{

const char *level_name(huren_dicom_level l)
{
    switch (l) {
    case HUREN_DICOM_LEVEL_PATIENT:
        return "PATIENT";
    case HUREN_DICOM_LEVEL_STUDY:
        return "STUDY";
    case HUREN_DICOM_LEVEL_SERIES:
        return "SERIES";
    default:
        return "IMAGE";
    }
}

OFList<OFString> plain_syntaxes()
{
    OFList<OFString> ts;
    ts.push_back(UID_LittleEndianExplicitTransferSyntax);
    ts.push_back(UID_BigEndianExplicitTransferSyntax);
    ts.push_back(UID_LittleEndianImplicitTransferSyntax);
    return ts;
}

/* DcmSCU with the handlers huren needs: answers and instances to the caller's callbacks. */
class Scu : public DcmSCU
{
  public:
    huren_dicom_find_emit emit = nullptr;
    void *emit_ctx = nullptr;
    uint16_t (*store)(const huren_dicom_store_req *, void *) = nullptr;
    void *payload = nullptr;
    std::string tmp_dir;
    huren_dicom_peer peer{};
    uint16_t last_status = 0;
    bool cancelled = false;
    huren_dicom_scu_result res{};
    std::string store_err;
    std::unique_ptr<DcmTLSTransportLayer> tls; /* DICOM TLS: outlives the association */
    OFCondition secure()
    {
        return useSecureConnection(tls.get());
    }
    ~Scu() override
    {
        if (isConnected())
            abortAssociation();
    }

    OFCondition handleFINDResponse(const T_ASC_PresentationContextID presID, QRResponse *response,
                                   OFBool &waitForNextResponse) override
    {
        OFCondition c = DcmSCU::handleFINDResponse(presID, response, waitForNextResponse);
        last_status = response->m_status;
        if (response->m_dataset && DICOM_PENDING_STATUS(response->m_status) && emit && !cancelled) {
            huren_dicom__elements els;
            std::string warn;
            huren_dicom__collect(response->m_dataset, false, els, warn);
            if (emit(emit_ctx, els.v.data(), els.v.size())) {
                cancelled = true;
                sendCANCELRequest(presID);
            }
        }
        return c;
    }

    void note(RetrieveResponse *r)
    {
        res.status = r->m_status;
        res.completed = r->m_numberOfCompletedSubops;
        res.failed = r->m_numberOfFailedSubops;
        res.warning = r->m_numberOfWarningSubops;
    }

    OFCondition handleMOVEResponse(const T_ASC_PresentationContextID presID,
                                   RetrieveResponse *response, OFBool &waitForNextResponse) override
    {
        note(response);
        return DcmSCU::handleMOVEResponse(presID, response, waitForNextResponse);
    }

    OFCondition handleCGETResponse(const T_ASC_PresentationContextID presID,
                                   RetrieveResponse *response, OFBool &continueCGETSession) override
    {
        note(response);
        return DcmSCU::handleCGETResponse(presID, response, continueCGETSession);
    }

    /* A C-STORE of the C-GET: to a file named by us (never by a UID), then to the handler. */
    OFCondition handleSTORERequest(const T_ASC_PresentationContextID, DcmDataset *ds,
                                   OFBool &continueCGETSession, Uint16 &status) override
    {
        std::unique_ptr<DcmDataset> own(ds);
        continueCGETSession = OFTrue;
        status = STATUS_STORE_Refused_OutOfResources;
        if (!ds || !store)
            return EC_IllegalParameter;
        std::string path = tmp_dir + "/scu-get-XXXXXX";
        int fd = mkstemp(&path[0]);
        if (fd < 0) {
            store_err = "cannot create a temp file in " + tmp_dir;
            return EC_Normal;
        }
        close(fd);
        OFString sop_class, sop_uid;
        ds->findAndGetOFString(DCM_SOPClassUID, sop_class);
        ds->findAndGetOFString(DCM_SOPInstanceUID, sop_uid);
        E_TransferSyntax xfer = ds->getOriginalXfer();
        if (xfer == EXS_Unknown)
            xfer = EXS_LittleEndianExplicit;
        DcmFileFormat ff(ds);
        OFCondition c = ff.saveFile(path.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL,
                                    EPD_noChange, 0, 0, EWM_fileformat);
        if (c.bad()) {
            unlink(path.c_str());
            store_err = std::string("cannot write a received instance: ") + c.text();
            return EC_Normal;
        }
        huren_dicom__elements els;
        std::string warn;
        huren_dicom__collect(ff.getDataset(), false, els, warn);
        DcmXfer x(xfer);
        huren_dicom_store_req req{};
        req.peer = &peer;
        req.tmp_path = path.c_str();
        req.sop_class_uid = sop_class.c_str();
        req.sop_instance_uid = sop_uid.c_str();
        req.transfer_syntax_uid = x.getXferID();
        req.elements = els.v.data();
        req.nelements = els.v.size();
        status = store(&req, payload);
        res.received++;
        unlink(path.c_str()); /* adopted (renamed away) or left: gone either way */
        return EC_Normal;
    }
};

void setup(Scu &s, const huren_dicom_scu_options *o)
{
    s.setAETitle(o->calling_ae ? o->calling_ae : "HUREN");
    s.setPeerAETitle(o->called_ae);
    s.setPeerHostName(o->host);
    s.setPeerPort((Uint16)o->port);
    s.setMaxReceivePDULength(o->max_pdu ? o->max_pdu : ASC_DEFAULTMAXPDU);
    Uint32 t = (Uint32)(o->timeout_s > 0 ? o->timeout_s : 30);
    s.setACSETimeout(t);
    s.setDIMSETimeout(t);
    s.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    s.setConnectionTimeout((Sint32)t);
    s.peer.calling_ae = o->calling_ae;
    s.peer.called_ae = o->called_ae;
    s.peer.address = o->host;
}

int check(const huren_dicom_scu_options *o, char *err, size_t errlen)
{
    huren_dicom__log_init(); /* DCMTK's own messages: dropped on threads serving no SCP */
    if (!o || !o->called_ae || !*o->called_ae || !o->host || !*o->host || o->port <= 0 ||
        o->port > 65535) {
        huren_dicom__seterr(err, errlen, "SCU: the peer's AE title, host and port are required");
        return HUREN_DICOM_EINVAL;
    }
    return 0;
}

bool set(const char *v)
{
    return v && *v;
}

/* The client side of DICOM TLS: the peer verified against tls_ca and named host. */
OFCondition tls_configure(DcmTLSTransportLayer &l, const huren_dicom_scu_options *o)
{
    OFCondition c = l.setTLSProfile(TSP_Profile_BCP195_ND);
    static const char *const ecdsa[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
    for (const char *suite : ecdsa)
        if (c.good())
            c = l.addCipherSuite(suite);
    if (c.good())
        c = l.activateCipherSuites();
    SSL_CTX *ctx = l.getNativeHandle();
    if (c.good() && set(o->tls_cert) && SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
        c = EC_IllegalCall;
    if (c.good() && set(o->tls_cert))
        c = l.setPrivateKeyFile(set(o->tls_key) ? o->tls_key : o->tls_cert, DCF_Filetype_PEM);
    if (c.good())
        c = l.addTrustedCertificateFile(o->tls_ca, DCF_Filetype_PEM);
    if (c.bad())
        return c;
    if (set(o->tls_cert) && !l.checkPrivateKeyMatchesCertificate())
        return EC_IllegalCall;
    l.setCertificateVerification(DCV_requireCertificate);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    unsigned char addr[16];
    bool numeric =
        inet_pton(AF_INET, o->host, addr) == 1 || inet_pton(AF_INET6, o->host, addr) == 1;
    if ((numeric ? X509_VERIFY_PARAM_set1_ip_asc(param, o->host)
                 : X509_VERIFY_PARAM_set1_host(param, o->host, 0)) != 1)
        return EC_IllegalCall;
    return EC_Normal;
}

int open_assoc(Scu &s, const huren_dicom_scu_options *o, char *err, size_t errlen)
{
    OFCondition c = s.initNetwork();
    if (c.good() && set(o->tls_ca)) {
        s.tls.reset(new DcmTLSTransportLayer(NET_REQUESTOR, NULL, OFFalse));
        c = tls_configure(*s.tls, o);
        if (c.bad()) {
            huren_dicom__seterr(err, errlen, "TLS towards %s: %s (files %s, %s)", o->called_ae,
                                c.text(), o->tls_ca, set(o->tls_cert) ? o->tls_cert : "-");
            return HUREN_DICOM_EINVAL;
        }
        c = s.secure();
    }
    if (c.good())
        c = s.negotiateAssociation();
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "association with %s at %s:%d: %s", o->called_ae, o->host,
                            o->port, c.text());
        return HUREN_DICOM_EIO;
    }
    return 0;
}

int finish(Scu &s, OFCondition c, const char *op, char *err, size_t errlen)
{
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", op, c.text());
        s.abortAssociation();
        return HUREN_DICOM_EIO;
    }
    s.releaseAssociation();
    return 0;
}

/* The identifier: QueryRetrieveLevel, the keys by their dictionary VR. */
int identifier(huren_dicom_level level, const huren_dicom_element *keys, size_t nkeys,
               DcmDataset &ds, char *err, size_t errlen)
{
    bool ascii = true;
    ds.putAndInsertString(DCM_QueryRetrieveLevel, level_name(level));
    for (size_t i = 0; i < nkeys; i++) {
        DcmTag tag((Uint16)(keys[i].tag >> 16), (Uint16)(keys[i].tag & 0xffff));
        const char *v = keys[i].value ? keys[i].value : "";
        for (const char *p = v; *p; p++)
            ascii = ascii && (unsigned char)*p < 0x80;
        if (ds.putAndInsertString(tag, v).bad()) {
            huren_dicom__seterr(err, errlen, "key (%04x,%04x): cannot be set",
                                (unsigned)(keys[i].tag >> 16), (unsigned)(keys[i].tag & 0xffff));
            return HUREN_DICOM_EINVAL;
        }
    }
    if (!ascii)
        ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    return 0;
}

/* The query's identifier built, the association opened and the accepted context of the
 * query/retrieve model uid found: 0 with *pid, or a negative code (the association released). */
int start_query(Scu &s, const huren_dicom_scu_options *o, const char *op, const char *uid,
                huren_dicom_level level, const huren_dicom_element *keys, size_t nkeys,
                DcmDataset &ds, T_ASC_PresentationContextID *pid, char *err, size_t errlen)
{
    int rc;
    if ((rc = identifier(level, keys, nkeys, ds, err, errlen)) < 0 ||
        (rc = open_assoc(s, o, err, errlen)) < 0)
        return rc;
    *pid = s.findAnyPresentationContextID(uid, "");
    if (!*pid) {
        huren_dicom__seterr(err, errlen, "%s refused %s (%s)", o->called_ae, op,
                            dcmFindNameOfUID(uid, uid));
        s.releaseAssociation();
        return HUREN_DICOM_EIO;
    }
    return 0;
}

const char *model_uid(huren_dicom_model m, char op)
{
    bool study = m == HUREN_DICOM_MODEL_STUDY_ROOT;
    if (op == 'F')
        return study ? UID_FINDStudyRootQueryRetrieveInformationModel
                     : UID_FINDPatientRootQueryRetrieveInformationModel;
    if (op == 'G')
        return study ? UID_GETStudyRootQueryRetrieveInformationModel
                     : UID_GETPatientRootQueryRetrieveInformationModel;
    return study ? UID_MOVEStudyRootQueryRetrieveInformationModel
                 : UID_MOVEPatientRootQueryRetrieveInformationModel;
}

/* Load the instance at path (a range of it when length is set) fully into memory. */
OFCondition load(const char *path, uint64_t offset, uint64_t length, DcmFileFormat &ff)
{
    if (!length)
        return ff.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
    std::vector<char> buf(length);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return EC_InvalidFilename;
    ssize_t got = pread(fd, buf.data(), length, (off_t)offset);
    close(fd);
    if (got != (ssize_t)length)
        return EC_StreamNotifyClient;
    DcmInputBufferStream in;
    in.setBuffer(buf.data(), (offile_off_t)length);
    in.setEos();
    ff.transferInit();
    /* everything read now: the buffer does not outlive this call */
    OFCondition c = ff.read(in, EXS_Unknown, EGL_noChange, (Uint32)-1);
    ff.transferEnd();
    return c;
}

} // namespace

extern "C" int huren_dicom_scu_find(const huren_dicom_scu_options *o, huren_dicom_level level,
                                    const huren_dicom_element *keys, size_t nkeys,
                                    huren_dicom_find_emit emit, void *emit_ctx, uint16_t *status,
                                    char *err, size_t errlen)
{
    int rc = check(o, err, errlen);
    if (rc < 0)
        return rc;
    try {
        Scu s;
        setup(s, o);
        s.emit = emit;
        s.emit_ctx = emit_ctx;
        const char *uid = model_uid(o->model, 'F');
        s.addPresentationContext(uid, plain_syntaxes());
        DcmDataset ds;
        T_ASC_PresentationContextID pid = 0;
        if ((rc = start_query(s, o, "C-FIND", uid, level, keys, nkeys, ds, &pid, err, errlen)) < 0)
            return rc;
        OFCondition c = s.sendFINDRequest(pid, &ds, NULL);
        *status = s.cancelled ? HUREN_DICOM_STATUS_CANCEL : s.last_status;
        return finish(s, c, "C-FIND", err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "C-FIND: %s", e.what());
        return HUREN_DICOM_ERROR;
    }
}

extern "C" int huren_dicom_scu_get(const huren_dicom_scu_options *o, huren_dicom_level level,
                                   const huren_dicom_element *keys, size_t nkeys,
                                   const char *tmp_dir,
                                   uint16_t (*store)(const huren_dicom_store_req *, void *),
                                   void *payload, huren_dicom_scu_result *res, char *err,
                                   size_t errlen)
{
    int rc = check(o, err, errlen);
    if (rc < 0)
        return rc;
    if (!tmp_dir || !store) {
        huren_dicom__seterr(err, errlen, "C-GET: a temp folder and a store handler are needed");
        return HUREN_DICOM_EINVAL;
    }
    try {
        Scu s;
        setup(s, o);
        s.store = store;
        s.payload = payload;
        s.tmp_dir = tmp_dir;
        s.setStorageMode(DCMSCU_STORAGE_DISK);
        const char *uid = model_uid(o->model, 'G');
        s.addPresentationContext(uid, plain_syntaxes());
        /* 127 contexts at most in all: the common storage classes */
        for (int i = 0; i < numberOfDcmShortSCUStorageSOPClassUIDs && i < 120; i++)
            s.addPresentationContext(dcmShortSCUStorageSOPClassUIDs[i], plain_syntaxes(),
                                     ASC_SC_ROLE_SCP);
        DcmDataset ds;
        T_ASC_PresentationContextID pid = 0;
        if ((rc = start_query(s, o, "C-GET", uid, level, keys, nkeys, ds, &pid, err, errlen)) < 0)
            return rc;
        OFCondition c = s.sendCGETRequest(pid, &ds, NULL);
        *res = s.res;
        rc = finish(s, c, "C-GET", err, errlen);
        if (rc == 0 && !s.store_err.empty())
            huren_dicom__seterr(err, errlen, "%s", s.store_err.c_str());
        return rc;
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "C-GET: %s", e.what());
        return HUREN_DICOM_ERROR;
    }
}

extern "C" int huren_dicom_scu_move(const huren_dicom_scu_options *o, huren_dicom_level level,
                                    const huren_dicom_element *keys, size_t nkeys,
                                    const char *move_destination, huren_dicom_scu_result *res,
                                    char *err, size_t errlen)
{
    int rc = check(o, err, errlen);
    if (rc < 0)
        return rc;
    if (!move_destination || !*move_destination) {
        huren_dicom__seterr(err, errlen, "C-MOVE: no destination");
        return HUREN_DICOM_EINVAL;
    }
    try {
        Scu s;
        setup(s, o);
        const char *uid = model_uid(o->model, 'M');
        s.addPresentationContext(uid, plain_syntaxes());
        DcmDataset ds;
        T_ASC_PresentationContextID pid = 0;
        if ((rc = start_query(s, o, "C-MOVE", uid, level, keys, nkeys, ds, &pid, err, errlen)) < 0)
            return rc;
        OFCondition c = s.sendMOVERequest(pid, move_destination, &ds, NULL);
        *res = s.res;
        return finish(s, c, "C-MOVE", err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "C-MOVE: %s", e.what());
        return HUREN_DICOM_ERROR;
    }
}

extern "C" int huren_dicom_scu_store(const huren_dicom_scu_options *o, const char *path,
                                     uint64_t offset, uint64_t length, uint16_t *status, char *err,
                                     size_t errlen)
{
    int rc = check(o, err, errlen);
    if (rc < 0)
        return rc;
    try {
        DcmFileFormat ff;
        OFCondition c = load(path, offset, length, ff);
        OFString sop_class;
        if (c.good())
            ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
        if (c.bad() || sop_class.empty()) {
            huren_dicom__seterr(err, errlen, "C-STORE: cannot read the instance: %s",
                                c.bad() ? c.text() : "no SOP Class UID");
            return HUREN_DICOM_ECORRUPT;
        }
        E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
        DcmXfer x(xfer);
        Scu s;
        setup(s, o);
        s.setDatasetConversionMode(OFTrue); /* uncompressed: sent in what is accepted */
        OFList<OFString> ts;
        if (!x.isEncapsulated()) {
            ts = plain_syntaxes();
        } else {
            ts.push_back(x.getXferID());
            s.addPresentationContext(sop_class, ts);
            ts.clear();
            ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        }
        s.addPresentationContext(sop_class, ts);
        if ((rc = open_assoc(s, o, err, errlen)) < 0)
            return rc;
        T_ASC_PresentationContextID pid = s.findPresentationContextID(sop_class, x.getXferID());
        if (!pid)
            pid = s.findAnyPresentationContextID(sop_class, x.getXferID());
        if (!pid) {
            huren_dicom__seterr(err, errlen, "%s accepted no context for %s", o->called_ae,
                                sop_class.c_str());
            s.releaseAssociation();
            return HUREN_DICOM_EIO;
        }
        Uint16 st = 0;
        c = s.sendSTORERequest(pid, "", ff.getDataset(), st);
        *status = st;
        return finish(s, c, "C-STORE", err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "C-STORE: %s", e.what());
        return HUREN_DICOM_ERROR;
    }
}

/* The contexts of one instance: its own transfer syntax and the uncompressed ones. */
static void store_contexts(Scu &s, const OFString &sop_class, E_TransferSyntax xfer)
{
    DcmXfer x(xfer);
    OFList<OFString> ts;
    if (!x.isEncapsulated()) {
        ts = plain_syntaxes();
    } else {
        ts.push_back(x.getXferID());
        s.addPresentationContext(sop_class, ts);
        ts.clear();
        ts.push_back(UID_LittleEndianExplicitTransferSyntax);
    }
    s.addPresentationContext(sop_class, ts);
}

/* One instance of a batch over the open association: its status, unchanged when not sent. */
static OFCondition store_one(Scu &s, const huren_dicom_store_item &it, uint16_t *status)
{
    DcmFileFormat ff;
    OFCondition c = load(it.path, it.offset, it.length, ff);
    OFString sop_class;
    if (c.good())
        ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
    if (c.bad() || sop_class.empty())
        return EC_IllegalCall; /* unreadable: this one fails, the others go */
    E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
    T_ASC_PresentationContextID pid =
        s.findPresentationContextID(sop_class, DcmXfer(xfer).getXferID());
    if (!pid)
        pid = s.findAnyPresentationContextID(sop_class, DcmXfer(xfer).getXferID());
    if (!pid)
        return EC_IllegalCall;
    Uint16 st = 0;
    c = s.sendSTORERequest(pid, "", ff.getDataset(), st);
    *status = st;
    return c;
}

extern "C" int huren_dicom_scu_store_batch(const huren_dicom_scu_options *o,
                                           const huren_dicom_store_item *items, size_t n,
                                           uint16_t *statuses, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        statuses[i] = HUREN_DICOM_STATUS_NOT_SENT;
    int rc = check(o, err, errlen);
    if (rc < 0)
        return rc;
    try {
        Scu s;
        setup(s, o);
        s.setDatasetConversionMode(OFTrue);
        OFList<OFString> seen; /* SOP class + syntax pairs proposed already */
        for (size_t i = 0; i < n; i++) {
            DcmFileFormat ff;
            OFString sop_class;
            if (load(items[i].path, items[i].offset, items[i].length, ff).bad() ||
                ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class).bad())
                continue;
            E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
            OFString key = sop_class + "/" + DcmXfer(xfer).getXferID();
            bool dup = false;
            for (const OFString &k : seen)
                dup = dup || k == key;
            if (dup || seen.size() >= 60) /* at most 128 contexts in an association */
                continue;
            seen.push_back(key);
            store_contexts(s, sop_class, xfer);
        }
        if ((rc = open_assoc(s, o, err, errlen)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            OFCondition c = store_one(s, items[i], &statuses[i]);
            if (c.bad() && c != EC_IllegalCall)
                return finish(s, c, "C-STORE", err, errlen); /* the association is lost */
        }
        s.releaseAssociation();
        return 0;
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "C-STORE: %s", e.what());
        return HUREN_DICOM_ERROR;
    }
}
