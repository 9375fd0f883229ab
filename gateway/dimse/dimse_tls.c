/* dimse_tls.c: who a DICOM TLS client is. Its verified certificate's subject maps through the
 * [client "NAME"] sections (as for HTTPS clients, gateway/http/auth.c) to the AE titles it may
 * call with and its role; a certificate of no client, another AE title or a role without
 * DICOM services is refused at association, logged by dicom/ and audited here. */
#define LOG_COMPONENT "dicom"
#include "dimse.h"
#include "audit_trail.h"
#include "http/auth.h"

#include <stdio.h>
#include <string.h>

const config_client *dimse_client(node *n, const huren_dicom_peer *peer)
{
    if (peer->tls_subject && peer->tls_subject[0])
        return auth_by_subject(n->auth, peer->tls_subject);
    return auth_by_ae(n->auth, peer->calling_ae);
}

/* The roles that may use the node's DICOM services; an insurer gets claims only. */
static int dicom_role(const char *role)
{
    return role && (strcmp(role, "clinician") == 0 || strcmp(role, "peer") == 0 ||
                    strcmp(role, "admin") == 0);
}

static void audit_refusal(node *n, const huren_dicom_peer *peer, const config_client *c)
{
    huren_audit_entry e = {
        .actor = c ? c->name : peer->tls_subject,
        .role = c && c->role ? c->role : "dicom",
        .institution = c && c->institution ? c->institution : "",
        .action = "dimse.associate",
        .patient = "",
        .object = peer->calling_ae,
        .outcome = "refused",
        .status = 0,
        .remote = peer->address,
    };
    (void)audit_record(n, &e); /* nothing was disclosed or stored: a failure is logged there */
}

int dimse_admit(const huren_dicom_peer *peer, char *why, size_t whylen, void *payload)
{
    node *n = payload;
    /* plain port, or TLS without a certificate where none is required: the AE rules apply */
    if (!peer->tls_subject || !peer->tls_subject[0])
        return 0;
    const config_client *c = auth_by_subject(n->auth, peer->tls_subject);
    if (!c)
        snprintf(why, whylen, "certificate \"%s\" is no [client]'s", peer->tls_subject);
    else if (!auth_client_has_ae(c, peer->calling_ae))
        snprintf(why, whylen, "calling AE title \"%s\" is not [client \"%s\"]'s (%s)",
                 peer->calling_ae, c->name, c->ae_title ? c->ae_title : "none set");
    else if (!dicom_role(c->role))
        snprintf(why, whylen, "[client \"%s\"] has role %s, which has no DICOM services", c->name,
                 c->role ? c->role : "(none)");
    else
        return 0;
    audit_refusal(n, peer, c);
    return -1;
}
