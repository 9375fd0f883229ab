/* retrieve.cpp: the C-MOVE and C-GET services and the retrieve list the handler fills. C-MOVE
 * sends the files over a sub-association to the destination the handler resolves, C-GET back
 * over the requestor's own association (storage contexts it proposed with the SCP role). */
#include "dicom_int.h"

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/diutil.h"

/* ---- the list ------------------------------------------------------------------------------ */

extern "C" int huren_dicom_retrieve_list_add(huren_dicom_retrieve_list *l, const char *path,
                                             const char *sop_class_uid,
                                             const char *sop_instance_uid,
                                             const char *transfer_syntax_uid)
{
    return huren_dicom_retrieve_list_add_range(l, path, 0, 0, sop_class_uid, sop_instance_uid,
                                               transfer_syntax_uid);
}

extern "C" int huren_dicom_retrieve_list_add_range(huren_dicom_retrieve_list *l, const char *path,
                                                   uint64_t offset, uint64_t length,
                                                   const char *sop_class_uid,
                                                   const char *sop_instance_uid,
                                                   const char *transfer_syntax_uid)
{
    if (!l || !path || !sop_class_uid || !sop_instance_uid)
        return HUREN_DICOM_ERROR;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->items, cap * sizeof(*l->items));
        if (!p)
            return HUREN_DICOM_ERROR;
        l->items = (huren_dicom_retrieve_item *)p;
        l->cap = cap;
    }
    huren_dicom_retrieve_item *it = &l->items[l->n];
    it->offset = offset;
    it->length = length;
    it->coerce_patient_id = it->coerce_issuer = nullptr;
    it->path = strdup(path);
    it->sop_class_uid = strdup(sop_class_uid);
    it->sop_instance_uid = strdup(sop_instance_uid);
    it->transfer_syntax_uid =
        strdup(transfer_syntax_uid ? transfer_syntax_uid : UID_LittleEndianExplicitTransferSyntax);
    if (!it->path || !it->sop_class_uid || !it->sop_instance_uid || !it->transfer_syntax_uid) {
        free(it->path);
        free(it->sop_class_uid);
        free(it->sop_instance_uid);
        free(it->transfer_syntax_uid);
        return HUREN_DICOM_ERROR;
    }
    l->n++;
    return HUREN_DICOM_OK;
}

extern "C" int huren_dicom_retrieve_list_coerce(huren_dicom_retrieve_list *l,
                                                const huren_dicom_coercion *c)
{
    if (!l || l->n == 0 || !c || !c->patient_id || !*c->patient_id)
        return HUREN_DICOM_ERROR;
    huren_dicom_retrieve_item *it = &l->items[l->n - 1];
    char *id = strdup(c->patient_id), *issuer = strdup(c->issuer ? c->issuer : "");
    if (!id || !issuer) {
        free(id);
        free(issuer);
        return HUREN_DICOM_ERROR;
    }
    free(it->coerce_patient_id);
    free(it->coerce_issuer);
    it->coerce_patient_id = id;
    it->coerce_issuer = issuer;
    return HUREN_DICOM_OK;
}

extern "C" void huren_dicom_retrieve_list_free(huren_dicom_retrieve_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].coerce_patient_id);
        free(l->items[i].coerce_issuer);
        free(l->items[i].path);
        free(l->items[i].sop_class_uid);
        free(l->items[i].sop_instance_uid);
        free(l->items[i].transfer_syntax_uid);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

/* ---- sub-operations ------------------------------------------------------------------------ */

static bool uncompressed(const char *ts)
{
    return strcmp(ts, UID_LittleEndianExplicitTransferSyntax) == 0 ||
           strcmp(ts, UID_LittleEndianImplicitTransferSyntax) == 0 ||
           strcmp(ts, UID_BigEndianExplicitTransferSyntax) == 0;
}

struct retrieve_op {
    huren_dicom__assoc *a;
    bool is_move;
    T_DIMSE_C_MoveRQ *mreq;
    T_DIMSE_C_GetRQ *greq;
    T_ASC_PresentationContextID pres;
    DIC_US msg_id;
    const char *sop_class; /* of the request */
    unsigned remaining, completed, failed, warning;
    bool cancelled;
};

