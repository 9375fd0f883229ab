/* render.cpp: one frame of an instance rendered to an 8-bit JPEG or PNG for WADO-RS /rendered,
 * /thumbnail and WADO-URI, through DCMTK's dcmimage (VOI window, scaling) and its JPEG and PNG
 * plugins; compressed pixel data is decoded with dcmjpeg (JPEG), dcmjpls (JPEG-LS), dcmdata
 * (RLE) and, for JPEG 2000, OpenJPEG (j2k.cpp) into a native frame first. */
#include "dicom_int.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmimgle/dcmimage.h"
/* the plugins need dcmimage.h first */
#include "dcmtk/dcmimage/dipipng.h"
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmjpeg/dipijpeg.h"

static void apply_window(DicomImage &img, const huren_dicom_render_options *o)
{
    if (!img.isMonochrome())
        return;
    /* DCMTK 3.6.7 has no LINEAR_EXACT function: the plain linear one stands in for it */
    img.setVoiLutFunction(o->voi_function == HUREN_DICOM_VOI_SIGMOID ? EFV_Sigmoid : EFV_Linear);
    if (o->window_set && o->window_width > 0)
        img.setWindow(o->window_center, o->window_width);
    else if (img.getWindowCount() > 0)
        img.setWindow(0);
    else
        img.setMinMaxWindow();
}

/* Size that fits inside the viewport keeping the aspect ratio; never upscaled past 16x. */
static void fit(unsigned long w, unsigned long h, unsigned vw, unsigned vh, unsigned long &ow,
                unsigned long &oh)
{
    double sx = vw ? (double)vw / w : 1e9, sy = vh ? (double)vh / h : 1e9;
    double s = sx < sy ? sx : sy;
    if (s > 16)
        s = 16;
    ow = (unsigned long)(w * s + 0.5);
    oh = (unsigned long)(h * s + 0.5);
    if (ow < 1)
        ow = 1;
    if (oh < 1)
        oh = 1;
}

static int encode(DicomImage *img, const huren_dicom_render_options *o, char **out, size_t *len,
                  char *err, size_t errlen)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        huren_dicom__seterr(err, errlen, "out of memory");
        return HUREN_DICOM_ERROR;
    }
    int ok;
    if (o->format == HUREN_DICOM_IMAGE_PNG) {
        DiPNGPlugin png;
        png.setInterlaceType(E_pngInterlaceNone);
        png.setMetainfoType(E_pngNoMetainfo);
        ok = img->writePluginFormat(&png, f, 0);
    } else {
        DiJPEGPlugin jpeg;
        jpeg.setQuality((unsigned)(o->quality >= 1 && o->quality <= 100 ? o->quality : 90));
        ok = img->writePluginFormat(&jpeg, f, 0);
    }
    fclose(f);
    if (!ok || size == 0) {
        free(buf);
        huren_dicom__seterr(err, errlen, "image encoding failed");
        return HUREN_DICOM_ERROR;
    }
    *out = buf;
    *len = size;
    return HUREN_DICOM_OK;
}

static bool is_j2k(E_TransferSyntax xfer)
{
    return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 ||
           xfer == EXS_JPEG2000MulticomponentLosslessOnly || xfer == EXS_JPEG2000Multicomponent;
}

/* Replace the JPEG 2000 pixel data of ds by frame `frame` of it decoded (OpenJPEG), with the
 * image pixel module made to describe the native frame. */
