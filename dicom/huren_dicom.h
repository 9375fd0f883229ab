/* huren_dicom.h: DICOM for huren, over DCMTK (which only the C++ files of dicom/ include).
 * Parses Part-10 files into UTF-8 elements, runs the DIMSE service class provider
 * (Verification, Storage, Query/Retrieve FIND/MOVE/GET) and calls the caller's handlers for
 * every event; knows no database and never logs on its own (see huren_dicom_handlers.log). */
#ifndef HUREN_DICOM_H
#define HUREN_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HUREN_DICOM_OK 0
#define HUREN_DICOM_ERROR (-1)     /* generic failure, message in err */
#define HUREN_DICOM_EINVAL (-2)    /* bad argument */
#define HUREN_DICOM_ENOTDICOM (-3) /* not a DICOM file (no DICM preamble, not a dataset) */
#define HUREN_DICOM_ECORRUPT (-4)  /* DICOM but truncated or malformed */
#define HUREN_DICOM_EIO (-5)       /* cannot open/read/write a file or socket */

/* DIMSE status codes the handlers return (PS3.4 and PS3.7 annexes). */
#define HUREN_DICOM_STATUS_SUCCESS 0x0000
/* not a DIMSE status: an instance of a batch that was not sent (huren_dicom_scu_store_batch) */
#define HUREN_DICOM_STATUS_NOT_SENT 0xFFFF
#define HUREN_DICOM_STATUS_PENDING 0xFF00
#define HUREN_DICOM_STATUS_CANCEL 0xFE00
#define HUREN_DICOM_STATUS_OUT_OF_RESOURCES 0xA700 /* store: refused, out of resources */
#define HUREN_DICOM_STATUS_MOVE_OUT_OF_RESOURCES_MATCHES 0xA701
#define HUREN_DICOM_STATUS_MOVE_DEST_UNKNOWN 0xA801 /* C-MOVE destination unknown */
#define HUREN_DICOM_STATUS_DATASET_MISMATCH 0xA900  /* identifier/dataset does not match */
#define HUREN_DICOM_STATUS_CANNOT_UNDERSTAND 0xC000
#define HUREN_DICOM_STATUS_UNABLE_TO_PROCESS 0xC001
#define HUREN_DICOM_STATUS_SUBOPS_WARNING 0xB000 /* one or more sub-operations failed */

/* One data element as text: tag (group << 16 | element), VR (two letters), value in UTF-8 with
 * multiple values separated by '\'. Binary VRs (OB, OW, UN, SQ, ...) are not represented. */
typedef struct huren_dicom_element {
    uint32_t tag;
    char vr[3];
    const char *value;
} huren_dicom_element;

#define HUREN_DICOM_TAG(g, e) (((uint32_t)(g) << 16) | (uint32_t)(e))

/* ---- Files ---------------------------------------------------------------------------------- */

/* A parsed Part-10 file: its top-level text elements converted to UTF-8 from the file's
 * Specific Character Set (GB18030, GBK, ISO_IR 192, ISO_IR 100, default repertoire, and the
 * others DCMTK's iconv knows), plus its meta header facts. */
typedef struct huren_dicom_file huren_dicom_file;

/* Parse path (reads up to but not including the pixel data). Its nesting is checked first
 * (huren_dicom_nesting_scan_file with huren_dicom_max_sequence_depth()). On failure returns
 * HUREN_DICOM_ENOTDICOM, HUREN_DICOM_ECORRUPT, HUREN_DICOM_ETOODEEP or HUREN_DICOM_EIO with a
 * reason in err. */
int huren_dicom_file_parse(const char *path, huren_dicom_file **out, char *err, size_t errlen);
void huren_dicom_file_free(huren_dicom_file *f); /* NULL-safe */
/* Borrowed array of the file's top-level text elements (meta header excluded), valid until free. */
const huren_dicom_element *huren_dicom_file_elements(const huren_dicom_file *f, size_t *n);
/* Value of one element or NULL; borrowed until free. */
const char *huren_dicom_file_value(const huren_dicom_file *f, uint32_t tag);
/* Transfer syntax UID from the meta header; borrowed until free. */
const char *huren_dicom_file_transfer_syntax(const huren_dicom_file *f);
/* Why the Specific Character Set could not be applied as declared (unknown label, bytes not
 * valid in it), or NULL. Values are then still UTF-8: kept if already UTF-8, else read as
 * GB18030, else as Latin-1. Borrowed until free. (Added by dicom/; source-compatible.) */