/* The fields C-MOVE-RSP and C-GET-RSP share (the two DCMTK structs differ only in type). */
template <class RSP> static void fill_rsp(RSP &rsp, const retrieve_op &op, uint16_t status)
{
    memset(&rsp, 0, sizeof(rsp));
    rsp.MessageIDBeingRespondedTo = op.msg_id;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, op.sop_class, sizeof(rsp.AffectedSOPClassUID));
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    rsp.NumberOfRemainingSubOperations = (DIC_US)op.remaining;
    rsp.NumberOfCompletedSubOperations = (DIC_US)op.completed;
    rsp.NumberOfFailedSubOperations = (DIC_US)op.failed;
    rsp.NumberOfWarningSubOperations = (DIC_US)op.warning;
}

static OFCondition send_rsp(retrieve_op &op, uint16_t status, bool final)
{
    T_ASC_Association *assoc = op.a->assoc;
    /* the remaining count is left out of a final response, except after a cancel */
    bool remaining = !final || status == HUREN_DICOM_STATUS_CANCEL;
    if (op.is_move) {
        T_DIMSE_C_MoveRSP rsp;
        fill_rsp(rsp, op, status);
        rsp.opts = O_MOVE_AFFECTEDSOPCLASSUID | O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS |
                   O_MOVE_NUMBEROFFAILEDSUBOPERATIONS | O_MOVE_NUMBEROFWARNINGSUBOPERATIONS |
                   (remaining ? O_MOVE_NUMBEROFREMAININGSUBOPERATIONS : 0);
        return DIMSE_sendMoveResponse(assoc, op.pres, op.mreq, &rsp, NULL, NULL);
    }
    T_DIMSE_C_GetRSP rsp;
    fill_rsp(rsp, op, status);
    rsp.opts = O_GET_AFFECTEDSOPCLASSUID | O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS |
               O_GET_NUMBEROFFAILEDSUBOPERATIONS | O_GET_NUMBEROFWARNINGSUBOPERATIONS |
               (remaining ? O_GET_NUMBEROFREMAININGSUBOPERATIONS : 0);
    return DIMSE_sendGetResponse(assoc, op.pres, op.greq, &rsp, NULL, NULL);
}

/* Does the item span its whole file (then DCMTK can stream it as it is)? */
static bool whole_file(const huren_dicom_retrieve_item *it)
{
    struct stat sb;
    if (it->length == 0)
        return true;
    return it->offset == 0 && stat(it->path, &sb) == 0 && (uint64_t)sb.st_size == it->length;
}

/* Load an item's dataset: the whole file, or its byte range of a shared pack file (read into
 * memory: only small instances are packed). */
