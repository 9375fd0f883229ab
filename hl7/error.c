/* error.c: error codes of the hl7 module, their names, and the helper that writes an error
 * message into a caller's buffer. Messages never quote field values (they may be logged). */
#include <stdio.h>

#include "hl7_int.h"

void huren_hl7__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    huren_hl7__printable(err);
}

/* Messages may quote bits of untrusted input (a version, an escape): no control characters,
 * so that a log line stays one line. */
void huren_hl7__printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = '?';
}

const char *huren_hl7_strerror(int rc)
{
    switch (rc) {
    case HUREN_HL7_OK:
        return "ok";
    case HUREN_HL7_EINVAL:
        return "invalid argument";
    case HUREN_HL7_ENOMEM:
        return "out of memory";
    case HUREN_HL7_ETOOBIG:
        return "too big";
    case HUREN_HL7_ENOMSH:
        return "no MSH segment";
    case HUREN_HL7_EDELIM:
        return "bad encoding characters";
    case HUREN_HL7_ESYNTAX:
        return "syntax error";
    case HUREN_HL7_EESCAPE:
        return "bad escape sequence";
    case HUREN_HL7_ECHARSET:
        return "charset error";
    case HUREN_HL7_EVERSION:
        return "unsupported version";
    case HUREN_HL7_EIO:
        return "i/o error";
    default:
        return "error";
    }
}
