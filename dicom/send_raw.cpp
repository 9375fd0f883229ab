/* send_raw.cpp: C-STORE of a stored instance byte for byte. DCMTK's DIMSE_storeUser() parses a
 * file and writes it again (private creators read as UN come out as LO, lengths and padding are
 * rewritten), so an instance sent on in the transfer syntax it was stored in goes here instead:
 * the command set is encoded by DCMTK, the dataset is read off the disk (its own file or its
 * byte range of a pack) after the meta header and written in PDVs as it is, and the response is
 * read by DCMTK. Memory use is one PDV, whatever the instance's size. */
#include "dicom_int.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcostrmb.h"

/* The offset of the dataset in the [0, len) bytes at the start of an item: after the preamble and
 * the group 0002 elements (always explicit VR little endian), or 0 for a bare dataset. -1 if the
 * meta header does not fit in len or is malformed. */
static long dataset_start(const unsigned char *b, size_t len)
{
    if (len < 132 || memcmp(b + 128, "DICM", 4) != 0)
        return 0;
    size_t i = 132;
    while (i + 8 <= len) {
        unsigned group = b[i] | (unsigned)b[i + 1] << 8;
        if (group != 0x0002)
            return (long)i;
        bool long_form =
            (b[i + 4] == 'O' && (b[i + 5] == 'B' || b[i + 5] == 'W' || b[i + 5] == 'F')) ||
            (b[i + 4] == 'S' && b[i + 5] == 'Q') ||
            (b[i + 4] == 'U' && (b[i + 5] == 'T' || b[i + 5] == 'N'));
        size_t vlen;
        if (long_form) {
            if (i + 12 > len)
                return -1;
            vlen = b[i + 8] | (size_t)b[i + 9] << 8 | (size_t)b[i + 10] << 16 |
                   (size_t)b[i + 11] << 24;
            if (vlen == 0xFFFFFFFFu)
                return -1;
            i += 12;
        } else {
            vlen = b[i + 6] | (size_t)b[i + 7] << 8;
            i += 8;
        }
        if (vlen > len - i)
            return -1;
        i += vlen;
    }
    return i <= len ? (long)i : -1;
}

/* The C-STORE-RQ command set, encoded implicit VR little endian with its group length. */
static OFCondition encode_command(const T_DIMSE_C_StoreRQ &rq, std::vector<unsigned char> &out)
{
    DcmDataset cmd;
    OFCondition c = cmd.putAndInsertString(DCM_AffectedSOPClassUID, rq.AffectedSOPClassUID);
    if (c.good())
        c = cmd.putAndInsertUint16(DCM_CommandField, 0x0001);
    if (c.good())
        c = cmd.putAndInsertUint16(DCM_MessageID, rq.MessageID);
    if (c.good())
        c = cmd.putAndInsertUint16(DCM_Priority, (Uint16)rq.Priority);
    if (c.good())
        c = cmd.putAndInsertUint16(DCM_CommandDataSetType, 0x0000); /* a dataset follows */
    if (c.good())
        c = cmd.putAndInsertString(DCM_AffectedSOPInstanceUID, rq.AffectedSOPInstanceUID);
    if (c.good() && (rq.opts & O_STORE_MOVEORIGINATORAETITLE))
        c = cmd.putAndInsertString(DCM_MoveOriginatorApplicationEntityTitle,
                                   rq.MoveOriginatorApplicationEntityTitle);
    if (c.good() && (rq.opts & O_STORE_MOVEORIGINATORID))
        c = cmd.putAndInsertUint16(DCM_MoveOriginatorMessageID, rq.MoveOriginatorID);
    if (c.bad())
        return c;
    out.resize(8192); /* a command set of UIDs and a title: well below a kilobyte */
    DcmOutputBufferStream os(out.data(), (offile_off_t)out.size());
    cmd.transferInit();
    c = cmd.write(os, EXS_LittleEndianImplicit, EET_ExplicitLength, NULL, EGL_withGL);
    cmd.transferEnd();
    if (c.bad())
        return c;
    void *p = nullptr;
    offile_off_t n = 0;
    os.flushBuffer(p, n);
    out.resize((size_t)n);
    return EC_Normal;
}

