/* config.h: the node's configuration, read once from an INI file (libinih) into an immutable
 * struct and validated from one table in config.c. Command-line flags override the file through
 * config_set(), so they are checked by the same rules. */
#ifndef HUREN_GATEWAY_CONFIG_H
#define HUREN_GATEWAY_CONFIG_H

#include <stddef.h>
#include <time.h>

#include "log.h"

#define CONFIG_MAX_PEERS 256
#define CONFIG_MAX_CLIENTS 512
#define CONFIG_CLIENT_NAME_MAX 64
#define CONFIG_MAX_PACS 16
#define CONFIG_MAX_FORWARDS 32

/* The values of the keys that take one of a list; each follows its names' order in config.c. */
typedef enum config_role { CONFIG_ROLE_HOSPITAL, CONFIG_ROLE_DIRECTORY } config_role;
typedef enum config_duplicates {
    CONFIG_DUPLICATES_KEEP,
    CONFIG_DUPLICATES_REPLACE
} config_duplicates;
typedef enum config_verify {
    CONFIG_VERIFY_NONE,
    CONFIG_VERIFY_OPTIONAL,
    CONFIG_VERIFY_REQUIRE
} config_verify;
typedef enum config_hr_scope {
    CONFIG_HR_NONE,
    CONFIG_HR_CITY,
    CONFIG_HR_PROVINCE,
    CONFIG_HR_NATIONAL
} config_hr_scope;
typedef enum config_dir_store {
    CONFIG_DIR_STORE_SQLITE,
    CONFIG_DIR_STORE_POSTGRESQL
} config_dir_store;

/* A DICOM application entity we may send to (C-MOVE destination). */
typedef struct config_ae {
    char *title;
    char *host;
    int port;
} config_ae;

/* [client "NAME"]: who may call the node's HTTPS API (by certificate subject or bearer token)
 * or its DICOM services (by calling AE title, for the audit trail), and for which institution
 * and role. Strings not given are NULL. */
typedef struct config_client {
    char *name;         /* the section's NAME: the actor of token holders in the audit log */
    char *subject;      /* client certificate subject, e.g. "CN=gw.hospital-b, O=Hospital B" */
    char *token_sha256; /* lowercase hex SHA-256 of the bearer token (never the token) */
    char *ae_title;     /* calling AE title(s) of its DICOM associations ("CT1 CT1_Q") */
    char *institution;  /* institution code, e.g. "H37010002" */
    char *role;         /* clinician | peer | insurer | admin */
} config_client;

/* [his "NAME"]: a hospital information system that launches the doctors' page with a signed
 * URL (gateway/his/, config_his.c). Strings not given are NULL. */
#define CONFIG_MAX_HIS 8
typedef struct config_his {
    char *name;           /* the NAME, as the launch context's "his" names it */
    char *key_file;       /* the HMAC-SHA256 key (at least 32 bytes), never inline */
    char *origin;         /* its page's origin, for postMessage ("https://his.example:8443") */
    long session_idle;    /* seconds without a request before a session ends (default 900) */
    int allow_plain_http; /* tests: launches over plain HTTP (loopback only) */
} config_his;

/* [pacs "NAME"]: a hospital PACS the gateway sits beside (config_pacs.c): indexed by C-FIND,
 * fetched from on demand, a forwarding destination. */
