/* pixel_digest.cpp: the pixel fingerprint of an instance (provenance): SHA-256 of its PixelData
 * value as stored, read from the file in bounded chunks so that a large image is never held in
 * memory. What it covers is defined in huren_dicom.h and docs/insurers.md. */
#include "dicom_int.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/evp.h>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcxfer.h"

#define CHUNK (256u * 1024u)
#define MAX_READ_LENGTH 4096u /* larger values stay on disk until hashed */

/* Feed el's value (len bytes, in byte order bo, as stored) into the digest chunk by chunk. */
static int hash_value(EVP_MD_CTX *md, DcmElement *el, E_ByteOrder bo, std::vector<char> &buf,
                      DcmFileCache &cache)
{
    Uint32 len = el->getLength();
    for (Uint32 off = 0; off < len;) {
        Uint32 n = len - off < CHUNK ? len - off : CHUNK;
        if (el->getPartialValue(buf.data(), off, n, &cache, bo).bad())
            return -1;
        if (EVP_DigestUpdate(md, buf.data(), n) != 1)
            return -1;
        off += n;
    }
    return 0;
}

/* The fragments after the Basic Offset Table (item 0), each value without its item header. */
static int hash_fragments(EVP_MD_CTX *md, DcmPixelSequence *seq, std::vector<char> &buf,
                          DcmFileCache &cache)
{
    unsigned long card = seq->card();
    for (unsigned long i = 1; i < card; i++) {
        DcmPixelItem *it = NULL;
        if (seq->getItem(it, i).bad() || !it ||
            hash_value(md, it, EBO_LittleEndian, buf, cache) < 0)
            return -1;
    }
    return 0;
}

static int digest(DcmDataset *ds, unsigned char out[32], char *err, size_t errlen)
{
    DcmElement *el = NULL;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
        return HUREN_DICOM_ENOTSUP;
    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmXfer x(xfer);
    std::vector<char> buf(CHUNK);
    DcmFileCache cache;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int mdlen = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
    DcmPixelSequence *seq = NULL;
    if (rc == 0 && x.isEncapsulated() && el->ident() == EVR_PixelData) {
        DcmPixelData *pd = OFstatic_cast(DcmPixelData *, el);
        rc = pd->getEncapsulatedRepresentation(xfer, NULL, seq).good() && seq
                 ? hash_fragments(md, seq, buf, cache)
                 : -1;
    } else if (rc == 0) {
        rc = hash_value(md, el, x.getByteOrder(), buf, cache);
    }
    if (rc == 0 && (EVP_DigestFinal_ex(md, out, &mdlen) != 1 || mdlen != 32))
        rc = -1;
    EVP_MD_CTX_free(md);
    if (rc < 0) {
        huren_dicom__seterr(err, errlen, "pixel data unreadable");
        return HUREN_DICOM_ECORRUPT;
    }
    return HUREN_DICOM_OK;
}

static int pixel_digest(const char *path, char hex[65], char *err, size_t errlen)
{
    char why[256] = "";
    /* DCMTK's parser recurses per sequence: check the nesting first, as every reader here */
    int rc = huren_dicom_nesting_scan_file(path, huren_dicom_max_sequence_depth(), NULL, why,
                                           sizeof(why));
    if (rc < 0) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, why);
        return rc;
    }
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, MAX_READ_LENGTH, ERM_autoDetect);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, c.text());
        return HUREN_DICOM_ECORRUPT;
    }
    unsigned char md[32];
    if ((rc = digest(ff.getDataset(), md, err, errlen)) < 0)
        return rc;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return HUREN_DICOM_OK;
}

extern "C" int huren_dicom_file_pixel_digest(const char *path, char hex[65], char *err,
                                             size_t errlen)
{
    if (!path || !hex) {
        huren_dicom__seterr(err, errlen, "huren_dicom_file_pixel_digest: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    hex[0] = '\0';
    try {
        return pixel_digest(path, hex, err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected error", path);
    }
    hex[0] = '\0';
    return HUREN_DICOM_ERROR;
}