static OFCondition load_item(const huren_dicom_retrieve_item *it, DcmFileFormat &ff)
{
    if (whole_file(it))
        return ff.loadFile(it->path);
    if (it->length > (64u << 20))
        return makeOFCondition(OFM_dcmdata, 901, OF_error, "packed instance too large");
    std::vector<char> buf(it->length);
    int fd = open(it->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return makeOFCondition(OFM_dcmdata, 902, OF_error, "cannot open pack file");
    ssize_t n = pread(fd, buf.data(), buf.size(), (off_t)it->offset);
    close(fd);
    if (n != (ssize_t)buf.size())
        return makeOFCondition(OFM_dcmdata, 903, OF_error, "short read from pack file");
    DcmInputBufferStream in;
    in.setBuffer(buf.data(), (offile_off_t)buf.size());
    in.setEos();
    ff.transferInit();
    OFCondition c = ff.read(in, EXS_Unknown, EGL_noChange, OFnumeric_limits<Uint32>::max());
    ff.transferEnd();
    return c;
}

/* The coercion hook: a retrieved copy goes out with this hospital's patient ids. */
static OFCondition coerce_item(const huren_dicom_retrieve_item *it, DcmFileFormat &ff)
{
    if (!it->coerce_patient_id)
        return EC_Normal;
    huren_dicom_coercion c = {it->coerce_patient_id, it->coerce_issuer};
    return huren_dicom__coerce(ff.getDataset(), &c);
}

/* Send one file with C-STORE on dst. Returns the C-STORE-RSP status, or 0xC001 when it could
 * not be sent (no context, unreadable file); *net_err tells a broken association. */
static uint16_t store_one(retrieve_op &op, T_ASC_Association *dst,
                          const huren_dicom_retrieve_item *it, bool *net_err)
{
    huren_dicom_scp *scp = op.a->scp;
    /* the stored syntax first, then explicit, then implicit little endian */
    T_ASC_PresentationContextID pid =
        ASC_findAcceptedPresentationContextID(dst, it->sop_class_uid, it->transfer_syntax_uid);
    T_ASC_PresentationContext pc;
    if (pid == 0 || ASC_findAcceptedPresentationContext(dst->params, pid, &pc).bad()) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "sub-operation %s: no accepted presentation context for %s / %s",
                          it->sop_instance_uid, it->sop_class_uid, it->transfer_syntax_uid);
        return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }
    if (pc.acceptedTransferSyntax[0] && !uncompressed(pc.acceptedTransferSyntax) &&
        strcmp(pc.acceptedTransferSyntax, it->transfer_syntax_uid) != 0) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                          "sub-operation %s: stored as %s, the receiver accepted only %s",
                          it->sop_instance_uid, it->transfer_syntax_uid, pc.acceptedTransferSyntax);
        return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }

    T_DIMSE_C_StoreRQ rq;
    memset(&rq, 0, sizeof(rq));
    rq.MessageID = dst->nextMsgID++;
    OFStandard::strlcpy(rq.AffectedSOPClassUID, it->sop_class_uid, sizeof(rq.AffectedSOPClassUID));
    OFStandard::strlcpy(rq.AffectedSOPInstanceUID, it->sop_instance_uid,
                        sizeof(rq.AffectedSOPInstanceUID));
    rq.DataSetType = DIMSE_DATASET_PRESENT;
    rq.Priority = DIMSE_PRIORITY_MEDIUM;
    if (op.is_move) {
        OFStandard::strlcpy(rq.MoveOriginatorApplicationEntityTitle, op.a->calling_ae.c_str(),
                            sizeof(rq.MoveOriginatorApplicationEntityTitle));
        rq.MoveOriginatorID = op.msg_id;
        rq.opts = O_STORE_MOVEORIGINATORAETITLE | O_STORE_MOVEORIGINATORID;
    }
    T_DIMSE_C_StoreRSP rsp;
    memset(&rsp, 0, sizeof(rsp));
    DcmDataset *detail = nullptr;
    OFCondition cond;
    /* a retrieved copy is coerced in memory; everything else goes as stored when it can */
    bool as_stored =
        strcmp(pc.acceptedTransferSyntax, it->transfer_syntax_uid) == 0 && !it->coerce_patient_id;
    bool started = false;
    if (as_stored) {
        /* as stored, byte for byte, from its own file or its range of a pack */
        cond = huren_dicom__store_raw(dst, pid, rq, it->path, it->offset, it->length,
                                      scp->opts.dimse_timeout_s, rsp, started);
        if (cond.bad() && !started)
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN,
                              "sub-operation %s: %s; sent through DCMTK instead",
                              it->sop_instance_uid, cond.text());
    }
    if (!as_stored || (cond.bad() && !started)) {
        /* coerced, or uncompressed in another byte order or VR encoding: in memory */
        DcmFileFormat ff;
        huren_dicom__register_codecs(); /* a compressed instance to an uncompressed-only peer */
        OFCondition lc = load_item(it, ff);
        if (lc.good())
            lc = coerce_item(it, ff);
        if (lc.bad() ||
            ff.getDataset()
                ->chooseRepresentation(DcmXfer(pc.acceptedTransferSyntax).getXfer(), NULL)
                .bad()) {
            huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "sub-operation %s: %s",
                              it->sop_instance_uid,
                              lc.bad() ? lc.text()
                                       : "no decoder for the stored transfer syntax: the "
                                         "receiver accepted it only uncompressed");
            return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
        }
        cond = DIMSE_storeUser(dst, pid, &rq, NULL, ff.getDataset(), NULL, NULL, DIMSE_NONBLOCKING,
                               scp->opts.dimse_timeout_s, &rsp, &detail);
    }
    delete detail;
    if (cond.bad()) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "sub-operation %s: %s",
                          it->sop_instance_uid, cond.text());
        /* a missing file is a failed sub-operation, a network error ends them all */
        *net_err = cond != DIMSE_BADDATA && cond.module() == OFM_dcmnet;
        return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }
    return rsp.DimseStatus;
}

