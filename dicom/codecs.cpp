/* codecs.cpp: DCMTK's decoders (JPEG, JPEG-LS, RLE), registered once per process, for whoever
 * needs pixel data uncompressed: rendering, and a sub-operation to a receiver that does not
 * take the stored transfer syntax. (JPEG 2000 is not among them: DCMTK 3.6.7 has no free
 * decoder; j2k.cpp decodes it for rendering through OpenJPEG.) */
#include "dicom_int.h"

#include <mutex>

#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"

void huren_dicom__register_codecs()
{
    static std::once_flag once;
    std::call_once(once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}
