/* query.cpp: the C-FIND service and the query identifier shared with C-MOVE/C-GET. The find
 * handler pushes matches through emit; each becomes a PENDING response carrying exactly the
 * requested keys in UTF-8, and a C-CANCEL from the requestor is seen between two matches. */
#include "dicom_int.h"

#include <cstring>

#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcuid.h"

#define TAG_QR_LEVEL HUREN_DICOM_TAG(0x0008, 0x0052)

namespace
{
/* Where an identifier's PDVs go: memory, up to a limit (beyond it the rest is read and
 * dropped, so the request can still be answered). */
struct BoundedConsumer : DcmConsumer {
    std::vector<unsigned char> bytes;
    size_t max = 0;
    bool overflow = false;
    OFBool good() const override
    {
        return OFTrue;
    }
    OFCondition status() const override
    {
        return EC_Normal;
    }
    OFBool isFlushed() const override
    {
        return OFTrue;
    }
    offile_off_t avail() const override
    {
        return 1 << 30;
    }
    offile_off_t write(const void *buf, offile_off_t len) override
    {
        if (!overflow && bytes.size() + (size_t)len <= max)
            bytes.insert(bytes.end(), (const unsigned char *)buf, (const unsigned char *)buf + len);
        else
            overflow = true;
        return len;
    }
    void flush() override {}
};

struct ConsumerHolder {
    BoundedConsumer c;
};

struct BoundedStream : private ConsumerHolder, public DcmOutputStream {
    explicit BoundedStream(size_t max) : ConsumerHolder(), DcmOutputStream(&c)
    {
        c.max = max;
    }
    BoundedConsumer &consumer()
    {
        return c;
    }
};
} // namespace

OFCondition huren_dicom__receive_identifier(huren_dicom__assoc *a, const char *op,
                                            std::unique_ptr<DcmDataset> &out, uint16_t *refusal)
{
    huren_dicom_scp *scp = a->scp;
    *refusal = 0;
    BoundedStream stream(scp->opts.max_identifier);
    T_ASC_PresentationContextID pres = 0;
    /* the raw bytes, not DCMTK's parser: their nesting is checked first */
    OFCondition cond = DIMSE_receiveDataSetInFile(
        a->assoc, DIMSE_NONBLOCKING, scp->opts.dimse_timeout_s, &pres, &stream, NULL, NULL);
    if (cond.bad())
        return cond;
    BoundedConsumer &c = stream.consumer();
    if (c.overflow) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "%s from %s (%s) refused: identifier larger than %u bytes", op,
                          a->calling_ae.c_str(), a->address.c_str(), scp->opts.max_identifier);
        *refusal = HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
        scp->stats.identifiers_refused++;
        return EC_Normal;
    }
    T_ASC_PresentationContext pc;
    const char *ts = UID_LittleEndianImplicitTransferSyntax;
    if (ASC_findAcceptedPresentationContext(a->assoc->params, pres, &pc).good())
        ts = pc.acceptedTransferSyntax;
    char why[256] = "";
    int rc = huren_dicom_nesting_scan(c.bytes.data(), c.bytes.size(), ts,
                                      huren_dicom_max_sequence_depth(), NULL, why, sizeof(why));
    if (rc == 0) {
        std::unique_ptr<DcmDataset> ds(new DcmDataset);
        DcmInputBufferStream in;
        in.setBuffer(c.bytes.data(), (offile_off_t)c.bytes.size());
        in.setEos();
        ds->transferInit();
        OFCondition pc_cond = ds->read(in, DcmXfer(ts).getXfer(), EGL_noChange);
        ds->transferEnd();
        if (pc_cond.good()) {
            out = std::move(ds);
            return EC_Normal;
        }
        snprintf(why, sizeof(why), "%s", pc_cond.text());
        rc = HUREN_DICOM_ECORRUPT;
    }
    huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "%s from %s (%s) refused: identifier %s", op,
                      a->calling_ae.c_str(), a->address.c_str(), why);
    *refusal = rc == HUREN_DICOM_ETOODEEP ? HUREN_DICOM_STATUS_DATASET_MISMATCH
                                          : HUREN_DICOM_STATUS_CANNOT_UNDERSTAND;
    scp->stats.identifiers_refused++;
    return EC_Normal;
}

uint16_t huren_dicom__query_build(huren_dicom__assoc *a, const char *sop_class, DcmDataset *id,
                                  huren_dicom__query &qq)
{
    huren_dicom_scp *scp = a->scp;
    bool patient_root = strcmp(sop_class, UID_FINDPatientRootQueryRetrieveInformationModel) == 0 ||
                        strcmp(sop_class, UID_MOVEPatientRootQueryRetrieveInformationModel) == 0 ||
                        strcmp(sop_class, UID_GETPatientRootQueryRetrieveInformationModel) == 0;
    qq.q.model = patient_root ? HUREN_DICOM_MODEL_PATIENT_ROOT : HUREN_DICOM_MODEL_STUDY_ROOT;
    OFString level;
    if (!id || id->findAndGetOFString(DCM_QueryRetrieveLevel, level).bad()) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "query from %s: no QueryRetrieveLevel",
                          a->calling_ae.c_str());
        return HUREN_DICOM_STATUS_DATASET_MISMATCH;
    }
    if (level == "PATIENT" && patient_root)
        qq.q.level = HUREN_DICOM_LEVEL_PATIENT;
    else if (level == "STUDY")
        qq.q.level = HUREN_DICOM_LEVEL_STUDY;
    else if (level == "SERIES")
        qq.q.level = HUREN_DICOM_LEVEL_SERIES;
    else if (level == "IMAGE")
        qq.q.level = HUREN_DICOM_LEVEL_IMAGE;
    else {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "query from %s: QueryRetrieveLevel \"%.16s\" invalid for this model",
                          a->calling_ae.c_str(), level.c_str());
        return HUREN_DICOM_STATUS_DATASET_MISMATCH;
    }
    qq.level_str = level.c_str();

    huren_dicom__elements all;
    std::string warn;
    huren_dicom__collect(id, true, all, warn);
    if (!warn.empty())
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "query from %s: %s", a->calling_ae.c_str(),
                          warn.c_str());
    for (size_t i = 0; i < all.v.size(); i++)
        if (all.v[i].tag != TAG_QR_LEVEL)
            qq.keys.add(all.v[i].tag, all.v[i].vr, all.values[i]);
    qq.keys.finish();
    qq.q.peer = &a->peer;
    qq.q.keys = qq.keys.v.data();
    qq.q.nkeys = qq.keys.v.size();
    qq.q.move_destination = NULL;
    return 0;
}

