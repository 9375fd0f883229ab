/* store.cpp: the C-STORE service. The dataset streams straight into the association's temp
 * file in tmp_dir (never held in memory; reused from one C-STORE to the next unless adopted),
 * is checked against the request (same SOP class and instance, valid study/series/instance
 * UIDs), parsed to UTF-8 and handed to the store handler. */
#include "dicom_int.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "dcmtk/dcmdata/dcdeftag.h"

struct store_ctx {
    huren_dicom__assoc *a;
    uint16_t status;
};

#define TAG_SOP_CLASS HUREN_DICOM_TAG(0x0008, 0x0016)
#define TAG_SOP_INSTANCE HUREN_DICOM_TAG(0x0008, 0x0018)
#define TAG_STUDY HUREN_DICOM_TAG(0x0020, 0x000D)
#define TAG_SERIES HUREN_DICOM_TAG(0x0020, 0x000E)

/* a (already trimmed) equals b but for the padding some senders leave in the command */
static bool same_uid(const char *a, const char *b)
{
    while (*b == ' ')
        b++;
    size_t n = strlen(a);
    if (strncmp(a, b, n) != 0)
        return false;
    for (b += n; *b == ' '; b++)
        ;
    return *b == '\0';
}

static uint16_t check_and_hand_over(huren_dicom__assoc *a, T_DIMSE_C_StoreRQ *req, const char *path)
{
    huren_dicom_scp *scp = a->scp;
    char err[512] = "";
    huren_dicom_file *f = nullptr;
    int rc = huren_dicom_file_parse(path, &f, err, sizeof(err));
    if (rc) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "C-STORE %s from %s refused: %s",
                          req->AffectedSOPInstanceUID, a->calling_ae.c_str(), err);
        return rc == HUREN_DICOM_ETOODEEP ? STATUS_STORE_Error_DataSetDoesNotMatchSOPClass
                                          : STATUS_STORE_Error_CannotUnderstand;
    }
    std::unique_ptr<huren_dicom_file, void (*)(huren_dicom_file *)> guard(f, huren_dicom_file_free);
    const char *cls = huren_dicom_file_value(f, TAG_SOP_CLASS);
    const char *inst = huren_dicom_file_value(f, TAG_SOP_INSTANCE);
    const char *study = huren_dicom_file_value(f, TAG_STUDY);
    const char *series = huren_dicom_file_value(f, TAG_SERIES);
    /* A sender that could not read the dataset's own UID (DCMTK's dcmsend takes the first byte of
     * a UID sent with VR UN, "31") names no instance at all: as storescp does, the dataset's
     * UID is the instance's. Two valid UIDs that differ are refused: the sender believes it is
     * sending another instance. */
    char req_uid[sizeof req->AffectedSOPInstanceUID];
    OFStandard::strlcpy(req_uid, req->AffectedSOPInstanceUID, sizeof req_uid);
    for (size_t n = strlen(req_uid); n > 0 && (req_uid[n - 1] == ' ' || req_uid[n - 1] == 0);)
        req_uid[--n] = 0;
    bool req_named = huren_dicom_uid_valid(req_uid) && strchr(req_uid, '.') != nullptr;
    if (inst && !req_named && huren_dicom_uid_valid(inst))
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "C-STORE from %s: the request names no valid SOP instance UID (\"%s\"); "
                          "stored by the dataset's, %s",
                          a->calling_ae.c_str(), req_uid, inst);
    else if (!cls || !inst || !same_uid(inst, req->AffectedSOPInstanceUID)) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "C-STORE %s from %s: the dataset's SOP instance UID (%s) differs from "
                          "the request's",
                          req->AffectedSOPInstanceUID, a->calling_ae.c_str(),
                          inst ? inst : "missing");
        return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
    }
    /* Senders take the request's class from the meta header, which some files contradict; as
     * storescp does we store the dataset, indexed by the class it names. */
    if (!same_uid(cls, req->AffectedSOPClassUID))
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "C-STORE %s from %s: the dataset's SOP class %s differs from the "
                          "request's %s; stored as %s",
                          inst, a->calling_ae.c_str(), cls, req->AffectedSOPClassUID, cls);
    if (!huren_dicom_uid_valid(cls) || !huren_dicom_uid_valid(inst) ||
        !huren_dicom_uid_valid(study) || !huren_dicom_uid_valid(series)) {
        huren_dicom__logf(
            &scp->h, HUREN_DICOM_LOG_WARN,
            "C-STORE %s from %s: study, series or SOP instance UID missing or invalid",
            req->AffectedSOPInstanceUID, a->calling_ae.c_str());
        return STATUS_STORE_Error_CannotUnderstand;
    }
    if (huren_dicom_file_charset_warning(f))
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "C-STORE %s: %s", inst,
                          huren_dicom_file_charset_warning(f));
    huren_dicom_store_req sr;
    size_t n = 0;
    sr.peer = &a->peer;
    sr.tmp_path = path;
    sr.sop_class_uid = cls;
    sr.sop_instance_uid = inst;
    sr.transfer_syntax_uid = huren_dicom_file_transfer_syntax(f);
    sr.elements = huren_dicom_file_elements(f, &n);
    sr.nelements = n;
    return scp->h.store(&sr, scp->h.payload);
}

static void store_cb(void *data, T_DIMSE_StoreProgress *progress, T_DIMSE_C_StoreRQ *req,
                     char *filename, DcmDataset **, T_DIMSE_C_StoreRSP *rsp, DcmDataset **)
{
    if (progress->state != DIMSE_StoreEnd)
        return;
    store_ctx *ctx = (store_ctx *)data;
    if (ctx->status == STATUS_Success) {
        try {
            ctx->status = check_and_hand_over(ctx->a, req, filename);
        } catch (...) {
            ctx->status = STATUS_STORE_Refused_OutOfResources;
        }
    }
    rsp->DimseStatus = ctx->status;
}

OFCondition huren_dicom__store(huren_dicom__assoc *a, T_DIMSE_C_StoreRQ *req,
                               T_ASC_PresentationContextID pres)
{
    huren_dicom_scp *scp = a->scp;
    store_ctx ctx = {a, STATUS_Success};
    const char *target = NULL_DEVICE_NAME; /* the dataset must still be read off the wire */
    if (a->store_tmp.empty()) {
        std::string path = scp->tmp_dir + "/huren-store-XXXXXX";
        std::vector<char> buf(path.begin(), path.end());
        buf.push_back('\0');
        int fd = mkstemp(buf.data());
        if (fd >= 0) {
            close(fd);
            a->store_tmp = buf.data();
        } else {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_ERROR,
                              "C-STORE: cannot create a file in %s: %s", scp->tmp_dir.c_str(),
                              strerror(errno));
            ctx.status = STATUS_STORE_Refused_OutOfResources;
        }
    }
    if (!a->store_tmp.empty())
        target = a->store_tmp.c_str(); /* truncated and rewritten: no new file per instance */
    OFCondition cond = DIMSE_storeProvider(a->assoc, pres, req, target, OFTrue, NULL, store_cb,
                                           &ctx, DIMSE_NONBLOCKING, scp->opts.dimse_timeout_s);
    if (!a->store_tmp.empty() && access(a->store_tmp.c_str(), F_OK) != 0)
        a->store_tmp.clear(); /* the handler adopted the file: make a new one next time */
    if (cond.bad())
        ctx.status = STATUS_STORE_Refused_OutOfResources;
    if (scp->h.event)
        scp->h.event("C-STORE", &a->peer, ctx.status, req->AffectedSOPInstanceUID, scp->h.payload);
    return cond;
}