const char *huren_dicom_file_charset_warning(const huren_dicom_file *f);

/* A UID as PS3.5 9.1 allows: 1..64 characters of digits and dots, no empty component, no
 * leading zero in a multi-digit component. Anything else (path characters, '..') is refused. */
int huren_dicom_uid_valid(const char *uid);

/* Find a value in an element array; NULL if absent. */
const char *huren_dicom_elements_find(const huren_dicom_element *e, size_t n, uint32_t tag);

/* ---- Nesting limit (checked before DCMTK parses anything) --------------------------------- */

#define HUREN_DICOM_ETOODEEP (-8)         /* sequences nested deeper than the limit */
#define HUREN_DICOM_MAX_SEQUENCE_DEPTH 64 /* default limit; real data rarely exceeds 10 */

/* The process-wide limit on nested sequences that huren_dicom_file_parse() and the SCP (C-STORE
 * datasets, C-FIND/C-MOVE/C-GET identifiers) apply; 0 restores the default. Set it once at
 * start-up, before the SCP starts. */
void huren_dicom_max_sequence_depth_set(unsigned depth);
unsigned huren_dicom_max_sequence_depth(void);
/* How many datasets have been refused as nested too deep in this process (for metrics). */
uint64_t huren_dicom_depth_refused(void);

/* Walk the encoding of a dataset (no Part-10 header) in buf without recursion and without
 * DCMTK's parser: transfer_syntax gives VR and byte order (NULL = implicit VR little endian;
 * the deflated one is inflated as it goes). Returns 0 with *depth (may be NULL) set to the
 * deepest sequence nesting, HUREN_DICOM_ETOODEEP past max_depth, HUREN_DICOM_ECORRUPT when
 * the lengths do not fit together; the reason is in err. */
int huren_dicom_nesting_scan(const void *buf, size_t len, const char *transfer_syntax,
                             unsigned max_depth, unsigned *depth, char *err, size_t errlen);
/* The same for the file at path: a Part-10 file (its meta header gives the transfer syntax) or
 * a bare dataset (its first element tells the encoding). HUREN_DICOM_EIO if it cannot be read. */
int huren_dicom_nesting_scan_file(const char *path, unsigned max_depth, unsigned *depth, char *err,
                                  size_t errlen);

/* ---- Service class provider ----------------------------------------------------------------- */

typedef enum huren_dicom_level {
    HUREN_DICOM_LEVEL_PATIENT = 0,
    HUREN_DICOM_LEVEL_STUDY,
    HUREN_DICOM_LEVEL_SERIES,
    HUREN_DICOM_LEVEL_IMAGE
} huren_dicom_level;

typedef enum huren_dicom_model {
    HUREN_DICOM_MODEL_PATIENT_ROOT = 0,
    HUREN_DICOM_MODEL_STUDY_ROOT
} huren_dicom_model;

/* Who is on the other end of an association (for authorisation and audit). */
typedef struct huren_dicom_peer {
    const char *calling_ae;
    const char *called_ae;
    const char *address; /* numeric host */
    /* Over the TLS port: the subject (RFC 4514, e.g. "CN=ct1,O=Hospital A,C=CN") of the client
     * certificate the handshake verified, or "" if the client showed none. NULL on the plain
     * port. */
    const char *tls_subject;
} huren_dicom_peer;

/* A received C-STORE: the dataset was streamed into tmp_path (a Part-10 file in the options'
 * tmp_dir, with meta header, in the transfer syntax it arrived in). The handler adopts the file
 * (renames it away) or leaves it: dicom/ then reuses it for the association's next C-STORE
 * (creating a file per instance is what costs most for small ones) and deletes it when the
 * association ends. */
