/* association_holder.cpp: a DcmSCU kept open between calls, for the dicom/ SCP tests that need
 * an association in progress (association limit, stop with grace and abort). */
#include "association_holder.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/scu.h"

struct tah_assoc {
    DcmSCU scu;
};

extern "C" tah_assoc *tah_open(int port, const char *called_ae)
{
    try {
        tah_assoc *a = new tah_assoc;
        a->scu.setAETitle("HOLDER");
        a->scu.setPeerHostName("127.0.0.1");
        a->scu.setPeerPort((Uint16)port);
        a->scu.setPeerAETitle(called_ae);
        a->scu.setACSETimeout(10);
        a->scu.setDIMSETimeout(10);
        a->scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        OFList<OFString> ts;
        ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        a->scu.addPresentationContext(UID_VerificationSOPClass, ts);
        if (a->scu.initNetwork().bad() || a->scu.negotiateAssociation().bad()) {
            delete a;
            return nullptr;
        }
        return a;
    } catch (...) {
        return nullptr;
    }
}

extern "C" int tah_echo(tah_assoc *a)
{
    return a && a->scu.sendECHORequest(0).good() ? 0 : -1;
}

extern "C" void tah_close(tah_assoc *a)
{
    if (!a)
        return;
    if (a->scu.isConnected() && a->scu.releaseAssociation().bad())
        a->scu.abortAssociation();
    delete a;
}