typedef enum config_qr_model { CONFIG_QR_STUDY_ROOT, CONFIG_QR_PATIENT_ROOT } config_qr_model;
typedef enum config_retrieve { CONFIG_RETRIEVE_GET, CONFIG_RETRIEVE_MOVE } config_retrieve;
typedef struct config_pacs {
    char *name;       /* the section's NAME (1-64 characters), kept in the index */
    char *ae_title;   /* the PACS's (called) AE title */
    char *host;       /* its host name or address */
    long port;        /* its DICOM port */
    char *calling_ae; /* our AE title towards it (NULL: [dicom] aet) */
    config_qr_model query_model;
    config_retrieve retrieve; /* get: C-GET; move: C-MOVE to our own AE ([dicom] aet) */
    long max_associations;    /* at most this many associations open to it at once */
    long queries_per_minute;  /* C-FIND requests per minute, at most */
    long sync_interval;       /* seconds between periodic syncs of the last days; 0 = none */
    long sync_window_days;    /* days back from today a periodic sync looks at */
    long result_limit;        /* the PACS's limit on answers (0 = unknown): at it, split */
    long timeout;             /* seconds for connecting and for each DIMSE message */
    long cache_budget;        /* bytes of fetched studies kept here at most (0: no limit) */
    char *tls_ca;             /* DICOM TLS to the PACS: the CAs of its certificate (NULL: none) */
    char *tls_cert;           /* our client certificate and key towards it (PEM, optional) */
    char *tls_key;
} config_pacs;

/* [forward "NAME"]: instances that arrive one way are sent on to a destination by C-STORE
 * from a durable queue (config_pacs.c, gateway/forward/). */
typedef enum config_fwd_source {
    CONFIG_FWD_RETRIEVAL, /* studies retrieved from a peer (recognition) */
    CONFIG_FWD_CSTORE,    /* C-STORE (from source_ae, or any calling AE) */
    CONFIG_FWD_STOW       /* STOW-RS */
} config_fwd_source;
typedef struct config_forward {
    char *name;
    config_fwd_source source;
    char *source_ae;   /* cstore: only from this calling AE (NULL = any) */
    char *modality;    /* only instances of this Modality (NULL = any) */
    char *destination; /* a [pacs] NAME or a [dicom_aes] title */
    long retry_min;    /* seconds after a failed send, doubled up to retry_max */
    long retry_max;
} config_forward;

