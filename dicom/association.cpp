/* association.cpp: one association from A-ASSOCIATE-RQ to release: AE title checks, the
 * negotiation of presentation contexts (Verification, every storage SOP class and transfer
 * syntax DCMTK knows, Q/R FIND/MOVE/GET, SCP role for C-GET) and the DIMSE command loop. */
#include "dicom_int.h"

#include <cstring>

#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"

static const char *const qr_classes[] = {
    UID_FINDPatientRootQueryRetrieveInformationModel,
    UID_MOVEPatientRootQueryRetrieveInformationModel,
    UID_GETPatientRootQueryRetrieveInformationModel,
    UID_FINDStudyRootQueryRetrieveInformationModel,
    UID_MOVEStudyRootQueryRetrieveInformationModel,
    UID_GETStudyRootQueryRetrieveInformationModel,
};

bool huren_dicom__is_qr_class(const char *uid)
{
    for (const char *c : qr_classes)
        if (strcmp(uid, c) == 0)
            return true;
    return false;
}

static bool uncompressed_ts(const char *ts)
{
    return strcmp(ts, UID_LittleEndianExplicitTransferSyntax) == 0 ||
           strcmp(ts, UID_LittleEndianImplicitTransferSyntax) == 0 ||
           strcmp(ts, UID_BigEndianExplicitTransferSyntax) == 0;
}

/* A storage SOP class: one DCMTK lists, one it names "...Storage" (private classes it knows
 * but does not list), or with accept_unknown a well-formed UID it does not know at all (new
 * and private storage classes; the services it knows and we do not serve stay refused). */
static bool storage_class(const char *uid, bool accept_unknown)
{
    if (dcmIsaStorageSOPClassUID(uid, ESSC_All))
        return true;
    const char *name = dcmFindNameOfUID(uid);
    if (!name)
        return accept_unknown && huren_dicom_uid_valid(uid);
    size_t n = strlen(name);
    return n > 7 && strcmp(name + n - 7, "Storage") == 0;
}

/* A refused abstract syntax is logged with its reason when the reason is the configuration:
 * a well-formed UID DCMTK does not know, refused because accept_unknown_sop_classes = no. */
static void refuse_class(huren_dicom__assoc *a, T_ASC_PresentationContext *pc, bool accept_unknown)
{
    const char *uid = pc->abstractSyntax;
    if (!accept_unknown && !dcmFindNameOfUID(uid) && huren_dicom_uid_valid(uid))
        huren_dicom__logf(&a->scp->h, HUREN_DICOM_LOG_WARN,
                          "association from %s (%s): presentation context %d refused: SOP class "
                          "%s is unknown and accept_unknown_sop_classes = no",
                          a->calling_ae.c_str(), a->address.c_str(), (int)pc->presentationContextID,
                          uid);
    (void)ASC_refusePresentationContext(a->assoc->params, pc->presentationContextID,
                                        ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
}

/* Accept what we serve, each with the first transfer syntax the requestor proposed that we
 * can handle: any DCMTK knows for storage (stored as received), uncompressed for the rest. */
static int negotiate(huren_dicom__assoc *a, bool accept_unknown)
{
    T_ASC_Parameters *params = a->assoc->params;
    int n = ASC_countPresentationContexts(params);
    for (int i = 0; i < n; i++) {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(params, i, &pc).bad())
            continue;
        bool other = strcmp(pc.abstractSyntax, UID_VerificationSOPClass) == 0 ||
                     huren_dicom__is_qr_class(pc.abstractSyntax);
        bool storage = !other && storage_class(pc.abstractSyntax, accept_unknown);
        if (!storage && !other) {
            refuse_class(a, &pc, accept_unknown);
            continue;
        }
        const char *ts = nullptr;
        for (int t = 0; t < (int)pc.transferSyntaxCount && !ts; t++) {
            const char *cand = pc.proposedTransferSyntaxes[t];
            if (storage ? DcmXfer(cand).getXfer() != EXS_Unknown : uncompressed_ts(cand))
                ts = cand;
        }
        if (!ts) {
            (void)ASC_refusePresentationContext(params, pc.presentationContextID,
                                                ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
            continue;
        }
        /* a C-GET requestor proposes the SCP role for the storage classes it will receive */
        T_ASC_SC_ROLE role = storage ? pc.proposedRole : ASC_SC_ROLE_DEFAULT;
        (void)ASC_acceptPresentationContext(params, pc.presentationContextID, ts, role);
    }
    return ASC_countAcceptedPresentationContexts(params);
}

static void reject(T_ASC_Association *assoc, T_ASC_RejectParametersReason reason)
{
    T_ASC_RejectParameters rej = {ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, reason};
    (void)ASC_rejectAssociation(assoc, &rej);
}

bool huren_dicom__assoc_admit(huren_dicom__assoc *a)
{
    huren_dicom_scp *scp = a->scp;
    char calling[65] = "", called[65] = "";
    (void)ASC_getAPTitles(a->assoc->params, calling, sizeof(calling), called, sizeof(called), NULL,
                          0);
    a->calling_ae = calling;
    a->called_ae = called;
    a->peer.calling_ae = a->calling_ae.c_str();
    a->peer.called_ae = a->called_ae.c_str();
    a->peer.address = a->address.c_str();
    a->peer.tls_subject = a->tls ? a->tls_subject.c_str() : NULL;

    if (a->called_ae != scp->aet) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "association from %s (%s) refused: called AE title \"%s\" not recognized",
                          calling, a->address.c_str(), called);
        reject(a->assoc, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED);
        scp->stats.refused_ae++;
        return false;
    }
    if (!scp->allow_any) {
        bool ok = false;
        for (const std::string &ae : scp->allowed)
            ok = ok || ae == a->calling_ae;
        if (!ok) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                              "association from %s (%s) refused: calling AE title not allowed",
                              calling, a->address.c_str());
            reject(a->assoc, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
            scp->stats.refused_ae++;
            return false;
        }
    }
    char why[256] = "";
    if (scp->h.admit && scp->h.admit(&a->peer, why, sizeof why, scp->h.payload) != 0) {
        huren_dicom__logf(
            &scp->h, HUREN_DICOM_LOG_WARN, "association from %s (%s%s%s) refused: %s", calling,
            a->address.c_str(), a->tls ? ", TLS " : "",
            a->tls ? (a->tls_subject.empty() ? "without certificate" : a->tls_subject.c_str()) : "",
            why[0] ? why : "not admitted");
        reject(a->assoc, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        scp->stats.refused_ae++;
        return false;
    }
    if (negotiate(a, scp->opts.accept_unknown_sop_classes != 0) == 0) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "association from %s (%s) refused: no presentation context accepted",
                          calling, a->address.c_str());
        reject(a->assoc, ASC_REASON_SU_NOREASON);
        scp->stats.refused_other++;
        return false;
    }
    OFCondition cond = ASC_acknowledgeAssociation(a->assoc);
    if (cond.bad()) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "association from %s: %s",
                          a->address.c_str(), cond.text());
        return false;
    }
    scp->total++;
    huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_INFO, "association from %s (%s) to %s accepted%s%s",
                      calling, a->address.c_str(), called,
                      !a->tls                  ? ""
                      : a->tls_subject.empty() ? " over TLS without client certificate"
                                               : " over TLS as ",
                      a->tls ? a->tls_subject.c_str() : "");
    return true;
}

