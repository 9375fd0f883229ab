/* query.cpp: the C-FIND service and the query identifier shared with C-MOVE/C-GET. The find
 * handler pushes matches through emit; each becomes a PENDING response carrying exactly the
 * requested keys in UTF-8, and a C-CANCEL from the requestor is seen between two matches. */
#include "dicom_int.h"

#include <cstring>

#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcuid.h"

#define TAG_QR_LEVEL HUREN_DICOM_TAG(0x0008, 0x0052)

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
    DcmDataset *id = nullptr;
    T_ASC_PresentationContextID data_pres = 0;
    OFCondition cond = DIMSE_receiveDataSetInMemory(
        a->assoc, DIMSE_NONBLOCKING, scp->opts.dimse_timeout_s, &data_pres, &id, NULL, NULL);
    if (cond.bad())
        return cond;
    std::unique_ptr<DcmDataset> guard(id);

    huren_dicom__query qq;
    find_ctx fc = {a, req, pres, id, &qq, false, false, 0};
    uint16_t status = huren_dicom__query_build(a, req->AffectedSOPClassUID, id, qq);
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
