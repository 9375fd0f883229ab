/* hl7_int.h: declarations shared by the files of hl7/ and never included outside it:
 * the parsed message's layout, the bounded string buffer, charset and escape helpers. */
#ifndef HUREN_HL7_INT_H
#define HUREN_HL7_INT_H

#include "huren_buf.h"
#include <stdarg.h>
#include <stddef.h>

#include "huren_hl7.h"

/* Indexes into the five encoding characters, as MSH-1 + MSH-2 give them. */
enum { HL7_FSEP = 0, HL7_CSEP = 1, HL7_RSEP = 2, HL7_ESC = 3, HL7_SSEP = 4 };

struct huren_hl7_seg {
    const huren_hl7_msg *msg;
    char name[4];
    size_t off; /* the segment line in msg->text, without its terminator */
    size_t len;
};

/* One parsed message. `text` is the whole message in UTF-8; each leaf (a maximal run without
 * delimiters) at text[a..b) is stored unescaped and NUL-terminated at out[2a..], which the
 * room of 2(b-a)+2 bytes up to the next leaf always holds (see escape.c). */
struct huren_hl7_msg {
    char *text;
    size_t text_len;
    char *out;
    huren_hl7_seg *segs;
    size_t nsegs;
    char delims[6];   /* field, component, repetition, escape, sub-component */
    char fsep_str[2]; /* MSH-1 as a string */
    char charset[64]; /* MSH-18 as written */
    const char *iconv_name;
    int partial;
};

/* Messages for err buffers. */
void huren_hl7__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces control characters in s by '?'. */
void huren_hl7__printable(char *s);

/* the bounded buffer the encoder, the ACK builder and the MLLP decoder write into
 * (common/huren_buf.h); its error codes are hl7's own HUREN_HL7_ENOMEM and _ETOOBIG */
_Static_assert(HUREN_BUF_ENOMEM == HUREN_HL7_ENOMEM, "buffer and hl7 error codes agree");
_Static_assert(HUREN_BUF_ETOOBIG == HUREN_HL7_ETOOBIG, "buffer and hl7 error codes agree");

/* charset.c */
/* Maps an MSH-18 label (table 0211 or a vendor spelling, case, spaces, '-', '_' and '.'
 * ignored) to an iconv name; NULL if unsupported. "" is not accepted here. */
const char *huren_hl7__charset_iconv(const char *label);
/* 1 for double-byte sets whose trail bytes may equal a delimiter (GB18030, BIG5, ...). */
int huren_hl7__charset_is_multibyte(const char *iconv_name);
/* 1 if the name is "UTF-8" (no conversion needed). */
int huren_hl7__charset_is_utf8(const char *iconv_name);
/* Converts in[0..len) from iconv_name into a new UTF-8 buffer *out (NUL-terminated, length
 * *out_len, at most 4 * len + 1 bytes). On invalid bytes: HUREN_HL7_ECHARSET with the offset
 * of the first bad byte in *bad_off; when `lossy` is set bad bytes become '?' instead. */
int huren_hl7__charset_to_utf8(const char *iconv_name, const char *in, size_t len, int lossy,
                               char **out, size_t *out_len, size_t *bad_off);
/* Converts UTF-8 into iconv_name, characters it cannot hold becoming '?'. */
int huren_hl7__charset_from_utf8(const char *iconv_name, const char *in, size_t len, char **out,
                                 size_t *out_len);
/* Length of the valid UTF-8 prefix of s[0..len). */
size_t huren_hl7__utf8_valid_prefix(const char *s, size_t len);

/* escape.c */
/* Unescapes the leaf in[0..len) into dst (room dstcap, NUL-terminated). Returns the length
 * or HUREN_HL7_EESCAPE / HUREN_HL7_ECHARSET with a message in err; with `lossy` bad escapes
 * are copied as text. */
int huren_hl7__unescape(const huren_hl7_msg *msg, const char *in, size_t len, char *dst,
                        size_t dstcap, huren_hl7_escape_policy policy, int lossy, char *err,
                        size_t errlen);
/* Appends value escaped for the delimiters to sb. */
int huren_hl7__escape_to(huren_buf *sb, const char *value, const char *delims);

/* message.c */
/* Finds the leaf at (field, rep, comp, sub) in seg: 0 and [*a, *b) as text offsets, or -1. */
int huren_hl7__locate(const huren_hl7_seg *seg, int field, int rep, int comp, int sub, size_t *a,
                      size_t *b);

#endif /* HUREN_HL7_INT_H */
