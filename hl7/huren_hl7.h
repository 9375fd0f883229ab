/* huren_hl7.h: the HL7 v2 module's public interface.
 * Parses HL7 v2.1-2.9 messages (any delimiter set, escapes, MSH-18 charsets of table 0211
 * and common vendor spellings converted to UTF-8), splits batches and files, encodes messages and
 * ACKs, and runs an MLLP listener that hands each message to a handler returning the ACK code.
 * Knows no database; never logs. */
#ifndef HUREN_HL7_H
#define HUREN_HL7_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. 0 is success; every failure is negative. Functions that fail also write a
 * human-readable one-line message into the caller's `err` buffer of `errlen` bytes (or keep
 * it on the handle). Messages name positions, offsets, charsets and versions, never patient
 * data values, so they are safe to log. */
#define HUREN_HL7_OK 0
#define HUREN_HL7_ERROR (-1)     /* generic failure */
#define HUREN_HL7_EINVAL (-2)    /* bad argument */
#define HUREN_HL7_ENOMEM (-3)    /* out of memory */
#define HUREN_HL7_ETOOBIG (-4)   /* over max_message_size, max_segments or another bound */
#define HUREN_HL7_ENOMSH (-5)    /* the message does not start with an MSH segment */
#define HUREN_HL7_EDELIM (-6)    /* MSH-1/MSH-2 encoding characters unusable */
#define HUREN_HL7_ESYNTAX (-7)   /* bad segment name, missing required MSH field, ... */
#define HUREN_HL7_EESCAPE (-8)   /* unknown or malformed escape sequence */
#define HUREN_HL7_ECHARSET (-9)  /* unsupported MSH-18, or bytes invalid for the declared set */
#define HUREN_HL7_EVERSION (-10) /* MSH-12 outside 2.1 .. 2.9 */
#define HUREN_HL7_EIO (-11)      /* file, socket or thread failure */

/* A short constant description of an error code (HUREN_HL7_ECHARSET -> "charset error"). */
const char *huren_hl7_strerror(int rc);

/* ---------------------------------------------------------------------------------------- */
/* Parser */

/* Escape sequences decoded: \F\ \S\ \T\ \R\ \E\ (the delimiters), \.br\ and \.sp\ (a
 * newline), \H\ and \N\ (highlighting: dropped), \Xhh..\ (bytes in the message's charset,
 * converted to UTF-8; \X00\ refused). Any other (\Zxx\, \Cxxyy\, \Mxxyyzz\, \.in\, ...)
 * follows this policy: fail the parse, or keep the sequence text as it is, as interface
 * engines do. KEEP also keeps a lone escape character ("C:\temp") and a malformed \X..\ as
 * text. */
typedef enum huren_hl7_escape_policy {
    HUREN_HL7_ESCAPE_ERROR = 0, /* HUREN_HL7_EESCAPE */
    HUREN_HL7_ESCAPE_KEEP = 1   /* default: keep "\Zxx\" literally in the value */
} huren_hl7_escape_policy;

typedef struct huren_hl7_options {
    size_t max_message_size;     /* bytes of one message before conversion (default 16 MiB) */
    size_t max_segments;         /* segments in one message (default 10000) */
    const char *default_charset; /* MSH-18 empty: an MSH-18 name; default "UNICODE UTF-8" */
    int accept_any_version;      /* 1: MSH-12 outside 2.1..2.9 is accepted (default 0) */
    huren_hl7_escape_policy unknown_escape;
} huren_hl7_options;

