/* j2k.cpp: JPEG 2000 frames (PS3.5 A.4.4, transfer syntaxes 1.2.840.10008.1.2.4.90/91) decoded
 * with OpenJPEG into native pixels for rendering, since DCMTK 3.6.7 has no JPEG 2000 decoder.
 * The codestream is read from memory; a JP2 wrapper, which some writers add, is accepted too. */
#include "dicom_int.h"

#include <cstring>
#include <openjpeg.h>

namespace
{
struct mem_stream {
    const unsigned char *data;
    size_t size, pos;
};

OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user)
{
    mem_stream *m = static_cast<mem_stream *>(user);
    if (m->pos >= m->size)
        return (OPJ_SIZE_T)-1;
    size_t k = n < m->size - m->pos ? n : m->size - m->pos;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user)
{
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0 ? (size_t)-n > m->pos : (size_t)n > m->size - m->pos)
        return -1;
    m->pos = (size_t)((OPJ_OFF_T)m->pos + n);
    return n;
}

OPJ_BOOL mem_seek(OPJ_OFF_T n, void *user)
{
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0 || (size_t)n > m->size)
        return OPJ_FALSE;
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

void on_error(const char *msg, void *user)
{
    std::string *e = static_cast<std::string *>(user);
    if (e->empty()) {
        *e = msg;
        while (!e->empty() && (e->back() == '\n' || e->back() == ' '))
            e->pop_back();
    }
}

void on_quiet(const char *, void *) {}

struct decoder {
    opj_codec_t *codec = nullptr;
    opj_stream_t *stream = nullptr;
    opj_image_t *image = nullptr;
    ~decoder()
    {
        if (image)
            opj_image_destroy(image);
        if (stream)
            opj_stream_destroy(stream);
        if (codec)
            opj_destroy_codec(codec);
    }
};

/* Interleave the components into 8- or 16-bit samples, little endian. */
bool interleave(const opj_image_t *img, huren_dicom__j2k_image &out, std::string &err)
{
    unsigned nc = img->numcomps;
    const opj_image_comp_t *c0 = &img->comps[0];
    out.width = c0->w;
    out.height = c0->h;
    out.components = nc;
    out.precision = c0->prec;
    out.is_signed = c0->sgnd != 0;
    for (unsigned c = 0; c < nc; c++) {
        const opj_image_comp_t *ci = &img->comps[c];
        if (ci->w != c0->w || ci->h != c0->h || ci->prec != c0->prec || !ci->data) {
            err = "components of different sizes or precisions";
            return false;
        }
    }
    if (c0->prec < 1 || c0->prec > 16) {
        err = "sample precision " + std::to_string(c0->prec) + " is not supported";
        return false;
    }
    size_t bytes = c0->prec <= 8 ? 1 : 2;
    size_t n = (size_t)c0->w * c0->h;
    out.pixels.assign(n * nc * bytes, '\0');
    for (size_t i = 0; i < n; i++)
        for (unsigned c = 0; c < nc; c++) {
            uint32_t v = (uint32_t)img->comps[c].data[i];
            size_t at = (i * nc + c) * bytes;
            out.pixels[at] = (char)(v & 0xFF);
            if (bytes == 2)
                out.pixels[at + 1] = (char)((v >> 8) & 0xFF);
        }
    return true;
}
} // namespace

bool huren_dicom__j2k_decode(const std::string &data, huren_dicom__j2k_image &out, std::string &err)
{
    static const unsigned char jp2_sig[] = {0, 0, 0, 12, 'j', 'P', ' ', ' '};
    mem_stream m = {reinterpret_cast<const unsigned char *>(data.data()), data.size(), 0};
    bool jp2 = data.size() >= 8 && memcmp(data.data(), jp2_sig, 8) == 0;
    decoder d;
    d.codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    if (!d.codec) {
        err = "OpenJPEG cannot create a decoder";
        return false;
    }
    opj_set_error_handler(d.codec, on_error, &err);
    opj_set_warning_handler(d.codec, on_quiet, nullptr);
    opj_set_info_handler(d.codec, on_quiet, nullptr);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(d.codec, &params)) {
        err = "OpenJPEG decoder setup failed";
        return false;
    }
    d.stream = opj_stream_create(64 * 1024, OPJ_TRUE);
    if (!d.stream) {
        err = "out of memory";
        return false;
    }
    opj_stream_set_user_data(d.stream, &m, nullptr);
    opj_stream_set_user_data_length(d.stream, data.size());
    opj_stream_set_read_function(d.stream, mem_read);
    opj_stream_set_skip_function(d.stream, mem_skip);
    opj_stream_set_seek_function(d.stream, mem_seek);
    bool ok = opj_read_header(d.stream, d.codec, &d.image) && d.image &&
              opj_decode(d.codec, d.stream, d.image) && opj_end_decompress(d.codec, d.stream);
    if (!ok || !d.image || d.image->numcomps == 0) {
        if (err.empty())
            err = "not a valid JPEG 2000 codestream";
        err = "JPEG 2000: " + err;
        return false;
    }
    if (!interleave(d.image, out, err)) {
        err = "JPEG 2000: " + err;
        return false;
    }
    return true;
}