struct find_ctx {
    huren_dicom__assoc *a;
    T_DIMSE_C_FindRQ *req;
    T_ASC_PresentationContextID pres;
    DcmDataset *id; /* the request identifier: which keys to answer */
    huren_dicom__query *qq;
    bool cancelled, send_failed;
    unsigned matches;
};

/* The response identifier: every requested key, valued from elems where present. */
static void build_response(find_ctx *fc, const huren_dicom_element *elems, size_t n,
                           DcmDataset &rsp)
{
    unsigned long card = fc->id->card();
    for (unsigned long i = 0; i < card; i++) {
        DcmElement *el = fc->id->getElement(i);
        if (!el)
            continue;
        const DcmTag &t = el->getTag();
        if (t == DCM_QueryRetrieveLevel || t == DCM_SpecificCharacterSet || t.getGroup() == 0x0002)
            continue;
        if (el->ident() == EVR_SQ) {
            (void)rsp.insert(new DcmSequenceOfItems(t)); /* asked for; we return it empty */
            continue;
        }
        uint32_t tag = ((uint32_t)t.getGroup() << 16) | t.getElement();
        const char *v = huren_dicom_elements_find(elems, n, tag);
        DcmTag rt(t.getGroup(), t.getElement(), el->getVR());
        (void)rsp.putAndInsertString(rt, v ? v : "");
    }
    (void)rsp.putAndInsertString(DCM_QueryRetrieveLevel, fc->qq->level_str.c_str());
    (void)rsp.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
}

static int emit(void *ctx, const huren_dicom_element *elems, size_t n)
{
    find_ctx *fc = (find_ctx *)ctx;
    if (fc->cancelled || fc->send_failed)
        return 1;
    try {
        DcmDataset rspid;
        build_response(fc, elems, n, rspid);
        T_DIMSE_C_FindRSP rsp;
        memset(&rsp, 0, sizeof(rsp));
        rsp.MessageIDBeingRespondedTo = fc->req->MessageID;
        OFStandard::strlcpy(rsp.AffectedSOPClassUID, fc->req->AffectedSOPClassUID,
                            sizeof(rsp.AffectedSOPClassUID));
        rsp.DimseStatus = STATUS_FIND_Pending_MatchesAreContinuing;
        rsp.DataSetType = DIMSE_DATASET_PRESENT;
        rsp.opts = O_FIND_AFFECTEDSOPCLASSUID;
        OFCondition c = DIMSE_sendFindResponse(fc->a->assoc, fc->pres, fc->req, &rsp, &rspid, NULL);
        if (c.bad()) {
            fc->send_failed = true;
            return 1;
        }
        fc->matches++;
        if (DIMSE_checkForCancelRQ(fc->a->assoc, fc->pres, fc->req->MessageID).good()) {
            fc->cancelled = true;
            return 1;
        }
    } catch (...) {
        fc->send_failed = true;
        return 1;
    }
    return 0;
}

OFCondition huren_dicom__find(huren_dicom__assoc *a, T_DIMSE_C_FindRQ *req,
                              T_ASC_PresentationContextID pres)
{
    huren_dicom_scp *scp = a->scp;
    std::unique_ptr<DcmDataset> id;
    uint16_t status = 0;
    OFCondition cond = huren_dicom__receive_identifier(a, "C-FIND", id, &status);
    if (cond.bad())
        return cond;

    huren_dicom__query qq;
    find_ctx fc = {a, req, pres, id.get(), &qq, false, false, 0};
    if (status == 0)
        status = huren_dicom__query_build(a, req->AffectedSOPClassUID, id.get(), qq);
    if (status == 0)
        status = scp->h.find(&qq.q, emit, &fc, scp->h.payload);
    if (fc.send_failed)
        return DIMSE_SENDFAILED;
    if (fc.cancelled)
        status = HUREN_DICOM_STATUS_CANCEL;

    T_DIMSE_C_FindRSP rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.MessageIDBeingRespondedTo = req->MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req->AffectedSOPClassUID,
                        sizeof(rsp.AffectedSOPClassUID));
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    rsp.opts = O_FIND_AFFECTEDSOPCLASSUID;
    cond = DIMSE_sendFindResponse(a->assoc, pres, req, &rsp, NULL, NULL);
    huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_DEBUG, "C-FIND %s from %s: %u matches, %s",
                      qq.level_str.c_str(), a->calling_ae.c_str(), fc.matches,
                      huren_dicom_status_str(status));
    if (scp->h.event)
        scp->h.event("C-FIND", &a->peer, status, qq.level_str.c_str(), scp->h.payload);
    return cond;
}
