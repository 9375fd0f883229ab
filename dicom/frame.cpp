/* frame.cpp: one frame of an instance's pixel data for WADO-RS /frames: native data cut at
 * the frame size, encapsulated data as its stored fragments (one per frame, or through the
 * basic offset table), never decompressed here. */
#include "dicom_int.h"

#include <cstdlib>
#include <cstring>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcxfer.h"

namespace
{
struct bytes {
    std::string s;
    void add(const Uint8 *p, size_t n)
    {
        s.append(reinterpret_cast<const char *>(p), n);
    }
};
} // namespace

static int native_frame(DcmDataset *ds, DcmPixelData *pd, unsigned frame, unsigned nf, bytes &b,
                        char *err, size_t errlen)
{
    Uint8 *data = NULL;
    if (pd->getUint8Array(data).bad() || !data) {
        huren_dicom__seterr(err, errlen, "pixel data unreadable");
        return HUREN_DICOM_ECORRUPT;
    }
    size_t total = pd->getLength();
    if (frame == 0) {
        b.add(data, total);
        return HUREN_DICOM_OK;
    }
    Uint32 fsize = 0;
    if (pd->getUncompressedFrameSize(ds, fsize).bad() || fsize == 0) {
        huren_dicom__seterr(err, errlen, "frame size unknown");
        return HUREN_DICOM_ENOTSUP;
    }
    size_t off = (size_t)(frame - 1) * fsize;
    if (off + fsize > total) {
        huren_dicom__seterr(err, errlen, "pixel data shorter than %u frames", nf);
        return HUREN_DICOM_ECORRUPT;
    }
    b.add(data + off, fsize);
    return HUREN_DICOM_OK;
}

static int fragment(DcmPixelSequence *seq, unsigned long i, bytes &b)
{
    DcmPixelItem *it = NULL;
    Uint8 *p = NULL;
    if (seq->getItem(it, i).bad() || !it)
        return -1;
    if (it->getLength() == 0)
        return 0;
    if (it->getUint8Array(p).bad() || !p)
        return -1;
    b.add(p, it->getLength());
    return 0;
}

static int encapsulated_frame(DcmPixelSequence *seq, unsigned frame, unsigned nf, bytes &b,
                              char *err, size_t errlen)
{
    unsigned long card = seq->card(), nfrag = card ? card - 1 : 0;
    unsigned long first = 1, last = card; /* fragment range [first, last) */
    if (frame != 0 && nf > 1) {
        if (nfrag == nf) {
            first = frame;
            last = frame + 1;
        } else {
            DcmPixelItem *bot = NULL;
            Uint32 *off = NULL;
            if (seq->getItem(bot, 0).bad() || !bot || bot->getLength() < 4 * nf ||
                bot->getUint32Array(off).bad() || !off) {
                huren_dicom__seterr(err, errlen, "frames not locatable (no offset table)");
                return HUREN_DICOM_ENOTSUP;
            }
            Uint32 lo = off[frame - 1], hi = frame < nf ? off[frame] : 0xFFFFFFFFu, pos = 0;
            first = last = 0;
            for (unsigned long i = 1; i < card; i++) {
                DcmPixelItem *it = NULL;
                if (seq->getItem(it, i).bad() || !it)
                    break;
                if (pos >= lo && pos < hi) {
                    if (!first)
                        first = i;
                    last = i + 1;
                }
                pos += 8 + it->getLength();
            }
        }
    }
    for (unsigned long i = first; i < last && i < card; i++)
        if (fragment(seq, i, b) < 0) {
            huren_dicom__seterr(err, errlen, "fragment %lu unreadable", i);
            return HUREN_DICOM_ECORRUPT;
        }
    return HUREN_DICOM_OK;
}

static int get_frame(const char *path, unsigned frame, bytes &b, unsigned *nframes, int *encap,
                     char *err, size_t errlen)
{
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, c.text());
        return HUREN_DICOM_ECORRUPT;
    }
    DcmDataset *ds = ff.getDataset();
    DcmElement *el = NULL;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) {
        huren_dicom__seterr(err, errlen, "no pixel data");
        return HUREN_DICOM_ENOTSUP;
    }
    long nf = 1;
    if (ds->findAndGetLongInt(DCM_NumberOfFrames, nf).bad() || nf < 1)
        nf = 1;
    if (nframes)
        *nframes = (unsigned)nf;
    if (frame > (unsigned long)nf) {
        huren_dicom__seterr(err, errlen, "frame %u of %ld", frame, nf);
        return HUREN_DICOM_ERANGE;
    }
    if (el->ident() != EVR_PixelData) { /* e.g. (7FE0,0010) written with VR OF or OD */
        huren_dicom__seterr(err, errlen, "pixel data with VR %s", DcmVR(el->ident()).getVRName());
        return HUREN_DICOM_ENOTSUP;
    }
    DcmPixelData *pd = OFstatic_cast(DcmPixelData *, el);
    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmPixelSequence *seq = NULL;
    bool encapsulated = DcmXfer(xfer).isEncapsulated();
    if (encap)
        *encap = encapsulated;
    if (!encapsulated)
        return native_frame(ds, pd, frame, (unsigned)nf, b, err, errlen);
    if (pd->getEncapsulatedRepresentation(xfer, NULL, seq).bad() || !seq) {
        huren_dicom__seterr(err, errlen, "encapsulated pixel data unreadable");
        return HUREN_DICOM_ECORRUPT;
    }
    return encapsulated_frame(seq, frame, (unsigned)nf, b, err, errlen);
}

extern "C" int huren_dicom_file_frame(const char *path, unsigned frame, char **out, size_t *len,
                                      unsigned *nframes, int *encapsulated, char *err,
                                      size_t errlen)
{
    if (!path || !out || !len) {
        huren_dicom__seterr(err, errlen, "huren_dicom_file_frame: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    *out = NULL;
    *len = 0;
    try {
        huren_dicom__log_init();
        bytes b;
        int rc = get_frame(path, frame, b, nframes, encapsulated, err, errlen);
        if (rc != HUREN_DICOM_OK)
            return rc;
        char *buf = static_cast<char *>(malloc(b.s.size() ? b.s.size() : 1));
        if (!buf) {
            huren_dicom__seterr(err, errlen, "out of memory");
            return HUREN_DICOM_ERROR;
        }
        memcpy(buf, b.s.data(), b.s.size());
        *out = buf;
        *len = b.s.size();
        return HUREN_DICOM_OK;
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected exception", path);
    }
    return HUREN_DICOM_ERROR;
}