/* MSH-18 character sets understood, case, spaces, '-', '_' and '.' ignored. Table 0211:
 * "ASCII", "8859/1" .. "8859/9" (and "8859/15"), "ISO IR14", "ISO IR87", "ISO IR159" (ISO 2022
 * Japanese, decoded as ISO-2022-JP-2), "ISO IR149" and "KS X 1001" (8-bit Korean), "GB 18030-2000",
 * "BIG-5", "CNS 11643-1992" (EUC-TW), "UNICODE UTF-8", "UNICODE" (taken as UTF-8, as senders use
 * it). Vendor spellings: "UTF-8", "UTF8", "ISO_IR 192", "GB18030", "GBK", "GB2312", "CP936",
 * "EUC-CN", "BIG5", "EUC-TW", "EUC-KR", "CP949", "SHIFT_JIS", "EUC-JP", "ISO-8859-1" ..,
 * "ISO_IR 100", "LATIN1", "WINDOWS-1252". Of several repetitions the first naming more than
 * ASCII is used ("~ISO IR87"). Others (UTF-16/32) fail with HUREN_HL7_ECHARSET. */
#define HUREN_HL7_OPTIONS_INIT                                                                     \
    {                                                                                              \
        (size_t)16 << 20, 10000, "UNICODE UTF-8", 0, HUREN_HL7_ESCAPE_KEEP                         \
    }

typedef struct huren_hl7_msg huren_hl7_msg; /* opaque; read-only after parse, so a parsed
                                               message may be read from several threads */
typedef struct huren_hl7_seg huren_hl7_seg; /* a segment, borrowed from its message */

/* Parses one message of `len` bytes (segments ended by CR, LF or CRLF). `opts` may be NULL
 * for defaults. The text is converted from its MSH-18 character set to UTF-8 and every escape
 * sequence is checked now, so accessors cannot fail later.
 * Returns 0 and *out (free with huren_hl7_msg_free), or a negative code, *out = NULL and a
 * message in err (e.g. "MSH-18 declares GB18030 but byte 0xFF at offset 52 is not valid
 * GB18030"). */
int huren_hl7_msg_parse(const char *data, size_t len, const huren_hl7_options *opts,
                        huren_hl7_msg **out, char *err, size_t errlen);

/* Best effort for messages huren_hl7_msg_parse() rejected: reads only the MSH segment, with
 * no version check, undecodable bytes replaced by '?' and bad escapes kept as text, so that
 * an ACK can still name the sender and the control id. Fails (HUREN_HL7_ENOMSH,
 * HUREN_HL7_EDELIM, ...) only when no MSH can be read at all; then build the ACK from NULL. */
int huren_hl7_msg_parse_header(const char *data, size_t len, const huren_hl7_options *opts,
                               huren_hl7_msg **out, char *err, size_t errlen);

/* NULL-safe. */
void huren_hl7_msg_free(huren_hl7_msg *msg);

/* Header values, unescaped UTF-8, borrowed until huren_hl7_msg_free(); "" when empty. */
const char *huren_hl7_msg_type(const huren_hl7_msg *msg);               /* MSH-9.1, "ORU" */
const char *huren_hl7_msg_trigger(const huren_hl7_msg *msg);            /* MSH-9.2, "R01" */
const char *huren_hl7_msg_control_id(const huren_hl7_msg *msg);         /* MSH-10 */
const char *huren_hl7_msg_version(const huren_hl7_msg *msg);            /* MSH-12.1, "2.5.1" */
const char *huren_hl7_msg_sending_app(const huren_hl7_msg *msg);        /* MSH-3.1 */
const char *huren_hl7_msg_sending_facility(const huren_hl7_msg *msg);   /* MSH-4.1 */
const char *huren_hl7_msg_receiving_app(const huren_hl7_msg *msg);      /* MSH-5.1 */
const char *huren_hl7_msg_receiving_facility(const huren_hl7_msg *msg); /* MSH-6.1 */
/* MSH-18 as written ("GB18030"; "" when absent) and the iconv name used ("UTF-8", ...). */
const char *huren_hl7_msg_charset(const huren_hl7_msg *msg);
const char *huren_hl7_msg_charset_iconv(const huren_hl7_msg *msg);
/* The encoding characters: field, component, repetition, escape, sub-component. */
const char *huren_hl7_msg_delimiters(const huren_hl7_msg *msg); /* "|^~\\&" */
/* The whole message converted to UTF-8 (still escaped, segment terminators as received,
 * NUL-terminated), borrowed until huren_hl7_msg_free(). */
