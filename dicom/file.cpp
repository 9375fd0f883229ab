/* file.cpp: Part-10 files (and bare datasets DCMTK can recognise) checked whole and parsed
 * into UTF-8 text elements and meta header facts; the huren_dicom_file half of the C API. */
#include "dicom_int.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcxfer.h"

/* Elements longer than this stay on disk (only their lengths are checked against the file, so a
 * truncated file is refused); PixelData is never read into memory. */
#define HUREN_DICOM_MAX_READ_LENGTH (64u * 1024u)

struct huren_dicom_file {
    huren_dicom__elements els;
    std::string ts;
    std::string warning;
};

/* What the first bytes say: 1 Part-10, 0 a bare dataset DCMTK may read, -1 not DICOM. */
static int sniff(FILE *fp)
{
    unsigned char b[132];
    size_t n = fread(b, 1, sizeof(b), fp);
    if (n == sizeof(b) && memcmp(b + 128, "DICM", 4) == 0)
        return 1;
    if (n < 8)
        return -1;
    unsigned le_group = b[0] | (b[1] << 8), be_group = (b[0] << 8) | b[1];
    /* a bare dataset starts with a low even group: command/meta/identifying groups */
    if (le_group == 0x0002 || le_group == 0x0008 || be_group == 0x0008) {
        /* explicit VR: two upper-case letters; implicit: a small length */
        bool explicit_vr = b[4] >= 'A' && b[4] <= 'Z' && b[5] >= 'A' && b[5] <= 'Z';
        unsigned long len =
            b[4] | (b[5] << 8) | ((unsigned long)b[6] << 16) | ((unsigned long)b[7] << 24);
        if (explicit_vr || len < 1024)
            return 0;
    }
    return -1;
}

static int parse(const char *path, huren_dicom_file **out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, strerror(errno));
        return HUREN_DICOM_EIO;
    }
    int kind = sniff(fp);
    fclose(fp);
    if (kind < 0) {
        huren_dicom__seterr(err, errlen, "%s: not a DICOM file (no DICM preamble)", path);
        return HUREN_DICOM_ENOTDICOM;
    }

    /* DCMTK's parser recurses per sequence: a deep one would overflow the thread's stack */
    char why[256] = "";
    int rc = huren_dicom_nesting_scan_file(path, huren_dicom_max_sequence_depth(), NULL, why,
                                           sizeof(why));
    if (rc == HUREN_DICOM_ETOODEEP || rc == HUREN_DICOM_ECORRUPT) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, why);
        return rc == HUREN_DICOM_ECORRUPT && kind == 0 ? HUREN_DICOM_ENOTDICOM : rc;
    }
    if (rc == HUREN_DICOM_EIO) {
        huren_dicom__seterr(err, errlen, "%s", why);
        return rc;
    }

    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, HUREN_DICOM_MAX_READ_LENGTH,
                                kind == 1 ? ERM_fileOnly : ERM_dataset);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, c.text());
        return kind == 1 ? HUREN_DICOM_ECORRUPT : HUREN_DICOM_ENOTDICOM;
    }
    DcmDataset *ds = ff.getDataset();
    if (!ds || ds->card() == 0) {
        huren_dicom__seterr(err, errlen, "%s: no data elements", path);
        return kind == 1 ? HUREN_DICOM_ECORRUPT : HUREN_DICOM_ENOTDICOM;
    }

    std::unique_ptr<huren_dicom_file> f(new huren_dicom_file);
    OFString ts;
    if (ff.getMetaInfo() && ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts).good())
        f->ts.assign(ts.c_str(), ts.length());
    else
        f->ts = DcmXfer(ds->getOriginalXfer()).getXferID();
    huren_dicom__collect(ds, false, f->els, f->warning);
    *out = f.release();
    return HUREN_DICOM_OK;
}

extern "C" int huren_dicom_file_parse(const char *path, huren_dicom_file **out, char *err,
                                      size_t errlen)
{
    if (!path || !out) {
        huren_dicom__seterr(err, errlen, "huren_dicom_file_parse: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    *out = NULL;
    try {
        huren_dicom__log_init();
        return parse(path, out, err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected exception", path);
    }
    return HUREN_DICOM_ERROR;
}

extern "C" void huren_dicom_file_free(huren_dicom_file *f)
{
    delete f;
}

extern "C" const huren_dicom_element *huren_dicom_file_elements(const huren_dicom_file *f,
                                                                size_t *n)
{
    if (!f) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = f->els.v.size();
    return f->els.v.data();
}

extern "C" const char *huren_dicom_file_value(const huren_dicom_file *f, uint32_t tag)
{
    if (!f)
        return NULL;
    return huren_dicom_elements_find(f->els.v.data(), f->els.v.size(), tag);
}

extern "C" const char *huren_dicom_file_transfer_syntax(const huren_dicom_file *f)
{
    return f ? f->ts.c_str() : NULL;
}

extern "C" const char *huren_dicom_file_charset_warning(const huren_dicom_file *f)
{
    return (f && !f->warning.empty()) ? f->warning.c_str() : NULL;
}