static void run_subops(retrieve_op &op, T_ASC_Association *dst,
                       const huren_dicom_retrieve_list &list)
{
    bool net_err = false;
    op.remaining = (unsigned)list.n;
    for (size_t i = 0; i < list.n; i++) {
        if (net_err || op.a->scp->aborting) {
            op.failed++;
            op.remaining--;
            continue;
        }
        uint16_t st = store_one(op, dst, &list.items[i], &net_err);
        op.remaining--;
        if (st == STATUS_Success)
            op.completed++;
        else if ((st & 0xF000) == 0xB000)
            op.warning++;
        else
            op.failed++;
        if (op.remaining > 0) {
            if (send_rsp(op, HUREN_DICOM_STATUS_PENDING, false).bad())
                return;
            if (DIMSE_checkForCancelRQ(op.a->assoc, op.pres, op.msg_id).good()) {
                op.cancelled = true;
                return;
            }
        }
    }
}

/* ---- C-MOVE -------------------------------------------------------------------------------- */

/* Per SOP class and stored transfer syntax, one context with that syntax alone (the instance goes
 * byte for byte when it is accepted), and per SOP class one with the uncompressed ones (for a
 * receiver that does not take the stored syntax: sent converted or decompressed). Separate
 * contexts let the receiver accept both; ASC_findAcceptedPresentationContextID() then picks the
 * stored syntax first. */
static void add_contexts(T_ASC_Parameters *params, const huren_dicom_retrieve_list &list)
{
    static const char *plain[2] = {UID_LittleEndianExplicitTransferSyntax,
                                   UID_LittleEndianImplicitTransferSyntax};
    std::set<std::pair<std::string, std::string>> seen;
    int id = 1;
    for (size_t i = 0; i < list.n && id <= 253; i++) {
        const huren_dicom_retrieve_item &it = list.items[i];
        if (seen.insert({it.sop_class_uid, it.transfer_syntax_uid}).second) {
            const char *ts[1] = {it.transfer_syntax_uid};
            (void)ASC_addPresentationContext(params, (T_ASC_PresentationContextID)id,
                                             it.sop_class_uid, ts, 1);
            id += 2;
        }
        if (seen.insert({it.sop_class_uid, std::string()}).second) {
            (void)ASC_addPresentationContext(params, (T_ASC_PresentationContextID)id,
                                             it.sop_class_uid, plain, 2);
            id += 2;
        }
    }
}

/* Open the sub-association; NULL (and a log line) if it cannot be. */
static T_ASC_Association *open_subassoc(huren_dicom__assoc *a, T_ASC_Network *net,
                                        const char *dest_ae, const char *host, int port,
                                        const huren_dicom_retrieve_list &list)
{
    huren_dicom_scp *scp = a->scp;
    T_ASC_Parameters *params = nullptr;
    T_ASC_Association *sub = nullptr;
    OFCondition c = ASC_createAssociationParameters(&params, scp->opts.max_pdu);
    if (c.bad())
        return nullptr;
    std::string peer = std::string(host) + ":" + std::to_string(port);
    (void)ASC_setAPTitles(params, scp->aet.c_str(), dest_ae, NULL);
    (void)ASC_setPresentationAddresses(params, "localhost", peer.c_str());
    add_contexts(params, list);
    c = ASC_requestAssociation(net, params, &sub);
    if (c.bad() || ASC_countAcceptedPresentationContexts(params) == 0) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "C-MOVE to %s (%s): %s", dest_ae,
                          peer.c_str(), c.bad() ? c.text() : "no presentation context accepted");
        if (sub) {
            if (c.good())
                (void)ASC_abortAssociation(sub);
            (void)ASC_destroyAssociation(&sub);
        } else {
            (void)ASC_destroyAssociationParameters(&params);
        }
        return nullptr;
    }
    return sub;
}