const char *huren_hl7_msg_text(const huren_hl7_msg *msg, size_t *len);
/* 1 for a message from huren_hl7_msg_parse_header() (only MSH available). */
int huren_hl7_msg_is_partial(const huren_hl7_msg *msg);

/* Value access. All positions are 1-based as in HL7 notation: PID-5.2 is field 5, rep 1,
 * comp 2, sub 1; seg_repeat 1 is the first segment of that name. For MSH, field 1 is the field
 * separator and field 2 the encoding characters (returned verbatim), as in the standard.
 * Returns unescaped UTF-8, borrowed until huren_hl7_msg_free(); NULL when the position does
 * not exist in the message (beyond the last segment/field/repetition/...); "" when it exists
 * but is empty, and also for the HL7 null value `""` (see huren_hl7_msg_is_null). */
const char *huren_hl7_msg_get(const huren_hl7_msg *msg, const char *seg_name, int seg_repeat,
                              int field, int rep, int comp, int sub);
/* 1 when the value at that position is the HL7 null `""` ("delete this value"), else 0. */
int huren_hl7_msg_is_null(const huren_hl7_msg *msg, const char *seg_name, int seg_repeat, int field,
                          int rep, int comp, int sub);

/* Segments in message order (index 0 is MSH), e.g. to walk OBR and the OBX that follow it. */
size_t huren_hl7_msg_segment_count(const huren_hl7_msg *msg);
const huren_hl7_seg *huren_hl7_msg_segment(const huren_hl7_msg *msg, size_t index);
/* The seg_repeat-th (1-based) segment named `name`, or NULL. */
const huren_hl7_seg *huren_hl7_msg_find(const huren_hl7_msg *msg, const char *name, int seg_repeat);
const char *huren_hl7_seg_name(const huren_hl7_seg *seg); /* "PID" */
/* Number of fields after the name (MSH counts MSH-1 and MSH-2). */
int huren_hl7_seg_field_count(const huren_hl7_seg *seg);
/* Repetitions in a field (0 when the field is absent or empty), components in one repetition,
 * sub-components in one component. */
int huren_hl7_seg_rep_count(const huren_hl7_seg *seg, int field);
int huren_hl7_seg_comp_count(const huren_hl7_seg *seg, int field, int rep);
int huren_hl7_seg_sub_count(const huren_hl7_seg *seg, int field, int rep, int comp);
/* Same rules as huren_hl7_msg_get() / huren_hl7_msg_is_null() within one segment. */
const char *huren_hl7_seg_get(const huren_hl7_seg *seg, int field, int rep, int comp, int sub);
int huren_hl7_seg_is_null(const huren_hl7_seg *seg, int field, int rep, int comp, int sub);
/* The whole field as written (UTF-8, still escaped, delimiters kept), not NUL-terminated;
 * NULL and *len = 0 when absent. */
const char *huren_hl7_seg_raw(const huren_hl7_seg *seg, int field, size_t *len);

/* ---------------------------------------------------------------------------------------- */
/* Splitting batches and files */

/* Called for each message found; `index` counts from 0 and `offset` is where the message
 * starts in the input (or file), for error reports. The bytes are borrowed for the call and
 * still need huren_hl7_msg_parse(). Return 0 to go on, non-zero to stop the split (that value
 * is then returned by the split function). */
typedef int (*huren_hl7_split_cb)(const char *data, size_t len, size_t index, size_t offset,
                                  void *payload);

/* Splits text holding one message, several messages (each starting at an MSH segment,
 * optionally separated by blank lines), an FHS/BHS ... BTS/FTS batch (the batch header and
 * trailer segments are dropped), or MLLP frames (VT ... FS CR). Content that is not inside a
 * message (a segment before any MSH) is passed on as its own chunk, so that its parse fails
 * and can be reported. Returns 0, a callback's non-zero value, or a negative code. */
int huren_hl7_split(const char *data, size_t len, huren_hl7_split_cb cb, void *payload, char *err,
                    size_t errlen);

