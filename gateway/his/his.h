/* his.h: the doctor's workstation: a hospital information system ([his "NAME"]) opens the
 * doctors' page for one doctor and one patient with a signed, short-lived launch URL
 * (GET /ui/launch?ctx=&sig=, launch.c), which opens a browser session bound to them
 * (http/session.h). Replayed launches are refused by a nonce store kept on disk for the
 * launch's lifetime (nonce.c). docs/api/his.md describes the launch for HIS vendors. */
#ifndef HUREN_GATEWAY_HIS_H
#define HUREN_GATEWAY_HIS_H

#include "http/http.h"
#include "node.h"

#define HIS_LAUNCH_MAX_AGE 300 /* seconds from iat to exp, at most */
#define HIS_CLOCK_SKEW 60      /* seconds a HIS clock may run ahead */

/* With [his] sections: read their keys, open the nonce store under the data folder and the
 * session store, into n->his (NULL without sections). Returns -1 with err when a key file
 * cannot be read or is shorter than 32 bytes. */
int his_start(node *n, char *err, size_t errlen);
void his_stop(node *n); /* NULL-safe */
/* The session store for the HTTP server's options (NULL without [his]). */
struct http_sessions *his_sessions(const node *n);

/* GET /ui/launch?ctx=<base64url JSON>&sig=<base64url HMAC-SHA256 of ctx>: verify, open the
 * session (cookie), and send the browser on to the prompt. */
int his_launch(http_request *req, http_response *res);
/* GET /api/v1/his/session: the session's doctor, patient, visit and draft orders, and the
 * HIS's origin for postMessage. */
int his_session_get(http_request *req, http_response *res);

#endif