static OFCondition dispatch(huren_dicom__assoc *a, T_DIMSE_Message &msg,
                            T_ASC_PresentationContextID pres)
{
    huren_dicom_scp *scp = a->scp;
    switch (msg.CommandField) {
    case DIMSE_C_ECHO_RQ: {
        OFCondition c =
            DIMSE_sendEchoResponse(a->assoc, pres, &msg.msg.CEchoRQ, STATUS_Success, NULL);
        if (scp->h.event)
            scp->h.event("C-ECHO", &a->peer, STATUS_Success, "", scp->h.payload);
        return c;
    }
    case DIMSE_C_STORE_RQ:
        return huren_dicom__store(a, &msg.msg.CStoreRQ, pres);
    case DIMSE_C_FIND_RQ:
        return huren_dicom__find(a, &msg.msg.CFindRQ, pres);
    case DIMSE_C_MOVE_RQ:
        return huren_dicom__move(a, &msg.msg.CMoveRQ, pres);
    case DIMSE_C_GET_RQ:
        return huren_dicom__get(a, &msg.msg.CGetRQ, pres);
    case DIMSE_C_CANCEL_RQ:
        return EC_Normal; /* arrived after its operation ended */
    default:
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "association from %s: unsupported DIMSE command 0x%04x, aborting",
                          a->address.c_str(), (unsigned)msg.CommandField);
        return DIMSE_BADCOMMANDTYPE;
    }
}

void huren_dicom__assoc_serve(huren_dicom__assoc *a)
{
    huren_dicom_scp *scp = a->scp;
    int idle = 0;
    for (;;) {
        if (scp->aborting) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                              "association from %s aborted: SCP stopping", a->address.c_str());
            (void)ASC_abortAssociation(a->assoc);
            return;
        }
        T_ASC_PresentationContextID pres = 0;
        T_DIMSE_Message msg;
        memset(&msg, 0, sizeof(msg));
        /* poll in one-second steps so that stop and the idle timeout are noticed */
        OFCondition cond = DIMSE_receiveCommand(a->assoc, DIMSE_NONBLOCKING, 1, &pres, &msg, NULL);
        if (cond == DIMSE_NODATAAVAILABLE) {
            if (++idle >= scp->opts.dimse_timeout_s) {
                huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                                  "association from %s aborted: idle for %d s", a->address.c_str(),
                                  idle);
                (void)ASC_abortAssociation(a->assoc);
                return;
            }
            continue;
        }
        idle = 0;
        if (cond == DUL_PEERREQUESTEDRELEASE) {
            (void)ASC_acknowledgeRelease(a->assoc);
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_INFO,
                              "association from %s (%s) released after %lu requests",
                              a->calling_ae.c_str(), a->address.c_str(), a->requests);
            return;
        }
        if (cond == DUL_PEERABORTEDASSOCIATION) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_INFO, "association from %s aborted by peer",
                              a->address.c_str());
            return;
        }
        if (cond.good()) {
            cond = dispatch(a, msg, pres);
            a->requests++;
        }
        if (cond.bad()) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "association from %s: %s, aborting",
                              a->address.c_str(), cond.text());
            (void)ASC_abortAssociation(a->assoc);
            return;
        }
    }
}
