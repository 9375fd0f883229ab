/* dicomweb.h: DICOMweb (PS3.18) under /dicom-web/: the handlers of QIDO-RS, WADO-RS, WADO-URI
 * and STOW-RS for the route table, and what their files share (UID checks in paths, Accept
 * negotiation, the service's base URL, the instances a retrieval names). */
#ifndef HUREN_GATEWAY_DICOMWEB_H
#define HUREN_GATEWAY_DICOMWEB_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "node.h"

/* Who may use DICOMweb: the hospital's own staff and peer gateways, never insurers. */
#define DICOMWEB_ROLES (HTTP_ROLES_STAFF | HTTP_ROLE_PEER)

/* QIDO-RS (dicomweb_qido.c) */
int dicomweb_search(http_request *req, http_response *res);
/* WADO-RS (dicomweb_wado.c): instances, metadata, frames, bulk data */
int dicomweb_retrieve(http_request *req, http_response *res);
int dicomweb_metadata(http_request *req, http_response *res);
int dicomweb_frames(http_request *req, http_response *res);
int dicomweb_bulkdata(http_request *req, http_response *res);
/* rendered images (dicomweb_rendered.c): WADO-RS rendered/thumbnail and WADO-URI */
int dicomweb_rendered(http_request *req, http_response *res);
int dicomweb_thumbnail(http_request *req, http_response *res);
int dicomweb_wado_uri(http_request *req, http_response *res);
/* STOW-RS (dicomweb_stow.c): the handler and the body sink of its routes */
int dicomweb_store(http_request *req, http_response *res);
extern const http_body_sink dicomweb_stow_sink;

/* ---- shared by the dicomweb_*.c files (dicomweb.c) ---- */

/* The UIDs a path names: after /studies/, /series/, /instances/ (NULL when absent). */
typedef struct dw_path {
    const char *study, *series, *instance;
    const char *frames; /* the segment after /frames/, or NULL */
    const char *tag;    /* the segment after /bulkdata/, or NULL */
    char buf[1024];
} dw_path;

/* Read the UIDs of req->path into p (pointing into p->buf); answers 400 and returns
 * -1 when one is not a valid UID. */
int dw_path_parse(http_request *req, http_response *res, dw_path *p);

/* Base URL of the service ("http://host:port/dicom-web"): [dicomweb] base_url, else built from
 * the Host header. */
void dw_base_url(const http_request *req, char *out, size_t len);

/* One media range of an Accept header. */
typedef struct dw_media {
    char type[96]; /* "multipart/related", "*\/\*", ... lower case */
    char part[96]; /* its type= parameter, or "" */
    char ts[80];   /* its transfer-syntax= parameter, or "" */
    double q;
} dw_media;
#define DW_MAX_MEDIA 16
/* The ranges of the Accept header (a single "*\/\*" if absent), q=0 ones dropped, highest q
 * first. Returns the count (0 when every range was refused by q=0). */
size_t dw_accept(const http_request *req, dw_media *out, size_t cap);
/* Does media range m accept type ("image/jpeg")? */
int dw_media_accepts(const dw_media *m, const char *type);

/* An error answer: {"error": message, "status": status}, logged at debug. */
int dw_error(http_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The stored instances a retrieval names (study, series and instance UIDs, NULL = any). */
typedef struct dw_instance {
    char *path; /* the file holding the instance: size bytes from offset (a pack) */
    uint64_t offset, size;
    char *ts, *sop_class, *sop_uid, *series_uid, *study_uid;
    /* a retrieved copy: served with this PatientID and IssuerOfPatientID (ours; NULL: an own
     * instance, served byte-identical as stored) */
    char *coerce_pid, *coerce_issuer;
} dw_instance;
typedef struct dw_instances {
    dw_instance *v;
    size_t n, cap;
    char patient_id[128];
} dw_instances;
/* Fill out (zeroed first) in index order; at most max instances (0 = no limit). Returns 0, or
 * -1 with a 500 answered / a 400 answered for a malformed UID list. */
int dw_find_instances(node *n, const dw_path *p, size_t max, dw_instances *out, http_response *res);
void dw_instances_free(dw_instances *s);
/* Record patient and study for the audit trail. */
void dw_audit(http_response *res, const char *patient_id, const char *study_uid);
/* Answer with size bytes of a file from offset, streamed as is. Returns 0 or -1. */
int dw_reply_file(http_response *res, const char *content_type, const char *path, uint64_t offset,
                  uint64_t size);
/* A path DCMTK can read the instance from: its own blob file, or (for an instance inside a
 * pack) a temp copy in the archive's tmp dir, which *temp says to dw_instance_done. Returns 0,
 * or -1 (file unreadable). */
int dw_instance_file(node *n, const dw_instance *x, char *out, size_t len, int *temp);
void dw_instance_done(const char *path, int temp);
/* The file to serve an instance's Part-10 bytes from: dw_instance_file for an own instance; for
 * a retrieved copy a temp file coerced to our patient ids (huren_dicom_file_coerce; *temp set).
 * Returns 0 or -1 (logged). */
int dw_instance_served(node *n, const dw_instance *x, char *out, size_t len, int *temp);
/* Answer with instance x as one application/dicom body: the stored bytes of an own instance,
 * a retrieved copy coerced. Returns 0 or -1. */
int dw_reply_instance(node *n, http_response *res, const char *content_type, const dw_instance *x);

#endif