static OFCondition write_pdv(T_ASC_Association *dst, T_ASC_PresentationContextID pid,
                             DUL_DATAPDV type, bool last, void *data, size_t len)
{
    DUL_PDV pdv;
    pdv.fragmentLength = (unsigned long)len;
    pdv.presentationContextID = pid;
    pdv.pdvType = type;
    pdv.lastPDV = last ? OFTrue : OFFalse;
    pdv.data = data;
    DUL_PDVLIST list;
    memset(&list, 0, sizeof(list));
    list.count = 1;
    list.pdv = &pdv;
    return DUL_WritePDVs(&dst->DULassociation, &list);
}

/* Largest even PDV payload the peer takes (0: it set no limit; DCMTK then uses its default). */
static size_t pdv_size(const T_ASC_Association *dst)
{
    size_t n = dst->sendPDVLength ? dst->sendPDVLength : 16384;
    return n & ~(size_t)1;
}

/* Send the command set, then the dataset of [offset, offset+length) of fd after its meta header. */
static OFCondition send_raw(T_ASC_Association *dst, T_ASC_PresentationContextID pid,
                            const T_DIMSE_C_StoreRQ &rq, int fd, uint64_t offset, uint64_t length,
                            bool &started)
{
    size_t chunk = pdv_size(dst);
    std::vector<unsigned char> buf(std::max<size_t>(chunk, 65536));
    size_t head = (size_t)std::min<uint64_t>(length, buf.size());
    if (pread(fd, buf.data(), head, (off_t)offset) != (ssize_t)head)
        return makeOFCondition(OFM_dcmdata, 911, OF_error, "short read of the stored instance");
    long start = dataset_start(buf.data(), head);
    if (start < 0 || (uint64_t)start >= length)
        return makeOFCondition(OFM_dcmdata, 912, OF_error, "stored meta header not readable");
    std::vector<unsigned char> cmd;
    OFCondition c = encode_command(rq, cmd);
    if (c.bad())
        return c;
    started = true;
    for (size_t at = 0; c.good() && at < cmd.size(); at += chunk) {
        size_t n = std::min(chunk, cmd.size() - at);
        c = write_pdv(dst, pid, DUL_COMMANDPDV, at + n == cmd.size(), cmd.data() + at, n);
    }
    for (uint64_t at = (uint64_t)start; c.good() && at < length;) {
        size_t n = (size_t)std::min<uint64_t>(chunk, length - at);
        ssize_t got = pread(fd, buf.data(), n, (off_t)(offset + at));
        if (got != (ssize_t)n)
            return DIMSE_SENDFAILED; /* half a dataset is on the wire: the association is lost */
        at += n;
        c = write_pdv(dst, pid, DUL_DATASETPDV, at == length, buf.data(), n);
    }
    return c;
}

OFCondition huren_dicom__store_raw(T_ASC_Association *dst, T_ASC_PresentationContextID pid,
                                   const T_DIMSE_C_StoreRQ &rq, const char *path, uint64_t offset,
                                   uint64_t length, int timeout_s, T_DIMSE_C_StoreRSP &rsp,
                                   bool &started)
{
    started = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return makeOFCondition(OFM_dcmdata, 910, OF_error, "cannot open the stored instance");
    if (length == 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        length = end > 0 ? (uint64_t)end : 0;
    }
    OFCondition c = send_raw(dst, pid, rq, fd, offset, length, started);
    close(fd);
    if (c.bad())
        return c;
    T_DIMSE_Message msg;
    memset(&msg, 0, sizeof(msg));
    T_ASC_PresentationContextID rpid = 0;
    DcmDataset *detail = nullptr;
    c = DIMSE_receiveCommand(dst, DIMSE_NONBLOCKING, timeout_s, &rpid, &msg, &detail);
    delete detail;
    if (c.bad())
        return c;
    if (msg.CommandField != DIMSE_C_STORE_RSP ||
        msg.msg.CStoreRSP.MessageIDBeingRespondedTo != rq.MessageID)
        return DIMSE_BADMESSAGE; /* not the answer to this request: the association is lost */
    rsp = msg.msg.CStoreRSP;
    return EC_Normal;
}