typedef struct config {
    char *path; /* the file read, or NULL for the embedded defaults */
    /* [node] */
    config_role role;
    char *data_dir;
    log_level log_level;
    char *bind_address;      /* numeric address all listeners bind */
    char *utc_offset;        /* the hospital's UTC offset ("+08:00"): HL7 local times in FHIR */
    char *patient_id_issuer; /* IssuerOfPatientID of our local ids ("": [directory] institution) */
    long ready_min_free_mb;  /* /readyz: not ready below this much free disk (MiB) */
    char *user;              /* serve as root drops to it once listening ("": none) */
    char *group;             /* its group ("": the user's primary group) */
    /* [dicom] */
    char *aet;
    long dicom_port;
    long max_associations;
    long max_pdu;
    long acse_timeout;
    long dimse_timeout;
    int tcp_nodelay;
    int accept_unknown_sop_classes; /* store SOP classes DCMTK does not know */
    char *allowed_calling_aes;      /* space- or comma-separated; empty = any */
    config_duplicates duplicates;
    long find_max_results;
    long max_sequence_depth;  /* nested sequences a dataset may have (checked before parsing) */
    long max_negotiating;     /* association requests arriving or negotiated at once */
    long negotiation_timeout; /* seconds from connect to a complete A-ASSOCIATE-RQ */
    long max_identifier;      /* bytes of a C-FIND/C-MOVE/C-GET identifier */
    long dicom_tls_port;      /* DICOM TLS port; 0 = none (checks in config_dicom_tls.c) */
    char *dicom_tls_cert;     /* its certificate, key and client CAs (PEM) */
    char *dicom_tls_key;
    char *dicom_tls_client_ca;
    int dicom_tls_require_client_cert;
    /* [http] */
    long http_port;
    char *tls_cert;
    char *tls_key;
    char *tls_client_ca;
    config_verify tls_client_verify;
    long http_threads;
    long http_max_body;
    /* [hl7] */
    long hl7_port;
    long hl7_max_message;
    long hl7_idle_timeout;
    long hl7_max_connections;
    /* [archive] */
    int fsync;
    long group_commit_max;
    long busy_timeout_ms;
    long pack_max_instance;
    /* [dicomweb] */
    long dicomweb_max_stow_bytes;
    long dicomweb_max_stow_parts;
    long qido_max_results;
    char *dicomweb_base_url;     /* "" = from the request's Host header */
    char *dicomweb_cors_origins; /* exact origins allowed cross-origin access; "" = none */
    /* [share] (share/: cloud film) */
    char *share_base_url;      /* the URL patients open shares at; "" = this node's own */
    char *share_hospital_name; /* printed on the slip; "" = the institution code */
    /* [retention] (datacare/retention.c) */
    long retention_max_age_days; /* 0 = no age rule */
    long retention_min_free_mb;  /* 0 = no disk rule */
    int retention_protected;     /* keep studies with a recognition decision or a claim */
    long retention_interval;     /* seconds between runs in serve (daily) */
    /* [access] */
    int loopback_full_access; /* plain HTTP on loopback: every role without credentials */
    /* [audit] */
    char *audit_file; /* "" = DATA/audit.log */
    int audit_fsync;
    /* [recognition] */
    int rec_retrieve_on_move; /* a C-MOVE of a study a prompt listed fetches it first */
    char *rec_prices;         /* the price list (CSV item,price in yuan), "" = none */
    char *rec_reasons;        /* the platform's reason list (CSV), "" = the national default */
    /* [claims] */
    char *claims_key;         /* PEM EC P-256 private key signing claim bundles; "" = off */
    char *claims_cert;        /* its certificate (PEM) */
    char *claims_chain;       /* CA certificates up to the root (PEM), put in x5c */
    char *claims_institution; /* this hospital's institution code, named in bundles */
    long claims_rate;         /* requests per minute per insurer */
    long claims_burst;        /* requests an insurer may send at once */
    long claims_max_body;     /* bytes of a claim request */
    /* [directory]: publishing to the regional directory (role hospital) and serving it
     * (role directory); cross-key checks in config_directory.c */
    int dir_publish;              /* hospital: publish stored studies and reports */
    char *dir_url;                /* https://directory:8443 (the base URL) */
    char *dir_region_key;         /* hex key, or the path of a file holding it */
    char *dir_institution;        /* this institution's code, as the directory knows it */
    char *dir_source_url;         /* this gateway's URL as peers reach it */
    config_hr_scope dir_hr_scope; /* HR qualification */
    char *dir_qualified_from;     /* YYYYMMDD */
    char *dir_qualified_to;       /* YYYYMMDD */
    char *dir_catalogue;          /* the recognition catalogue (CSV), "" = none */
    char *dir_tls_cert;           /* client certificate towards the directory ("" = [http]'s) */
    char *dir_tls_key;
    char *dir_tls_ca;      /* CAs that may sign the directory's certificate */
    long dir_batch_size;   /* entries per POST */
    long dir_retry_min_ms; /* backoff after a failed send, doubled up to retry_max_ms */
    long dir_retry_max_ms;
    long dir_timeout;           /* seconds for one POST */
    long dir_ref_interval;      /* seconds between pulls of the reference data */
    long dir_poll_ms;           /* idle wait between outbox reads */
    long dir_max_batch;         /* directory: most entries one POST may carry */
    long dir_ready_max_backlog; /* /readyz: not ready with more entries waiting to publish */
    /* role directory: where entries are kept (gateway/directory/store.h) */
    config_dir_store dir_store; /* sqlite (the node's index) | postgresql */
    char *dir_dsn;              /* postgresql: libpq conninfo for publishes (no password=) */
    char *dir_read_dsn;         /* postgresql: conninfo for lookups ("" = dsn) */
    long dir_pool;              /* postgresql: connections per DSN */
    long dir_statement_timeout; /* postgresql: ms per statement (0 = none) */
    /* [client "NAME"] sections */
    config_client clients[CONFIG_MAX_CLIENTS];
    size_t nclients;
    /* [his "NAME"] sections */
    config_his his[CONFIG_MAX_HIS];
    size_t nhis;
    /* [pacs "NAME"] and [forward "NAME"] sections */
    config_pacs pacs[CONFIG_MAX_PACS];
    size_t npacs;
    config_forward forwards[CONFIG_MAX_FORWARDS];
    size_t nforwards;
    /* [dicom_aes]: TITLE = host:port */
    config_ae aes[CONFIG_MAX_PEERS];
    size_t naes;
} config;

