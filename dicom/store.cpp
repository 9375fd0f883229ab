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
    if (!cls || !inst || strcmp(cls, req->AffectedSOPClassUID) != 0 ||
        strcmp(inst, req->AffectedSOPInstanceUID) != 0) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "C-STORE %s from %s: dataset SOP class/instance differ from the request",
                          req->AffectedSOPInstanceUID, a->calling_ae.c_str());
        return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
    }
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
