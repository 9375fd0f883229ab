/* sender.c: one rule's due instances sent by C-STORE (dicom/'s client) to its destination, a
 * [pacs] or a [dicom_aes] AE. Each is found in the archive by its SOP Instance UID; a retrieved
 * copy is sent with this hospital's patient ids (coerced into a temp file first). Sent: marked
 * so in the queue, never sent again. Failed: deferred by the rule's backoff (retry_min doubled
 * per failure in a row, up to retry_max), and the rule waits that long before its next send.
 * What is due goes in batches of up to BATCH instances over one association. */
#define LOG_COMPONENT "forward"
#include "forward/forward_int.h"

#include "huren_err.h"
#include "index/index_pacs.h"
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* One queued item made ready to send: its bytes (a coerced temp file for a copy). */
typedef struct prepared {
    int ok;
    char err[HUREN_ERRLEN];
    char tmp[4200];
    huren_dicom_store_item item;
    located l;
} prepared;

/* The instance is its file, not a range of a pack (the first instance of a pack starts at 0 too).
 */
static int whole_file(const located *l)
{
    struct stat sb;
    return l->offset == 0 && stat(l->path, &sb) == 0 && (int64_t)sb.st_size == l->size;
}

static void prepare(node *n, const huren_index_fwd_item *it, prepared *p)
{
    huren_index_match m = {HUREN_INDEX_F_SOP_INSTANCE_UID, it->sop_uid};
    huren_index_query q = {HUREN_INDEX_LEVEL_INSTANCE, &m, 1, 1, 0};
    located *l = &p->l;
    if (huren_index_find(n->index, &q, on_row, l) < 0 && !l->found) {
        snprintf(p->err, sizeof p->err, "%s", huren_index_errmsg(n->index));
    } else if (!l->found) {
        snprintf(p->err, sizeof p->err, "no longer in the archive");
    } else if (!l->patient_id || coerce(n, l, p->tmp, sizeof p->tmp, p->err, sizeof p->err) == 0) {
        p->ok = 1;
        p->item.path = p->tmp[0] ? p->tmp : l->path;
        p->item.offset = p->tmp[0] ? 0 : (uint64_t)l->offset;
        p->item.length = p->tmp[0] || whole_file(l) ? 0 : (uint64_t)l->size;
    }
}

static void prepared_clear(prepared *p)
{
    if (p->tmp[0])
        unlink(p->tmp);
    free(p->l.patient_id);
    free(p->l.issuer);
}

/* The rule backs off after a failure: retry_min doubled per failure in a row. */
static void back_off(fw_rule *r)
{
    atomic_fetch_add(&r->failures, 1);
    long wait = r->cfg->retry_min;
    for (int k = 0; k < r->consecutive && wait < r->cfg->retry_max; k++)
        wait *= 2;
    if (wait > r->cfg->retry_max)
        wait = r->cfg->retry_max;
    r->consecutive++;
    r->blocked_until = time(NULL) + wait;
}

/* Record the outcome of item it: sent, or deferred with err to the rule's backoff. */
static void outcome(forwarder *fw, fw_rule *r, const huren_index_fwd_item *it, int sent,
                    const char *err)
{
    node *n = fw->n;
    if (sent) {
        if (huren_index_fwd_sent(n->index, it->id, (int64_t)time(NULL)) < 0)
            log_error("forward %s: %s sent, but not marked so: %s", r->cfg->name, it->sop_uid,
                      huren_index_errmsg(n->index));
        log_debug("forward %s: %s sent to %s", r->cfg->name, it->sop_uid, r->cfg->destination);
        return;
    }
    log_warnx("forward %s: %s to %s failed (%s): again in %ld s", r->cfg->name, it->sop_uid,
              r->cfg->destination, err, (long)(r->blocked_until - time(NULL)));
    if (huren_index_fwd_defer(n->index, it->id, (int64_t)r->blocked_until, err) < 0)
        log_error("forward %s: %s", r->cfg->name, huren_index_errmsg(n->index));
}

/* What is due of rule r (up to BATCH), over one association: each instance that the
 * destination took is marked sent; the others wait for the rule's backoff. */
void forward__send_due(forwarder *fw, fw_rule *r)
{
    node *n = fw->n;
    huren_index_fwd_item items[BATCH];
    size_t count = 0;
    if (huren_index_fwd_due(n->index, r->cfg->name, (int64_t)time(NULL), items, BATCH, &count) <
        0) {
        log_error("forward %s: %s", r->cfg->name, huren_index_errmsg(n->index));
        return;
    }
    if (!count || fw->stopping)
        return;
    prepared *p = calloc(count, sizeof *p);
    huren_dicom_store_item *send = calloc(count, sizeof *send);
    size_t *which = calloc(count, sizeof *which);
    uint16_t *st = calloc(count, sizeof *st);
    huren_dicom_scu_options o;
    char err[HUREN_ERRLEN] = "";
    size_t ns = 0;
    if (!p || !send || !which || !st) {
        snprintf(err, sizeof err, "out of memory");
    } else if (destination(n, r->cfg, &o) < 0) {
        snprintf(err, sizeof err, "destination %s unknown", r->cfg->destination);
    } else {
        for (size_t i = 0; i < count; i++) {
            st[i] = HUREN_DICOM_STATUS_NOT_SENT;
            prepare(n, &items[i], &p[i]);
            if (p[i].ok) {
                which[ns] = i;
                send[ns++] = p[i].item;
            }
        }
        if (ns && huren_dicom_scu_store_batch(&o, send, ns, st, err, sizeof err) < 0)
            log_debug("forward %s: the batch broke off: %s", r->cfg->name, err);
    }
    int failed = 0;
    for (size_t k = 0; p && k < count; k++) {
        size_t j = 0;
        while (j < ns && which[j] != k)
            j++;
        uint16_t status = j < ns ? st[j] : HUREN_DICOM_STATUS_NOT_SENT;
        int ok = status == HUREN_DICOM_STATUS_SUCCESS || (status & 0xf000) == 0xb000;
        if (status != HUREN_DICOM_STATUS_NOT_SENT && !ok)
            snprintf(p[k].err, sizeof p[k].err, "%s answered %s (0x%04x)", o.called_ae,
                     huren_dicom_status_str(status), status);
        if (!ok && !p[k].err[0])
            snprintf(p[k].err, sizeof p[k].err, "%s", err[0] ? err : "not sent");
        if (!ok && !failed) {
            failed = 1;
            back_off(r);
        }
        outcome(fw, r, &items[k], ok, p[k].err);
        prepared_clear(&p[k]);
    }
    if (!p)
        log_error("forward %s: %s", r->cfg->name, err);
    else if (!failed)
        r->consecutive = 0;
    free(p);
    free(send);
    free(which);
    free(st);
}
