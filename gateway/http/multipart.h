/* multipart.h: MIME multipart/related (RFC 2046, RFC 2387) for DICOMweb: an incremental
 * reader that cuts a body arriving in chunks of any size into parts without holding them in
 * memory (STOW-RS), and a writer that streams parts from files and buffers (WADO-RS). */
#ifndef HUREN_GATEWAY_MULTIPART_H
#define HUREN_GATEWAY_MULTIPART_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MULTIPART_MAX_BOUNDARY 70   /* RFC 2046 5.1.1 */
#define MULTIPART_MAX_HEADERS 16384 /* bytes of one part's header block */

/* Parameter name (case-insensitive) of a Content-Type value such as
 * multipart/related; type="application/dicom"; boundary=abc, unquoted, into out. Returns 0, or
 * -1 if absent or longer than outlen - 1. */
int multipart_param(const char *content_type, const char *name, char *out, size_t outlen);
/* Does content_type have media type `type` ("multipart/related"), case-insensitive? */
int multipart_is_type(const char *content_type, const char *type);
/* Value of header `name` (case-insensitive) in a raw header block of a part; 0, or -1 when
 * absent, too long or malformed (control bytes such as NUL in the value). */
int multipart_header(const char *headers, size_t len, const char *name, char *out, size_t outlen);

/* What the reader calls; each returns 0, or -1 to stop (the feed then fails). */
typedef struct multipart_callbacks {
    int (*part_begin)(void *payload, const char *headers, size_t len);
    int (*part_data)(void *payload, const char *data, size_t len);
    int (*part_end)(void *payload);
} multipart_callbacks;

typedef struct multipart_reader multipart_reader;

/* A reader for a body with this boundary (1..70 characters). NULL if out of memory or the
 * boundary is not valid. Free with multipart_reader_free (NULL-safe). */
multipart_reader *multipart_reader_new(const char *boundary, const multipart_callbacks *cb,
                                       void *payload);
void multipart_reader_free(multipart_reader *r);
/* Feed the next bytes. Returns 0, or -1 (malformed, or a callback stopped): see _error. */
int multipart_reader_feed(multipart_reader *r, const char *data, size_t len);
/* At the end of the body: 0 if the close delimiter was seen, else -1 (truncated). */
int multipart_reader_finish(multipart_reader *r);
/* Why the reader failed; static or internal string. */
const char *multipart_reader_error(const multipart_reader *r);
/* Number of parts begun so far. */
size_t multipart_reader_parts(const multipart_reader *r);

/* Writer: parts added in order, then read sequentially as one body. */
typedef struct multipart_writer multipart_writer;

multipart_writer *multipart_writer_new(void);    /* random boundary; NULL if out of memory */
void multipart_writer_free(multipart_writer *w); /* NULL-safe; the stream free callback */
const char *multipart_writer_boundary(const multipart_writer *w);
/* A part read from the file at path (size bytes from offset, checked when read) or from data
 * (owned from here on, freed with free()). content_type and location (Content-Location, may be
 * NULL) are copied. Return 0 or -1 (out of memory). */
int multipart_writer_add_file(multipart_writer *w, const char *content_type, const char *location,
                              const char *path, uint64_t offset, uint64_t size);
int multipart_writer_add_data(multipart_writer *w, const char *content_type, const char *location,
                              char *data, size_t len);
/* Total body length. */
uint64_t multipart_writer_size(const multipart_writer *w);
/* http_stream_read: the body bytes at pos (sequential reads). */
ssize_t multipart_writer_read(void *w, uint64_t pos, char *buf, size_t max);

#endif