/* Fill cfg with the embedded defaults (no file). Returns 0. */
int config_defaults(config *cfg);
/* Read path over the defaults. On error returns -1 with "file:line: what is wrong" in err. */
int config_load(config *cfg, const char *path, char *err, size_t errlen);
/* Set one key as the file would ("dicom", "port", "11112"); returns -1 with a reason in err. */
int config_set(config *cfg, const char *section, const char *key, const char *value, char *err,
               size_t errlen);
/* Checks that span keys (TLS needed off loopback, ...). Returns -1 with a reason in err. */
int config_validate(const config *cfg, char *err, size_t errlen);
/* The name of a listed value as the file spells it (config_choice_name("node", "role",
 * cfg->role) is "hospital"); "?" for a key without a list or a value out of it. */
const char *config_choice_name(const char *section, const char *key, int value);
/* Look up a C-MOVE destination; NULL if unknown. */
const config_ae *config_find_ae(const config *cfg, const char *title);
/* The [his] section named name; NULL if none. */
const config_his *config_find_his(const config *cfg, const char *name);
/* The [pacs] section named name; NULL if none. */
const config_pacs *config_find_pacs(const config *cfg, const char *name);
/* Is this bind address a loopback address (127.0.0.0/8, ::1)? */
int config_is_loopback(const char *address);
void config_free(config *cfg);

/* What the configuration names on disk, checked as serve will use it (config_files.c): the
 * data and audit folders writable, each certificate readable, in date and fit for its use,
 * each key matching its certificate, CA bundles holding certificates, the catalogue
 * readable. Each problem is one line "FILE: [section] key: what" given to report (warning 1:
 * a certificate expiring soon, not counted). Returns the number of problems. */
typedef void (*config_problem_fn)(void *ctx, int warning, const char *line);
int config_check_files(const config *cfg, time_t now, config_problem_fn report, void *ctx);
/* [directory] checks that span keys (config_directory.c): a publishing node needs the URL, the
 * region key (readable, long enough) and its institution; dates and the catalogue must parse.
 * Returns -1 with a reason in err. */
int config__directory_validate(const config *cfg, char *err, size_t errlen);
/* [dicom] tls_* (config_dicom_tls.c): with tls_port set, the files exist, parse and fit (the
 * key the certificate's, the certificate in date and for a server, client CAs given when
 * client certificates are required), checked by dicom/ as the TLS port will load them, and the
 * port is no other service's. Returns -1 with "file: [dicom] KEY: what is wrong" in err. */
int config__dicom_tls_validate(const config *cfg, char *err, size_t errlen);
/* The TLS files of [dicom] into the options of the TLS port (a huren_dicom_scp_options *). */
struct huren_dicom_scp_options;
void config_dicom_tls_options(const config *cfg, struct huren_dicom_scp_options *o);
#define CONFIG_REGION_KEY_MAX 64
/* The region key of [directory] region_key: the value itself when it is 32 to 128 hex digits,
 * else the file it names, which must hold such hex digits (surrounding space ignored). Returns
 * the key's length in bytes, or -1 with a reason in err (never the key). */
int config_region_key(const config *cfg, unsigned char key[CONFIG_REGION_KEY_MAX], char *err,
                      size_t errlen);

#endif