/* huren_hl7_split() on a file (memory-mapped, not copied), for `huren import`. Fails with
 * HUREN_HL7_ETOOBIG when the file is larger than max_file_size (0: no limit), or HUREN_HL7_EIO.
 */
int huren_hl7_file_split(const char *path, size_t max_file_size, huren_hl7_split_cb cb,
                         void *payload, char *err, size_t errlen);

/* ---------------------------------------------------------------------------------------- */
/* Encoder */

typedef struct huren_hl7_enc huren_hl7_enc; /* opaque; one thread at a time */

/* A new encoder writing segments ended by CR. `delimiters` are the five encoding characters
 * (NULL: "|^~\\&"); `max_size` bounds the message (0: 16 MiB). Returns 0 or a negative code. */
int huren_hl7_enc_new(huren_hl7_enc **out, const char *delimiters, size_t max_size);
void huren_hl7_enc_free(huren_hl7_enc *enc); /* NULL-safe */
const char *huren_hl7_enc_errmsg(const huren_hl7_enc *enc);

/* Starts a segment. For "MSH" it writes "MSH|^~\&" (MSH-1 and MSH-2), so the next field
 * written is MSH-3. */
int huren_hl7_enc_segment(huren_hl7_enc *enc, const char *name);
/* Appends a new field / repetition / component / sub-component holding `value` (UTF-8, NULL
 * = empty), escaping delimiters (\F\ \S\ \R\ \E\ \T\), newlines (\.br\) and other control
 * characters (\Xhh\). The text `""` passes through unchanged and so writes the HL7 null. */
int huren_hl7_enc_field(huren_hl7_enc *enc, const char *value);
int huren_hl7_enc_repeat(huren_hl7_enc *enc, const char *value);
int huren_hl7_enc_component(huren_hl7_enc *enc, const char *value);
int huren_hl7_enc_subcomponent(huren_hl7_enc *enc, const char *value);
/* Appends text as is, for values already encoded. */
int huren_hl7_enc_raw(huren_hl7_enc *enc, const char *text, size_t len);
/* The message so far (segments CR-terminated), borrowed until the next call on enc. */
const char *huren_hl7_enc_data(const huren_hl7_enc *enc, size_t *len);

/* Escapes one value into dst (dstlen bytes, NUL-terminated). Returns the length or
 * HUREN_HL7_ETOOBIG. `delimiters` as for huren_hl7_enc_new(). */
int huren_hl7_escape(const char *value, const char *delimiters, char *dst, size_t dstlen);

/* ---------------------------------------------------------------------------------------- */
/* ACK */

/* Common values of HL7 table 0357 for the ERR segment's error code. */
#define HUREN_HL7_ERR_SEGMENT_SEQUENCE "100"
#define HUREN_HL7_ERR_REQUIRED_FIELD "101"
#define HUREN_HL7_ERR_DATA_TYPE "102"
#define HUREN_HL7_ERR_UNSUPPORTED_TYPE "200"
#define HUREN_HL7_ERR_UNSUPPORTED_EVENT "201"
#define HUREN_HL7_ERR_UNSUPPORTED_VERSION "203"
#define HUREN_HL7_ERR_UNKNOWN_KEY "204"
#define HUREN_HL7_ERR_INTERNAL "207"

/* Builds the ACK of `msg` (which may be partial, or NULL when no MSH was readable): MSH with
 * sender and receiver swapped, a new control id, the original version (2.5.1 when unknown),
 * MSH-9 ACK^<trigger>^ACK, and MSA (code, original MSH-10, text). An ERR segment is added
 * unless code is "AA": ERR-3 `error_code` (NULL: "207"), ERR-4 severity E, and for versions
 * before 2.5 also ERR-1. The ACK is written in the message's charset (MSH-18 copied);
 * characters that charset cannot hold become '?'. `code` is "AA", "AE" or "AR".
 * Returns 0 and *out (free with huren_hl7_buf_free), or a negative code and err. */
int huren_hl7_ack_build(const huren_hl7_msg *msg, const char *code, const char *text,
                        const char *error_code, char **out, size_t *out_len, char *err,
                        size_t errlen);
