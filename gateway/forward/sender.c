/* sender.c: one rule's due instances sent by C-STORE (dicom/'s client) to its destination, a
 * [pacs] or a [dicom_aes] AE. Each is found in the archive by its SOP Instance UID; a retrieved
 * copy is sent with this hospital's patient ids (coerced into a temp file first). Sent: marked
 * so in the queue, never sent again. Failed: deferred by the rule's backoff (retry_min doubled
 * per failure in a row, up to retry_max), and the rule waits that long before its next send. */
#define LOG_COMPONENT "forward"
#include "forward/forward_int.h"

#include "huren_err.h"
#include "index/index_pacs.h"
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 32

typedef struct located {
    int found;
    char path[4096];
    int64_t offset, size;
    char *patient_id, *issuer; /* a copy: coerce to these; NULL: as stored */
} located;

static int on_row(void *payload, const huren_index_row *row)
{
    located *l = payload;
    if (!row->blob_path)
        return 0;
    l->found = 1;
    snprintf(l->path, sizeof l->path, "%s", row->blob_path);
    l->offset = row->blob_offset;
    l->size = row->blob_size;
    if (row->copy_of && row->values[HUREN_INDEX_F_PATIENT_ID]) {
        l->patient_id = strdup(row->values[HUREN_INDEX_F_PATIENT_ID]);
        const char *iss = row->values[HUREN_INDEX_F_ISSUER_OF_PATIENT_ID];
        l->issuer = iss ? strdup(iss) : NULL;
    }
    return 1;
}

/* The destination's AE, host and port, and our AE towards it. */
static int destination(const node *n, const config_forward *f, huren_dicom_scu_options *o)
{
    huren_dicom_scu_options init = HUREN_DICOM_SCU_OPTIONS_INIT;
    *o = init;
    o->calling_ae = n->cfg->aet;
    const config_pacs *p = config_find_pacs(n->cfg, f->destination);
    if (p) {
        o->called_ae = p->ae_title;
        o->host = p->host;
        o->port = (int)p->port;
        o->timeout_s = (int)p->timeout;
        o->tls_ca = p->tls_ca;
        o->tls_cert = p->tls_cert;
        o->tls_key = p->tls_key;
        if (p->calling_ae)
            o->calling_ae = p->calling_ae;
        return 0;
    }
    const config_ae *ae = config_find_ae(n->cfg, f->destination);
    if (!ae)
        return -1;
    o->called_ae = ae->title;
    o->host = ae->host;
    o->port = ae->port;
    return 0;
}

/* A copy goes with our patient ids: its bytes (a range of a pack, maybe) coerced into a temp
 * file, whose path replaces l->path. */
static int coerce(node *n, located *l, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    char whole[4200];
    snprintf(whole, sizeof whole, "%s/fwd-in-XXXXXX", huren_index_tmp_dir(n->index));
    snprintf(tmp, tmplen, "%s/fwd-out-XXXXXX", huren_index_tmp_dir(n->index));
    int in = open(l->path, O_RDONLY | O_CLOEXEC), out = mkstemp(whole), rc = -1;
    char buf[65536];
    int64_t left = l->size ? l->size : INT64_MAX, off = l->offset;
    ssize_t got = 0;
    while (in >= 0 && out >= 0 && left > 0 &&
           (got = pread(in, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf, off)) >
               0) {
        if (write(out, buf, (size_t)got) != got)
            break;
        left -= got;
        off += got;
    }
    int fd = mkstemp(tmp);
    if (fd >= 0)
        close(fd);
    huren_dicom_coercion c = {l->patient_id, l->issuer};
    if (in >= 0 && out >= 0 && got >= 0 && fd >= 0)
        rc = huren_dicom_file_coerce(whole, &c, tmp, err, errlen);
    else
        snprintf(err, errlen, "cannot copy the instance for coercion");
    if (in >= 0)
        close(in);
    if (out >= 0) {
        close(out);
        unlink(whole);
    }
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    return rc < 0 ? -1 : 0;
}

/* Send one item. 0 sent, -1 failed (err). */
static int send_one(forwarder *fw, fw_rule *r, const huren_index_fwd_item *it, char *err,
                    size_t errlen)
{
    node *n = fw->n;
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, it->sop_uid};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, &m, 1, 1, 0};
    located l = {0};
    huren_dicom_scu_options o;
    char tmp[4200] = "";
    int rc = -1;
    if (huren_index_find(n->index, &q, on_row, &l) < 0 && !l.found) {
        snprintf(err, errlen, "%s", huren_index_errmsg(n->index));
    } else if (!l.found) {
        snprintf(err, errlen, "no longer in the archive");
    } else if (destination(n, r->cfg, &o) < 0) {
        snprintf(err, errlen, "destination %s unknown", r->cfg->destination);
    } else if (!l.patient_id || coerce(n, &l, tmp, sizeof tmp, err, errlen) == 0) {
        uint16_t status = 0;
        const char *path = tmp[0] ? tmp : l.path;
        uint64_t off = tmp[0] ? 0 : (uint64_t)l.offset, len = tmp[0] ? 0 : (uint64_t)l.size;
        if (!tmp[0] && l.offset == 0)
            len = 0; /* a file of its own: the whole file */
        if (huren_dicom_scu_store(&o, path, off, len, &status, err, errlen) == 0) {
            if (status == HUREN_DICOM_STATUS_SUCCESS || (status & 0xf000) == 0xb000)
                rc = 0;
            else
                snprintf(err, errlen, "%s answered %s (0x%04x)", o.called_ae,
                         huren_dicom_status_str(status), status);
        }
        if (tmp[0])
            unlink(tmp);
    }
    free(l.patient_id);
    free(l.issuer);
    return rc;
}

void forward__send_due(forwarder *fw, fw_rule *r)
{
    node *n = fw->n;
    huren_index_fwd_item items[BATCH];
    size_t count = 0;
    time_t now = time(NULL);
    if (huren_index_fwd_due(n->index, r->cfg->name, (int64_t)now, items, BATCH, &count) < 0) {
        log_error("forward %s: %s", r->cfg->name, huren_index_errmsg(n->index));
        return;
    }
    for (size_t i = 0; i < count && !fw->stopping; i++) {
        char err[HUREN_ERRLEN] = "";
        if (send_one(fw, r, &items[i], err, sizeof err) == 0) {
            r->consecutive = 0;
            if (huren_index_fwd_sent(n->index, items[i].id, (int64_t)time(NULL)) < 0)
                log_error("forward %s: %s sent, but not marked so: %s", r->cfg->name,
                          items[i].sop_uid, huren_index_errmsg(n->index));
            log_debug("forward %s: %s sent to %s", r->cfg->name, items[i].sop_uid,
                      r->cfg->destination);
            continue;
        }
        atomic_fetch_add(&r->failures, 1);
        long wait = r->cfg->retry_min;
        for (int k = 0; k < r->consecutive && wait < r->cfg->retry_max; k++)
            wait *= 2;
        if (wait > r->cfg->retry_max)
            wait = r->cfg->retry_max;
        r->consecutive++;
        r->blocked_until = time(NULL) + wait;
        log_warnx("forward %s: %s to %s failed (%s): again in %ld s", r->cfg->name,
                  items[i].sop_uid, r->cfg->destination, err, wait);
        if (huren_index_fwd_defer(n->index, items[i].id, (int64_t)r->blocked_until, err) < 0)
            log_error("forward %s: %s", r->cfg->name, huren_index_errmsg(n->index));
        return; /* the destination is failing: the rest waits with the rule */
    }
}