static uint16_t move_to(retrieve_op &op, const char *dest, const huren_dicom_retrieve_list &list)
{
    huren_dicom_scp *scp = op.a->scp;
    char host[256] = "";
    int port = 0;
    if (!scp->h.resolve_ae ||
        scp->h.resolve_ae(dest, host, sizeof(host), &port, scp->h.payload) != 0 || !host[0]) {
        huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_WARN, "C-MOVE from %s: destination %s unknown",
                          op.a->calling_ae.c_str(), dest);
        return HUREN_DICOM_STATUS_MOVE_DEST_UNKNOWN;
    }
    if (list.n == 0)
        return HUREN_DICOM_STATUS_SUCCESS;
    T_ASC_Network *net = nullptr;
    if (ASC_initializeNetwork(NET_REQUESTOR, 0, scp->opts.acse_timeout_s, &net).bad())
        return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    if (scp->opts.tcp_nodelay)
        huren_dicom__nodelay_network(net);
    T_ASC_Association *sub = open_subassoc(op.a, net, dest, host, port, list);
    if (!sub) {
        (void)ASC_dropNetwork(&net);
        op.failed = (unsigned)list.n;
        return HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    }
    run_subops(op, sub, list);
    if (ASC_releaseAssociation(sub).bad())
        (void)ASC_abortAssociation(sub);
    (void)ASC_destroyAssociation(&sub);
    (void)ASC_dropNetwork(&net);
    if (op.cancelled)
        return HUREN_DICOM_STATUS_CANCEL;
    return (op.failed || op.warning) ? HUREN_DICOM_STATUS_SUBOPS_WARNING
                                     : HUREN_DICOM_STATUS_SUCCESS;
}

/* Common to C-MOVE and C-GET: read the identifier, ask the handler, run the sub-operations. */
static OFCondition retrieve(retrieve_op &op, const char *dest)
{
    huren_dicom__assoc *a = op.a;
    huren_dicom_scp *scp = a->scp;
    std::unique_ptr<DcmDataset> id;
    uint16_t status = 0;
    OFCondition cond =
        huren_dicom__receive_identifier(a, op.is_move ? "C-MOVE" : "C-GET", id, &status);
    if (cond.bad())
        return cond;
    huren_dicom__query qq;
    huren_dicom_retrieve_list list = {NULL, 0, 0};
    if (status == 0)
        status = huren_dicom__query_build(a, op.sop_class, id.get(), qq);
    if (status == 0 && !scp->h.retrieve)
        status = HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
    if (status == 0) {
        if (dest)
            qq.move_dest = dest;
        qq.q.move_destination = dest ? qq.move_dest.c_str() : NULL;
        status = scp->h.retrieve(&qq.q, &list, scp->h.payload);
    }
    if (status == HUREN_DICOM_STATUS_SUCCESS) {
        try {
            if (op.is_move) {
                status = move_to(op, dest, list);
            } else {
                run_subops(op, a->assoc, list);
                status = op.cancelled                ? HUREN_DICOM_STATUS_CANCEL
                         : (op.failed || op.warning) ? HUREN_DICOM_STATUS_SUBOPS_WARNING
                                                     : HUREN_DICOM_STATUS_SUCCESS;
            }
        } catch (...) {
            status = HUREN_DICOM_STATUS_UNABLE_TO_PROCESS;
        }
    }
    huren_dicom_retrieve_list_free(&list);
    cond = send_rsp(op, status, true);
    huren_dicom__logf(&scp->h, HUREN_DICOM_LOG_INFO,
                      "%s %s from %s%s%s: %u completed, %u failed, %u warning: %s",
                      op.is_move ? "C-MOVE" : "C-GET", qq.level_str.c_str(), a->calling_ae.c_str(),
                      dest ? " to " : "", dest ? dest : "", op.completed, op.failed, op.warning,
                      huren_dicom_status_str(status));
    if (scp->h.event)
        scp->h.event(op.is_move ? "C-MOVE" : "C-GET", &a->peer, status, qq.level_str.c_str(),
                     scp->h.payload);
    return cond;
}

OFCondition huren_dicom__move(huren_dicom__assoc *a, T_DIMSE_C_MoveRQ *req,
                              T_ASC_PresentationContextID pres)
{
    retrieve_op op = {a, true, req, nullptr, pres, req->MessageID, req->AffectedSOPClassUID,
                      0, 0,    0,   0,       false};
    return retrieve(op, req->MoveDestination);
}

OFCondition huren_dicom__get(huren_dicom__assoc *a, T_DIMSE_C_GetRQ *req,
                             T_ASC_PresentationContextID pres)
{
    retrieve_op op = {a, false, nullptr, req, pres, req->MessageID, req->AffectedSOPClassUID,
                      0, 0,     0,       0,   false};
    return retrieve(op, nullptr);
}
