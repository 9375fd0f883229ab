/* json.cpp: a whole dataset as DICOM JSON (PS3.18 F.2) through DCMTK's writeJson, for
 * WADO-RS /metadata: values converted to UTF-8, pixel data given by BulkDataURI, other large
 * binary values left out so that the answer stays small. */
#include "dicom_int.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcjson.h"

#define HUREN_DICOM_JSON_MAX_INLINE (64u * 1024u)

static bool is_pixel_tag(const DcmTagKey &t)
{
    return t == DCM_PixelData || t == DCM_FloatPixelData || t == DCM_DoubleFloatPixelData;
}

namespace
{
/* Compact JSON whose pixel data elements are written as BulkDataURIs under a prefix. */
struct BulkFormat : DcmJsonFormatCompact {
    std::string prefix;
    explicit BulkFormat(const char *p) : DcmJsonFormatCompact(OFFalse), prefix(p ? p : "") {}
    OFBool asBulkDataURI(const DcmTagKey &tag, OFString &uri) override
    {
        if (!is_pixel_tag(tag))
            return OFFalse;
        char hex[9];
        snprintf(hex, sizeof hex, "%04X%04X", tag.getGroup(), tag.getElement());
        uri = (prefix + hex).c_str();
        return OFTrue;
    }
};
} // namespace

/* Remove what must not be inlined: large binary values, and pixel data when no URI is wanted. */
static void prune(DcmDataset *ds, bool keep_pixels)
{
    for (unsigned long i = ds->card(); i-- > 0;) {
        DcmElement *el = ds->getElement(i);
        if (!el)
            continue;
        DcmEVR vr = el->ident();
        bool binary = vr == EVR_OB || vr == EVR_OW || vr == EVR_OF || vr == EVR_OD ||
                      vr == EVR_OL || vr == EVR_OV || vr == EVR_UN || vr == EVR_ox ||
                      vr == EVR_pixelSQ;
        bool pixel = is_pixel_tag(el->getTag());
        if ((pixel && !keep_pixels) ||
            (!pixel && binary && el->getLength() > HUREN_DICOM_JSON_MAX_INLINE))
            delete ds->remove(el);
    }
}

static int to_json(const char *path, const char *prefix, char **out, size_t *outlen, char *err,
                   size_t errlen)
{
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, c.text());
        return HUREN_DICOM_ECORRUPT;
    }
    DcmDataset *ds = ff.getDataset();
    prune(ds, prefix != NULL);
    /* huren's converter, not DCMTK's convertToUTF8(): that refuses ISO 2022 code extensions
     * (IR 87, 159, 149, 58) and leaves their escape sequences in the JSON; a value that
     * cannot be converted goes as UTF-8, GB18030 or Latin-1, never refusing the answer */
    std::string warn;
    huren_dicom__dataset_to_utf8(ds, warn);
    std::ostringstream os;
    BulkFormat fmt(prefix);
    os << '{'; /* DcmDataset writes the members only; DcmFileFormat adds the braces */
    c = ds->writeJson(os, fmt);
    os << '}';
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: JSON: %s", path, c.text());
        return HUREN_DICOM_ERROR;
    }
    std::string s = os.str();
    char *buf = static_cast<char *>(malloc(s.size() + 1));
    if (!buf) {
        huren_dicom__seterr(err, errlen, "out of memory");
        return HUREN_DICOM_ERROR;
    }
    memcpy(buf, s.data(), s.size());
    buf[s.size()] = 0;
    *out = buf;
    *outlen = s.size();
    return HUREN_DICOM_OK;
}

extern "C" int huren_dicom_file_to_json(const char *path, const char *bulk_uri_prefix, char **out,
                                        size_t *outlen, char *err, size_t errlen)
{
    if (!path || !out || !outlen) {
        huren_dicom__seterr(err, errlen, "huren_dicom_file_to_json: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    *out = NULL;
    *outlen = 0;
    try {
        huren_dicom__log_init();
        return to_json(path, bulk_uri_prefix, out, outlen, err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected exception", path);
    }
    return HUREN_DICOM_ERROR;
}
