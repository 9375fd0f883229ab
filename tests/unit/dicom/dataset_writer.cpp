/* dataset_writer.cpp: builds the test datasets with DCMTK (a default secondary capture image
 * plus the caller's changes) and saves them as Part-10 files for the dicom/ unit tests. */
#include "dataset_writer.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"

extern "C" int tdw_write(const char *path, const tdw_kv *kv, size_t n)
{
    try {
        DcmFileFormat ff;
        DcmDataset *ds = ff.getDataset();
        ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.1.100");
        ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.3.4");
        ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4.1");
        ds->putAndInsertString(DCM_PatientName, "Test^Patient");
        ds->putAndInsertString(DCM_PatientID, "P1");
        ds->putAndInsertString(DCM_Modality, "OT");
        ds->putAndInsertString(DCM_StudyDate, "20240101");
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds->putAndInsertUint16(DCM_Rows, 8);
        ds->putAndInsertUint16(DCM_Columns, 8);
        ds->putAndInsertUint16(DCM_BitsAllocated, 8);
        ds->putAndInsertUint16(DCM_BitsStored, 8);
        ds->putAndInsertUint16(DCM_HighBit, 7);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        Uint8 pixels[64];
        for (int i = 0; i < 64; i++)
            pixels[i] = (Uint8)(i * 4);
        ds->putAndInsertUint8Array(DCM_PixelData, pixels, sizeof(pixels));
        for (size_t i = 0; i < n; i++) {
            DcmTagKey key((Uint16)(kv[i].tag >> 16), (Uint16)(kv[i].tag & 0xFFFF));
            if (kv[i].value)
                ds->putAndInsertString(key, kv[i].value);
            else
                ds->findAndDeleteElement(key);
        }
        return ff.saveFile(path, EXS_LittleEndianExplicit).good() ? 0 : -1;
    } catch (...) {
        return -1;
    }
}