/* The same, with the error location of the ERR segment: `location` is "SEG^seq^field" (table
 * ERL: segment id, its occurrence, field; "SEG^seq" for a whole segment; NULL or "" for none).
 * It goes to ERR-2 from 2.5 on, and into ERR-1 (segment^sequence^field^code) before. */
int huren_hl7_ack_build_at(const huren_hl7_msg *msg, const char *code, const char *text,
                           const char *error_code, const char *location, char **out,
                           size_t *out_len, char *err, size_t errlen);
/* Frees buffers returned by this module. NULL-safe. */
void huren_hl7_buf_free(char *buf);

/* The ACK code to send for a parse failure: "AR" when the message cannot be accepted at all
 * (no MSH, bad delimiters, version or charset unsupported, too big), "AE" otherwise; and the
 * matching table 0357 error code. */
const char *huren_hl7_ack_code_for(int parse_rc);
const char *huren_hl7_ack_error_for(int parse_rc);
/* The ERR location ("MSH^1^12") of a parse failure that names one, else "". */
const char *huren_hl7_ack_location_for(int parse_rc);

/* ---------------------------------------------------------------------------------------- */
/* MLLP framing: VT (0x0B) message FS (0x1C) CR */

/* Wraps a message into a frame. *out freed with huren_hl7_buf_free. */
int huren_hl7_mllp_frame(const char *data, size_t len, char **out, size_t *out_len);

typedef struct huren_hl7_mllp_decoder huren_hl7_mllp_decoder; /* opaque; one thread */

/* Called with each complete frame's content (without VT, FS, CR), borrowed for the call.
 * Return 0 to go on, non-zero to stop feeding (returned by huren_hl7_mllp_decoder_feed). */
typedef int (*huren_hl7_frame_cb)(const char *data, size_t len, void *payload);

/* A decoder that keeps at most max_frame bytes of one frame (0: 16 MiB). */
int huren_hl7_mllp_decoder_new(huren_hl7_mllp_decoder **out, size_t max_frame);
void huren_hl7_mllp_decoder_free(huren_hl7_mllp_decoder *dec); /* NULL-safe */
/* Feeds bytes as read: frames may be split across calls and several may come in one. Bytes
 * outside frames are skipped and counted. A frame growing past max_frame makes this return
 * HUREN_HL7_ETOOBIG; the decoder then drops everything (the caller should close). */
int huren_hl7_mllp_decoder_feed(huren_hl7_mllp_decoder *dec, const char *data, size_t len,
                                huren_hl7_frame_cb cb, void *payload);
size_t huren_hl7_mllp_decoder_noise(const huren_hl7_mllp_decoder *dec); /* bytes skipped */
int huren_hl7_mllp_decoder_in_frame(const huren_hl7_mllp_decoder *dec); /* 1: partial frame */

/* ---------------------------------------------------------------------------------------- */
/* MLLP listener */

typedef enum huren_hl7_ack_code {
    HUREN_HL7_AA = 0, /* accepted: only after the message is durably stored */
    HUREN_HL7_AE,     /* error: the sender may correct and resend */
    HUREN_HL7_AR      /* rejected */
} huren_hl7_ack_code;

/* What the handler answers; the listener turns it into the ACK. */
typedef struct huren_hl7_handler_result {
    huren_hl7_ack_code code; /* preset to HUREN_HL7_AE */
    char text[256];          /* MSA-3 / ERR text, UTF-8, may be empty */
    char error_code[16];     /* table 0357 code for ERR-3, "" = 207 */
    char location[32];       /* ERR error location "SEG^seq^field" ("PID^1^3"), "" = none */
} huren_hl7_handler_result;

/* Called on a connection's thread for each frame. `msg` is the parsed message, or NULL for an
 * unparseable one when handle_unparsed is set (result then preset to the listener's AR/AE and
 * parse error). `raw`/`len` are the frame's bytes and `peer` "ip:port"; all borrowed for the
 * call. May run on several threads at once. */
