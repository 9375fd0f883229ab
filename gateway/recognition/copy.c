/* copy.c: whom a retrieved study belongs to here. A study retrieved from another hospital is a
 * copy: it is indexed under this hospital's patient (as IHE PIX cross-references ids), found
 * from the prompt it was listed by: the local id it was asked with, else the local id the
 * HIS (ADT) holds for its resident id, else the resident id itself (a patient not known here
 * yet). The source's PatientID and issuer stay in the file and in the copy's mark. */
#define LOG_COMPONENT "recognition"
#include "log.h"
#include "recognition_int.h"
#include "index/index_records.h"
#include "index/index_recognition.h"

#include <stdio.h>
#include <string.h>

/* IssuerOfPatientID of a PatientID that is the resident id itself (publisher.c reads it so). */
#define RESIDENT_ISSUER "RESIDENT-ID"

static const char *local_issuer(const config *cfg)
{
    return cfg->patient_id_issuer && *cfg->patient_id_issuer ? cfg->patient_id_issuer
           : cfg->dir_institution                            ? cfg->dir_institution
                                                             : "";
}

/* The surviving local id of the HIS patient with local or resident id `id`: 1, 0, < 0. */
static int local_of(node *n, const char *id, char *out, size_t len)
{
    if (!id || !*id)
        return 0;
    int found = huren_index_rec_patient_exists(n->index, id, out, len);
    return found > 0 && !*out ? 0 : found;
}

int rec_copy_prepare(node *n, const char *prompt_id, const char *key, rec_copy *c, char *err,
                     size_t errlen)
{
    huren_index_rec_origin o;
    memset(c, 0, sizeof *c);
    int found = huren_index_rec_origin_get(n->index, prompt_id, key, &o);
    if (found < 0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return -1;
    }
    snprintf(c->institution, sizeof c->institution, "%s", found ? o.institution : "");
    if (!c->institution[0]) /* listed by no prompt: the key still names the institution */
        snprintf(c->institution, sizeof c->institution, "%.*s",
                 strchr(key, '/') ? (int)(strchr(key, '/') - key) : 0, key);
    if (!c->institution[0])
        snprintf(c->institution, sizeof c->institution, "unknown");
    snprintf(c->source, sizeof c->source, "%s", found ? o.source : "");
    c->in.source.institution = c->institution;
    c->in.source.source_url = c->source[0] ? c->source : NULL;
    int rc = local_of(n, o.patient_id, c->patient_id, sizeof c->patient_id);
    if (rc == 0)
        rc = local_of(n, o.national_id, c->patient_id, sizeof c->patient_id);
    if (rc < 0) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
        return -1;
    }
    if (rc > 0) { /* the HIS knows the patient: our local id and issuer */
        snprintf(c->issuer, sizeof c->issuer, "%s", local_issuer(n->cfg));
        snprintf(c->other_ids, sizeof c->other_ids, "%s", o.national_id);
    } else if (o.national_id[0]) { /* not known here yet: under the resident id */
        snprintf(c->patient_id, sizeof c->patient_id, "%s", o.national_id);
        snprintf(c->issuer, sizeof c->issuer, "%s", RESIDENT_ISSUER);
        snprintf(c->other_ids, sizeof c->other_ids, "%s", o.national_id);
    } else {
        /* no patient recorded with the prompt (one from before schema 9): the source's id,
         * issued by the source, so that it cannot be taken for one of ours */
        snprintf(c->issuer, sizeof c->issuer, "%s", c->institution);
    }
    c->in.patient_id = c->patient_id[0] ? c->patient_id : NULL;
    c->in.issuer = c->issuer;
    c->in.other_patient_ids = c->other_ids[0] ? c->other_ids : NULL;
    return 0;
}