typedef struct huren_dicom_store_req {
    const huren_dicom_peer *peer;
    const char *tmp_path;
    const char *sop_class_uid;    /* from the request, checked against the dataset */
    const char *sop_instance_uid; /* from the request, checked against the dataset and valid */
    const char *transfer_syntax_uid;
    const huren_dicom_element *elements; /* top-level text elements, UTF-8 */
    size_t nelements;
} huren_dicom_store_req;

/* A C-FIND, C-MOVE or C-GET identifier. keys holds every element of the identifier except
 * QueryRetrieveLevel and SpecificCharacterSet, converted to UTF-8; an empty value asks for the
 * attribute to be returned (universal matching). */
typedef struct huren_dicom_query {
    const huren_dicom_peer *peer;
    huren_dicom_model model;
    huren_dicom_level level;
    const huren_dicom_element *keys;
    size_t nkeys;
    const char *move_destination; /* C-MOVE only, else NULL */
} huren_dicom_query;

/* Called by the find handler once per match. dicom/ answers with exactly the requested keys
 * (filled from elems where present, empty otherwise), plus QueryRetrieveLevel and
 * SpecificCharacterSet "ISO_IR 192". Returns nonzero if the SCU cancelled: stop then. */
typedef int (*huren_dicom_find_emit)(void *emit_ctx, const huren_dicom_element *elems, size_t n);

/* ---- Patient identity of a retrieved copy (coerce.cpp) --------------------------------------
 * A study retrieved from another hospital is kept as received; when served or sent on, it
 * carries this hospital's patient identifiers instead, the source's PatientID and
 * IssuerOfPatientID moved into an item of OtherPatientIDsSequence (0010,1002) with
 * TypeOfPatientID TEXT (once: coercing an already coerced dataset adds no second item). */
typedef struct huren_dicom_coercion {
    const char *patient_id; /* required: the PatientID to give */
    const char *issuer;     /* the IssuerOfPatientID to give; NULL or "" removes it */
} huren_dicom_coercion;

/* Write the Part-10 file in_path, coerced, to out_path (same transfer syntax: compressed pixel
 * data is copied as is). Returns 0, HUREN_DICOM_EINVAL, HUREN_DICOM_ECORRUPT (unreadable
 * input), HUREN_DICOM_EIO (cannot write) or HUREN_DICOM_ERROR, with the reason in err. */
int huren_dicom_file_coerce(const char *in_path, const huren_dicom_coercion *c,
                            const char *out_path, char *err, size_t errlen);

/* One file to send for a C-MOVE/C-GET. */
typedef struct huren_dicom_retrieve_item {
    char *path;
    char *sop_class_uid;
    char *sop_instance_uid;
    char *transfer_syntax_uid;
    uint64_t offset; /* where the Part-10 bytes start in path (a shared pack file) */
    uint64_t length; /* their length; 0 = the whole file */
    /* a retrieved copy: sent coerced to this PatientID / IssuerOfPatientID (see
     * huren_dicom_coercion); NULL: sent as stored */
    char *coerce_patient_id, *coerce_issuer;
} huren_dicom_retrieve_item;

/* Filled by a retrieve handler; free with huren_dicom_retrieve_list_free(). */
typedef struct huren_dicom_retrieve_list {
    huren_dicom_retrieve_item *items;
    size_t n, cap;
} huren_dicom_retrieve_list;
/* Append a copy of the strings. Returns 0 or HUREN_DICOM_ERROR (out of memory). */
int huren_dicom_retrieve_list_add(huren_dicom_retrieve_list *l, const char *path,
                                  const char *sop_class_uid, const char *sop_instance_uid,
                                  const char *transfer_syntax_uid);
/* The same for an instance stored inside a larger file: length bytes from offset. */
int huren_dicom_retrieve_list_add_range(huren_dicom_retrieve_list *l, const char *path,
                                        uint64_t offset, uint64_t length, const char *sop_class_uid,
                                        const char *sop_instance_uid,
                                        const char *transfer_syntax_uid);
/* Send the item added last coerced (a retrieved copy); the strings are copied. Returns 0 or
 * HUREN_DICOM_ERROR (no item, no PatientID, out of memory). */
int huren_dicom_retrieve_list_coerce(huren_dicom_retrieve_list *l, const huren_dicom_coercion *c);
void huren_dicom_retrieve_list_free(huren_dicom_retrieve_list *l); /* frees items, not l */

