/* coerce.cpp: patient identity coercion of a retrieved copy on its way out. A study retrieved
 * from another hospital is stored as received; what this hospital serves and sends on carries
 * its own PatientID and IssuerOfPatientID, the source's kept in OtherPatientIDsSequence
 * (0010,1002), as IHE PIX and dcm4chee's attribute coercion do. */
#include "dicom_int.h"

#include <cstring>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcxfer.h"

static std::string value_of(DcmItem *it, const DcmTagKey &tag)
{
    OFString v;
    if (it->findAndGetOFStringArray(tag, v).bad())
        return std::string();
    return std::string(v.c_str());
}

static bool ascii(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Is (id, issuer) already an item of OtherPatientIDsSequence? */
static bool other_id_held(DcmItem *ds, const std::string &id, const std::string &issuer)
{
    DcmSequenceOfItems *seq = nullptr;
    if (ds->findAndGetSequence(DCM_OtherPatientIDsSequence, seq).bad() || !seq)
        return false;
    for (unsigned long i = 0; i < seq->card(); i++) {
        DcmItem *it = seq->getItem(i);
        if (value_of(it, DCM_PatientID) == id && value_of(it, DCM_IssuerOfPatientID) == issuer)
            return true;
    }
    return false;
}

OFCondition huren_dicom__coerce(DcmDataset *ds, const huren_dicom_coercion *c)
{
    if (!ds || !c || !c->patient_id || !*c->patient_id)
        return EC_IllegalParameter;
    const char *issuer = c->issuer ? c->issuer : "";
    /* a value that is not ASCII needs a character set that can carry it */
    if ((!ascii(c->patient_id) || !ascii(issuer)) &&
        value_of(ds, DCM_SpecificCharacterSet) != "ISO_IR 192") {
        OFCondition cc = ds->convertToUTF8();
        if (cc.bad())
            return cc;
    }
    std::string id = value_of(ds, DCM_PatientID), iss = value_of(ds, DCM_IssuerOfPatientID);
    bool same = id == c->patient_id && iss == issuer;
    if (!same && !id.empty() && !other_id_held(ds, id, iss)) {
        DcmItem *item = nullptr;
        OFCondition cc = ds->findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, item, -2);
        if (cc.bad())
            return cc;
        item->putAndInsertString(DCM_PatientID, id.c_str());
        if (!iss.empty())
            item->putAndInsertString(DCM_IssuerOfPatientID, iss.c_str());
        item->putAndInsertString(DCM_TypeOfPatientID, "TEXT");
    }
    OFCondition cc = ds->putAndInsertString(DCM_PatientID, c->patient_id);
    if (cc.good() && *issuer)
        cc = ds->putAndInsertString(DCM_IssuerOfPatientID, issuer);
    else if (cc.good())
        ds->findAndDeleteElement(DCM_IssuerOfPatientID);
    return cc;
}

extern "C" int huren_dicom_file_coerce(const char *in_path, const huren_dicom_coercion *c,
                                       const char *out_path, char *err, size_t errlen)
{
    if (!in_path || !out_path || !c || !c->patient_id || !*c->patient_id) {
        huren_dicom__seterr(err, errlen, "huren_dicom_file_coerce: no file or no PatientID");
        return HUREN_DICOM_EINVAL;
    }
    try {
        DcmFileFormat ff;
        OFCondition cc =
            ff.loadFile(in_path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_fileOnly);
        if (cc.bad()) {
            huren_dicom__seterr(err, errlen, "%s: %s", in_path, cc.text());
            return HUREN_DICOM_ECORRUPT;
        }
        DcmDataset *ds = ff.getDataset();
        E_TransferSyntax xfer = ds->getOriginalXfer();
        ds->loadAllDataIntoMemory();
        if ((cc = huren_dicom__coerce(ds, c)).bad()) {
            huren_dicom__seterr(err, errlen, "%s: coercing the patient: %s", in_path, cc.text());
            return HUREN_DICOM_ERROR;
        }
        /* same transfer syntax (compressed pixel data keeps its fragments), meta header kept */
        cc = ff.saveFile(out_path, xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                         EWM_fileformat);
        if (cc.bad()) {
            huren_dicom__seterr(err, errlen, "%s: %s", out_path, cc.text());
            return HUREN_DICOM_EIO;
        }
        return HUREN_DICOM_OK;
    } catch (const std::exception &e) {
        huren_dicom__seterr(err, errlen, "%s: %s", in_path, e.what());
    } catch (...) {
        huren_dicom__seterr(err, errlen, "%s: unexpected exception", in_path);
    }
    return HUREN_DICOM_ERROR;
}
