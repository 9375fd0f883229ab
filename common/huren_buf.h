/* huren_buf.h: the one growing buffer of the project, with a hard maximum. Every module that
 * assembles text or bytes of unknown length (SQL in index/, HL7 encoding and MLLP frames in
 * hl7/, answers and bodies in gateway/) writes into one; a write past the maximum or an
 * allocation failure fails, sticks (later writes fail too) and leaves the contents as they
 * were, so a caller may check once at the end. The data is always NUL-terminated once written. */
#ifndef HUREN_BUF_H
#define HUREN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define HUREN_BUF_ENOMEM (-3)  /* out of memory (the value of HUREN_HL7_ENOMEM) */
#define HUREN_BUF_ETOOBIG (-4) /* past the maximum (the value of HUREN_HL7_ETOOBIG) */
#define HUREN_BUF_EIO (-5)     /* huren_buf_read: the stream failed */

typedef struct huren_buf {
    char *data; /* NULL until the first write */
    size_t len;
    size_t cap;
    size_t max; /* most bytes it may hold; 0: no bound but memory */
    int failed; /* 0, or the sticky HUREN_BUF_E* of the first failed write */
} huren_buf;

/* A zeroed huren_buf is a valid, unbounded, empty buffer; init sets a bound. */
void huren_buf_init(huren_buf *b, size_t max);
/* Append; 0 or the sticky error. */
int huren_buf_add(huren_buf *b, const void *data, size_t len);
int huren_buf_adds(huren_buf *b, const char *s); /* NULL appends nothing */
int huren_buf_addc(huren_buf *b, char c);
int huren_buf_printf(huren_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int huren_buf_vprintf(huren_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append all that f holds, up to its end: 0, the sticky HUREN_BUF_E* of a write (past the
 * maximum: the file is too large), or HUREN_BUF_EIO when reading failed. The data is then
 * never NULL (an empty file gives ""). */
int huren_buf_read(huren_buf *b, FILE *f);
/* The data, owned by the caller from now on (NULL if nothing was written); b is emptied. */
char *huren_buf_release(huren_buf *b);
void huren_buf_free(huren_buf *b);

#endif