/* Log levels for huren_dicom_handlers.log (DCMTK's own logger is routed here too). */
typedef enum huren_dicom_log_level {
    HUREN_DICOM_LOG_ERROR = 0,
    HUREN_DICOM_LOG_WARN,
    HUREN_DICOM_LOG_INFO,
    HUREN_DICOM_LOG_DEBUG
} huren_dicom_log_level;

/* Callbacks, all called from association threads (concurrently); payload is passed back. */
typedef struct huren_dicom_handlers {
    /* C-STORE: return a DIMSE status (SUCCESS once durably stored). Required. */
    uint16_t (*store)(const huren_dicom_store_req *req, void *payload);
    /* C-FIND: call emit per match; return SUCCESS, CANCEL or a failure status. Required. */
    uint16_t (*find)(const huren_dicom_query *q, huren_dicom_find_emit emit, void *emit_ctx,
                     void *payload);
    /* C-MOVE/C-GET: fill out with the files that match; return SUCCESS or a failure status. */
    uint16_t (*retrieve)(const huren_dicom_query *q, huren_dicom_retrieve_list *out, void *payload);
    /* C-MOVE: the host (numeric or name) and port of a destination AE title; return 0 if known,
     * nonzero if not (the C-MOVE then fails with MOVE_DEST_UNKNOWN). */
    int (*resolve_ae)(const char *ae_title, char *host, size_t hostlen, int *port, void *payload);
    /* Association events and DCMTK diagnostics. May be NULL. */
    void (*log)(huren_dicom_log_level level, const char *msg, void *payload);
    /* After each C-STORE, C-FIND, C-MOVE, C-GET, C-ECHO, with its final status: for metrics and
     * audit. op is "C-STORE", ...; uid is the SOP instance or the query level. May be NULL. */
    void (*event)(const char *op, const huren_dicom_peer *peer, uint16_t status, const char *uid,
                  void *payload);
    void *payload;
    /* Called once per association request, after the AE titles are checked and before the
     * negotiation: return 0 to go on, nonzero to reject it (A-ASSOCIATE-RJ, permanent, calling
     * AE title not recognized) with the reason in why, which dicom/ logs. This is where a TLS
     * client's certificate (peer->tls_subject) is matched to its calling AE. May be NULL. */
    int (*admit)(const huren_dicom_peer *peer, char *why, size_t whylen, void *payload);
} huren_dicom_handlers;

typedef struct huren_dicom_scp_options {
    const char *aet;          /* our AE title; associations calling another are rejected */
    const char *bind_address; /* numeric IPv4/IPv6 address to listen on, e.g. "127.0.0.1" */
    int port;                 /* 0 = pick a free port (see huren_dicom_scp_port) */
    int max_associations;     /* concurrent associations; beyond it new ones are rejected */
    const char *const *allowed_calling_aes; /* NULL-terminated; NULL = any calling AE */
    unsigned max_pdu;                       /* our maximum receive PDU */
    int acse_timeout_s;
    int dimse_timeout_s; /* idle time within an association before it is aborted */
    int tcp_nodelay;     /* 1 (default): Nagle off on our sockets and sub-associations */
    const char *tmp_dir; /* where C-STORE datasets are streamed (same fs as the store) */
    /* Sockets whose A-ASSOCIATE-RQ has started to arrive but is not negotiated yet; beyond it a
     * new one is closed at once. Connections that have sent nothing are held apart (without a
     * thread; the oldest is closed when 4 x max_negotiating of them wait). */
    int max_negotiating;
    int negotiation_timeout_s;      /* from accept to a complete A-ASSOCIATE-RQ, else closed */
    unsigned max_identifier;        /* bytes of a C-FIND/C-MOVE/C-GET identifier, else refused */
    int accept_unknown_sop_classes; /* 1 (default): a UID DCMTK does not know is taken as a
                                     * storage SOP class; 0: only the storage classes it knows */
    /* DICOM TLS (PS3.15 B.11, DCMTK's dcmtls over OpenSSL): with tls_cert set, every
     * connection of this SCP is TLS 1.2 or newer (DCMTK's non-downgrading BCP 195 profile, plus
     * its ECDHE-ECDSA suites for EC keys), the handshake done by the listener without blocking.
     * PEM files: the certificate (chain) and its key, and the CAs that sign client
     * certificates (NULL or "": none is asked for). tls_require_client_cert: a client without a
     * verified certificate fails the handshake; 0: one is asked for and verified if shown. */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_client_ca;
    int tls_require_client_cert;
} huren_dicom_scp_options;

