/* status.cpp: names of the DIMSE status codes huren sends and receives (PS3.4 annexes B, C and
 * PS3.7 annex C), for logs and error messages. */
#include "huren_dicom.h"

extern "C" const char *huren_dicom_status_str(uint16_t status)
{
    switch (status) {
    case 0x0000:
        return "Success";
    case 0xFF00:
        return "Pending";
    case 0xFF01:
        return "Pending: optional keys not supported";
    case 0xFE00:
        return "Cancel";
    case 0x0107:
        return "Warning: attribute list error";
    case 0x0116:
        return "Warning: attribute value out of range";
    case 0x0110:
        return "Failure: processing failure";
    case 0x0111:
        return "Failure: duplicate SOP instance";
    case 0x0112:
        return "Failure: no such SOP instance";
    case 0x0117:
        return "Failure: invalid object instance";
    case 0x0122:
        return "Failure: SOP class not supported";
    case 0x0124:
        return "Refused: not authorized";
    case 0x0211:
        return "Failure: unrecognized operation";
    case 0x0212:
        return "Failure: mistyped argument";
    case 0xA700:
        return "Refused: Out of resources";
    case 0xA701:
        return "Refused: Out of resources - unable to calculate number of matches";
    case 0xA702:
        return "Refused: Out of resources - unable to perform sub-operations";
    case 0xA801:
        return "Refused: Move Destination unknown";
    case 0xA900:
        return "Error: Data Set does not match SOP Class";
    case 0xB000:
        return "Warning: Sub-operations complete - one or more failures";
    case 0xB007:
        return "Warning: Data Set does not match SOP Class";
    case 0xB006:
        return "Warning: Elements discarded";
    case 0xC000:
        return "Error: Cannot understand";
    case 0xC001:
        return "Failed: Unable to process";
    default:
        break;
    }
    if ((status & 0xF000) == 0xA000)
        return "Failure: Refused";
    if ((status & 0xF000) == 0xC000)
        return "Failure: Unable to process";
    if ((status & 0xF000) == 0xB000)
        return "Warning";
    return "Unknown status";
}