static int j2k_to_native(const char *path, DcmDataset *ds, unsigned frame, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = huren_dicom_file_frame(path, frame, &buf, &len, NULL, NULL, err, errlen);
    if (rc != HUREN_DICOM_OK)
        return rc == HUREN_DICOM_ERANGE ? rc : HUREN_DICOM_ERROR;
    std::string cs(buf, len);
    free(buf);
    huren_dicom__j2k_image img;
    std::string why;
    if (!huren_dicom__j2k_decode(cs, img, why)) {
        huren_dicom__seterr(err, errlen, "cannot decode the pixel data: %s", why.c_str());
        return HUREN_DICOM_ERROR;
    }
    OFString pi;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, pi);
    if (img.components == 3 && (pi == "YBR_ICT" || pi == "YBR_RCT" || pi.empty()))
        pi = "RGB"; /* OpenJPEG undoes the component transform */
    else if (img.components == 3 && pi == "YBR_FULL_422")
        pi = "YBR_FULL"; /* decoded at full resolution */
    else if (img.components == 1 && pi.compare(0, 10, "MONOCHROME") != 0)
        pi = "MONOCHROME2";
    Uint16 bits = img.precision <= 8 ? 8 : 16;
    ds->putAndInsertUint16(DCM_Rows, (Uint16)img.height);
    ds->putAndInsertUint16(DCM_Columns, (Uint16)img.width);
    ds->putAndInsertUint16(DCM_SamplesPerPixel, (Uint16)img.components);
    ds->putAndInsertOFStringArray(DCM_PhotometricInterpretation, pi);
    ds->putAndInsertUint16(DCM_BitsAllocated, bits);
    ds->putAndInsertUint16(DCM_BitsStored, (Uint16)img.precision);
    ds->putAndInsertUint16(DCM_HighBit, (Uint16)(img.precision - 1));
    ds->putAndInsertUint16(DCM_PixelRepresentation, img.is_signed ? 1 : 0);
    if (img.components > 1)
        ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    delete ds->remove(DCM_NumberOfFrames);
    delete ds->remove(DCM_PixelData);
    DcmPixelData *pd = new DcmPixelData(DcmTag(DCM_PixelData, bits == 8 ? EVR_OB : EVR_OW));
    OFCondition c;
    if (bits == 8) {
        c = pd->putUint8Array(reinterpret_cast<const Uint8 *>(img.pixels.data()),
                              (unsigned long)img.pixels.size());
    } else {
        std::vector<Uint16> w(img.pixels.size() / 2);
        for (size_t i = 0; i < w.size(); i++)
            w[i] = (Uint16)((unsigned char)img.pixels[2 * i] |
                            ((unsigned char)img.pixels[2 * i + 1] << 8));
        c = pd->putUint16Array(w.data(), (unsigned long)w.size());
    }
    if (c.bad() || ds->insert(pd, OFTrue).bad()) {
        huren_dicom__seterr(err, errlen, "cannot hold the decoded frame: %s", c.text());
        return HUREN_DICOM_ERROR;
    }
    return HUREN_DICOM_OK;
}

static int render(const char *path, const huren_dicom_render_options *o, char **out, size_t *len,
                  unsigned *width, unsigned *height, char *err, size_t errlen)
{
    huren_dicom__register_codecs();
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "cannot read the stored instance: %s", c.text());
        return HUREN_DICOM_ECORRUPT;
    }
    DcmDataset *ds = ff.getDataset();
    if (!ds->tagExists(DCM_PixelData)) {
        huren_dicom__seterr(err, errlen, "not an image (no pixel data)");
        return HUREN_DICOM_ENOTSUP;
    }
    long nf = 1;
    if (ds->findAndGetLongInt(DCM_NumberOfFrames, nf).bad() || nf < 1)
        nf = 1;
    unsigned frame = o->frame ? o->frame : 1;
    if (frame > (unsigned long)nf) {
        huren_dicom__seterr(err, errlen, "frame %u of %ld", frame, nf);
        return HUREN_DICOM_ERANGE;
    }
    E_TransferSyntax xfer = ds->getOriginalXfer();
    unsigned long first = frame - 1;
    if (is_j2k(xfer)) {
        int rc = j2k_to_native(path, ds, frame, err, errlen);
        if (rc != HUREN_DICOM_OK)
            return rc;
        xfer = EXS_LittleEndianExplicit;
        first = 0;
    }
    DicomImage img(ds, xfer, CIF_UsePartialAccessToPixelData, first, 1);
    if (img.getStatus() != EIS_Normal) {
        /* the instance has pixel data: what fails is decoding it (an unknown compression, a
         * broken stream, attributes that contradict it), a failure on our side */
        huren_dicom__seterr(err, errlen, "cannot decode the pixel data (%s): %s",
                            DcmXfer(xfer).getXferName(), DicomImage::getString(img.getStatus()));
        return HUREN_DICOM_ERROR;
    }
    apply_window(img, o);
    std::unique_ptr<DicomImage> scaled;
    DicomImage *use = &img;
    if (o->viewport_width || o->viewport_height) {
        unsigned long ow, oh;
        fit(img.getWidth(), img.getHeight(), o->viewport_width, o->viewport_height, ow, oh);
        if (ow != img.getWidth() || oh != img.getHeight()) {
            scaled.reset(img.createScaledImage(ow, oh, 1, 0));
            if (!scaled || scaled->getStatus() != EIS_Normal) {
                huren_dicom__seterr(err, errlen, "scaling failed");
                return HUREN_DICOM_ERROR;
            }
            use = scaled.get();
        }
    }
    if (width)
        *width = (unsigned)use->getWidth();
    if (height)
        *height = (unsigned)use->getHeight();
    return encode(use, o, out, len, err, errlen);
}

extern "C" int huren_dicom_render(const char *path, const huren_dicom_render_options *opts,
                                  char **out, size_t *len, unsigned *width, unsigned *height,
                                  char *err, size_t errlen)
{
    if (!path || !opts || !out || !len) {
        huren_dicom__seterr(err, errlen, "huren_dicom_render: NULL argument");
        return HUREN_DICOM_EINVAL;
    }
    *out = NULL;
    *len = 0;
    try {
        huren_dicom__log_init();
        return render(path, opts, out, len, width, height, err, errlen);
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected exception", path);
    }
    return HUREN_DICOM_ERROR;
}