#define HUREN_DICOM_SCP_OPTIONS_INIT                                                               \
    {                                                                                              \
        "HUREN", "127.0.0.1", 11112, 16, NULL, 131072, 30, 60, 1, NULL, 16, 10, 1048576, 1, NULL,  \
            NULL, NULL, 1                                                                          \
    }

typedef struct huren_dicom_scp huren_dicom_scp;

/* Bind and start listening in a background thread; returns once the socket is bound (a busy
 * port is an error here, in err). Copies opts. */
int huren_dicom_scp_start(huren_dicom_scp **out, const huren_dicom_scp_options *opts,
                          const huren_dicom_handlers *handlers, char *err, size_t errlen);
/* The port actually bound. */
int huren_dicom_scp_port(const huren_dicom_scp *scp);
/* Number of associations in progress now and accepted in total. */
int huren_dicom_scp_active(const huren_dicom_scp *scp);
uint64_t huren_dicom_scp_total(const huren_dicom_scp *scp);
/* What the SCP refused or closed, by stage, since it started. */
typedef struct huren_dicom_scp_stats {
    uint64_t accepted;             /* associations acknowledged (= huren_dicom_scp_total) */
    uint64_t refused_busy;         /* A-ASSOCIATE-RJ: max_associations in progress */
    uint64_t refused_negotiating;  /* closed at once: max_negotiating requests arriving */
    uint64_t refused_ae;           /* A-ASSOCIATE-RJ: AE titles refused, or by handlers.admit */
    uint64_t refused_other;        /* A-ASSOCIATE-RJ: no presentation context acceptable */
    uint64_t negotiation_timeouts; /* closed: no complete A-ASSOCIATE-RQ in negotiation_timeout */
    uint64_t idle_closed;          /* silent connections closed to make room for new ones */
    uint64_t not_association;      /* closed: not an A-ASSOCIATE-RQ, too long, or unreadable */
    uint64_t identifiers_refused;  /* C-FIND/C-MOVE/C-GET identifiers refused unparsed */
    uint64_t tls_failed;           /* closed: TLS handshake failed (no or a bad certificate) */
    int negotiating;               /* now: requests arriving or being negotiated */
    int active;                    /* now: associations being served */
} huren_dicom_scp_stats;
void huren_dicom_scp_stats_get(const huren_dicom_scp *scp, huren_dicom_scp_stats *out);
/* The TLS port: load its certificate, key and client CAs again from these files (the paths
 * it started with when NULL), checked as at start. New connections get the new ones;
 * connections and associations already open keep theirs. On failure nothing changes:
 * HUREN_DICOM_EINVAL (a bad file, the reason in err) or HUREN_DICOM_ERROR (not a TLS port). */
int huren_dicom_scp_tls_reload(huren_dicom_scp *scp, const char *cert, const char *key,
                               const char *client_ca, char *err, size_t errlen);
/* Stop accepting, let in-flight associations finish (at most grace_s seconds, then abort them),
 * join all threads and free. NULL-safe. */
void huren_dicom_scp_stop(huren_dicom_scp *scp, int grace_s);

/* Human-readable name of a DIMSE status ("Refused: Move Destination unknown"). Static string. */
const char *huren_dicom_status_str(uint16_t status);

/* ---- DICOMweb: whole datasets as JSON, frames, rendered images (added for gateway/dicomweb) - */

#define HUREN_DICOM_ERANGE (-6)  /* frame number beyond the instance's frames */
#define HUREN_DICOM_ENOTSUP (-7) /* no pixel data, or a form of it that cannot be handled */