typedef void (*huren_hl7_handler)(const huren_hl7_msg *msg, const char *raw, size_t len,
                                  const char *peer, huren_hl7_handler_result *result,
                                  void *payload);

typedef enum huren_hl7_log_level {
    HUREN_HL7_LOG_ERROR = 0,
    HUREN_HL7_LOG_WARN,
    HUREN_HL7_LOG_INFO,
    HUREN_HL7_LOG_DEBUG
} huren_hl7_log_level;

/* Events of the listener (connections, parse errors, oversize frames, noise, timeouts). The
 * text holds peers, control ids and error messages, never field values. Any thread. */
typedef void (*huren_hl7_log_cb)(huren_hl7_log_level level, const char *message, void *payload);

typedef struct huren_hl7_mllp_options {
    const char *bind_address; /* numeric IPv4/IPv6 address, default "0.0.0.0" */
    int port;                 /* 0: pick a free port (see huren_hl7_mllp_port); default 2575 */
    int max_connections;      /* concurrent connections; more are accepted and closed */
    int idle_timeout_s;       /* close a connection silent this long (0: never) */
    int write_timeout_s;      /* give up sending an ACK after this long */
    size_t max_message_size;  /* largest frame kept in memory; larger closes the connection */
    int handle_unparsed;      /* 1: call the handler (msg NULL) for unparseable messages too */
    huren_hl7_options parse;  /* parser options (its max_message_size is raised to the frame
                                 limit when smaller) */
    huren_hl7_log_cb log;     /* may be NULL; receives the start() payload */
} huren_hl7_mllp_options;

#define HUREN_HL7_MLLP_OPTIONS_INIT                                                                \
    {                                                                                              \
        "0.0.0.0", 2575, 64, 300, 30, (size_t)16 << 20, 0, HUREN_HL7_OPTIONS_INIT, NULL            \
    }

typedef struct huren_hl7_mllp huren_hl7_mllp; /* opaque listener */

/* Binds opts->bind_address:opts->port, listens and serves on its own threads (one per
 * connection). Returns 0 and *out, or HUREN_HL7_EINVAL / HUREN_HL7_EIO ("port 2575 busy:
 * Address already in use") and err. opts is copied, but the handler, payload, log callback
 * and opts->parse.default_charset must stay valid until huren_hl7_mllp_stop(). */
int huren_hl7_mllp_start(huren_hl7_mllp **out, const huren_hl7_mllp_options *opts,
                         huren_hl7_handler handler, void *payload, char *err, size_t errlen);
/* The port actually bound. */
int huren_hl7_mllp_port(const huren_hl7_mllp *srv);
/* Connections currently open. */
int huren_hl7_mllp_connections(const huren_hl7_mllp *srv);
/* Counters since start, for /metrics. */
typedef struct huren_hl7_mllp_stats {
    unsigned long long connections;               /* accepted and served */
    unsigned long long refused;                   /* closed at once: max_connections reached */
    unsigned long long messages;                  /* frames received */
    unsigned long long acks_aa, acks_ae, acks_ar; /* ACKs built and sent (or attempted) */
    unsigned long long parse_errors;              /* frames that did not parse */
    unsigned long long oversize_frames; /* connections closed for a frame over the maximum */
    unsigned long long idle_timeouts;   /* connections closed for silence */
    unsigned long long noise_bytes;     /* bytes skipped outside frames */
    unsigned long long send_errors;     /* ACKs that could not be sent */
    unsigned long long bad_framing;     /* connections with bytes outside frames or closed
                                           inside a frame (each counted once) */
    int open_connections;               /* now */
} huren_hl7_mllp_stats;

void huren_hl7_mllp_stats_get(const huren_hl7_mllp *srv, huren_hl7_mllp_stats *out);

/* Stops accepting, lets handlers that are running finish and send their ACK for up to
 * grace_s seconds, then closes every connection, joins every thread and frees srv.
 * NULL-safe. */
void huren_hl7_mllp_stop(huren_hl7_mllp *srv, int grace_s);

#ifdef __cplusplus
}
#endif

#endif /* HUREN_HL7_H */
