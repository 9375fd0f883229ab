/* render.cpp: one frame of an instance rendered to an 8-bit JPEG or PNG for WADO-RS /rendered,
 * /thumbnail and WADO-URI, through DCMTK's dcmimage (VOI window, scaling) and its JPEG and PNG
 * plugins; compressed pixel data is decoded with dcmjpeg's and dcmdata's RLE decoders. */
#include "dicom_int.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmimgle/dcmimage.h"
/* the plugins need dcmimage.h first */
#include "dcmtk/dcmimage/dipipng.h"
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmjpeg/dipijpeg.h"
#include "dcmtk/dcmjpeg/djdecode.h"

static void register_codecs()
{
    static std::once_flag once;
    std::call_once(once, [] {
        DJDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

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

static int render(const char *path, const huren_dicom_render_options *o, char **out, size_t *len,
                  unsigned *width, unsigned *height, char *err, size_t errlen)
{
    register_codecs();
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    if (c.bad()) {
        huren_dicom__seterr(err, errlen, "%s: %s", path, c.text());
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
    DicomImage img(&ff, ds->getOriginalXfer(), CIF_UsePartialAccessToPixelData, frame - 1, 1);
    if (img.getStatus() != EIS_Normal) {
        huren_dicom__seterr(err, errlen, "cannot render: %s",
                            DicomImage::getString(img.getStatus()));
        return HUREN_DICOM_ENOTSUP;
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