/* The dataset of the Part-10 file at path as one DICOM JSON object (PS3.18 F.2), values in
 * UTF-8 (converted from the file's Specific Character Set). PixelData, FloatPixelData and
 * DoubleFloatPixelData are given as "BulkDataURI": bulk_uri_prefix followed by the tag in 8
 * hex digits (e.g. prefix "http://h/dicom-web/studies/1/series/2/instances/3/bulkdata/");
 * bulk_uri_prefix NULL leaves them out. Other binary values over 64 KiB are left out. On
 * success *out is a NUL-terminated string of *outlen bytes the caller frees with free(). */
int huren_dicom_file_to_json(const char *path, const char *bulk_uri_prefix, char **out,
                             size_t *outlen, char *err, size_t errlen);

/* Frame `frame` (1-based) of the instance at path: native pixel data gives the frame's
 * uncompressed bytes; encapsulated pixel data gives the frame's fragments as stored. frame 0
 * gives the whole value (all frames). *out (free()) holds *len bytes; *nframes (may be NULL)
 * gets NumberOfFrames; *encapsulated (may be NULL) is set to 1 for compressed data.
 * HUREN_DICOM_ERANGE for a frame past the last, HUREN_DICOM_ENOTSUP without pixel data. */
int huren_dicom_file_frame(const char *path, unsigned frame, char **out, size_t *len,
                           unsigned *nframes, int *encapsulated, char *err, size_t errlen);

/* The pixel fingerprint of the instance at path (provenance): SHA-256 of its PixelData
 * (7FE0,0010) value as stored. Native data: the value's bytes in the file's byte order
 * (padding included). Encapsulated data: the values of the fragments after the Basic Offset
 * Table, in order, without their item headers (the Basic Offset Table is not covered). hex gets
 * 64 lowercase hex digits. Returns 0; HUREN_DICOM_ENOTSUP when the instance has no PixelData
 * (SR, PR, ...; hex ""); HUREN_DICOM_ECORRUPT when it cannot be read; other negative codes. */
int huren_dicom_file_pixel_digest(const char *path, char hex[65], char *err, size_t errlen);

typedef enum huren_dicom_image_format {
    HUREN_DICOM_IMAGE_JPEG = 0,
    HUREN_DICOM_IMAGE_PNG
} huren_dicom_image_format;

/* VOI LUT functions of PS3.18 8.3.5.1.3 (window=center,width,function). */
typedef enum huren_dicom_voi {
    HUREN_DICOM_VOI_LINEAR = 0,
    HUREN_DICOM_VOI_LINEAR_EXACT,
    HUREN_DICOM_VOI_SIGMOID
} huren_dicom_voi;

typedef struct huren_dicom_render_options {
    huren_dicom_image_format format;
    unsigned frame; /* 1-based */
    int window_set; /* 0: the file's first VOI window, else min-max */
    double window_center, window_width;
    huren_dicom_voi voi_function;
    int quality;             /* JPEG quality 1..100 */
    unsigned viewport_width; /* 0 0: native size; else scaled to fit, aspect kept */
    unsigned viewport_height;
} huren_dicom_render_options;

#define HUREN_DICOM_RENDER_OPTIONS_INIT                                                            \
    {                                                                                              \
        HUREN_DICOM_IMAGE_JPEG, 1, 0, 0.0, 0.0, HUREN_DICOM_VOI_LINEAR, 90, 0, 0                   \
    }

/* Render one frame of the instance at path (DCMTK dcmimage; compressed data decoded with
 * dcmjpeg/RLE) as an 8-bit JPEG or PNG image. *out (free()) holds *len bytes; *width and
 * *height (may be NULL) get the output size. HUREN_DICOM_ERANGE for a bad frame,
 * HUREN_DICOM_ENOTSUP when the instance is not an image DCMTK can render. */
int huren_dicom_render(const char *path, const huren_dicom_render_options *opts, char **out,
                       size_t *len, unsigned *width, unsigned *height, char *err, size_t errlen);

/* ---- Service class user (scu.cpp): C-FIND, C-GET, C-MOVE, C-STORE as a client ------------
 * One association per call, to the AE of the options, released at the end. Returns 0 when the
 * association worked (the DIMSE outcome, success or not, is in the status or result), or
 * HUREN_DICOM_EIO (cannot connect, association rejected or lost, timeout) or
 * HUREN_DICOM_EINVAL with the reason in err. */
typedef struct huren_dicom_scu_options {
    const char *calling_ae; /* ours */
    const char *called_ae;  /* the peer's */
    const char *host;       /* name or numeric address */
    int port;
    int timeout_s;           /* connecting, the association and each DIMSE message */
    unsigned max_pdu;        /* our maximum receive PDU */
    huren_dicom_model model; /* FIND/GET/MOVE: the Q/R information model */
    /* DICOM TLS (dcmtls, TLS 1.2 or newer): with tls_ca set, the peer's certificate must be
     * signed by one of its CAs (PEM) and name host; tls_cert and tls_key (PEM, optional) are
     * the certificate we show. NULL or "": plain TCP. */
    const char *tls_ca;
    const char *tls_cert;
    const char *tls_key;
} huren_dicom_scu_options;

#define HUREN_DICOM_SCU_OPTIONS_INIT                                                               \
    {                                                                                              \
        "HUREN", NULL, NULL, 104, 30, 131072, HUREN_DICOM_MODEL_STUDY_ROOT, NULL, NULL, NULL       \
    }

/* C-FIND at level with keys (an empty value asks for the attribute; values UTF-8, sent with
 * SpecificCharacterSet ISO_IR 192 only when one is not ASCII). emit gets each pending answer's
 * top-level text elements converted to UTF-8; a nonzero return cancels (C-CANCEL). *status
 * gets the final status (success, cancel, a warning or failure the peer answered). */
int huren_dicom_scu_find(const huren_dicom_scu_options *o, huren_dicom_level level,
                         const huren_dicom_element *keys, size_t nkeys, huren_dicom_find_emit emit,
                         void *emit_ctx, uint16_t *status, char *err, size_t errlen);

/* The outcome of a C-GET or C-MOVE: final status and sub-operation counts as answered. */
typedef struct huren_dicom_scu_result {
    uint16_t status;
    unsigned completed, failed, warning;
    unsigned received; /* C-GET: instances received and handed to store */
} huren_dicom_scu_result;

/* C-GET: the peer sends the instances on this association (storage contexts proposed in SCP
 * role for the common storage classes, in the uncompressed transfer syntaxes). Each is written
 * to a Part-10 file of our own name in tmp_dir and handed to store as a C-STORE would be
 * (req.peer names the peer); the handler adopts the file or leaves it (then removed), and its
 * status is answered. */
int huren_dicom_scu_get(const huren_dicom_scu_options *o, huren_dicom_level level,
                        const huren_dicom_element *keys, size_t nkeys, const char *tmp_dir,
                        uint16_t (*store)(const huren_dicom_store_req *req, void *payload),
                        void *payload, huren_dicom_scu_result *res, char *err, size_t errlen);

/* C-MOVE to move_destination (an AE title the peer knows; the instances arrive on its own
 * associations). */
int huren_dicom_scu_move(const huren_dicom_scu_options *o, huren_dicom_level level,
                         const huren_dicom_element *keys, size_t nkeys,
                         const char *move_destination, huren_dicom_scu_result *res, char *err,
                         size_t errlen);

/* C-STORE of the Part-10 instance at path (length bytes from offset, 0 = the whole file, as a
 * pack holds it), proposed in its own transfer syntax and the uncompressed ones. *status gets
 * the peer's answer. */
int huren_dicom_scu_store(const huren_dicom_scu_options *o, const char *path, uint64_t offset,
                          uint64_t length, uint16_t *status, char *err, size_t errlen);

/* One instance of a batch: the Part-10 bytes at path (length from offset, 0 = whole file). */
typedef struct huren_dicom_store_item {
    const char *path;
    uint64_t offset, length;
} huren_dicom_store_item;
/* C-STORE of n instances over one association (contexts for each SOP class and transfer
 * syntax among them). statuses[i] gets the peer's answer to item i, HUREN_DICOM_STATUS_NOT_SENT
 * when it was not sent (unreadable, no context accepted). Returns 0 when the association was
 * released normally (look at statuses), negative with err when it could not be opened or broke (the
 * statuses of the items answered before stay set). */
int huren_dicom_scu_store_batch(const huren_dicom_scu_options *o,
                                const huren_dicom_store_item *items, size_t n, uint16_t *statuses,
                                char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
