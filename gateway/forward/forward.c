/* forward.c: the rules of [forward] sections matched against each stored instance, the queue
 * rows they add, and the sender thread's life: it wakes when something is queued, or every
 * second for what became due; per rule it sends what is due oldest first (sender.c) and, after
 * a failure, leaves the rule alone for its backoff. */
#define LOG_COMPONENT "forward"
#include "forward/forward_int.h"

#include "huren_buf.h"
#include "huren_err.h"
#include "index/index_pacs.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *source_name(config_fwd_source s)
{
    return s == CONFIG_FWD_RETRIEVAL ? "retrieval" : s == CONFIG_FWD_CSTORE ? "cstore" : "stow";
}

static int rule_matches(const config_forward *f, config_fwd_source source, const char *ae,
                        const char *modality)
{
    if (f->source != source)
        return 0;
    if (f->source_ae && (!ae || strcmp(f->source_ae, ae) != 0))
        return 0;
    return !f->modality || (modality && !strcmp(f->modality, modality));
}

void forward_note(node *n, config_fwd_source source, const char *calling_ae, const char *sop_uid,
                  const char *modality)
{
    forwarder *fw = n->forwarder;
    if (!fw || !sop_uid)
        return;
    int queued = 0;
    for (size_t i = 0; i < n->cfg->nforwards; i++) {
        const config_forward *f = &n->cfg->forwards[i];
        if (!rule_matches(f, source, calling_ae, modality))
            continue;
        if (huren_index_fwd_enqueue(n->index, f->name, sop_uid, (int64_t)time(NULL)) < 0)
            log_error("forward %s: cannot queue %s: %s", f->name, sop_uid,
                      huren_index_errmsg(n->index));
        else
            queued = 1;
    }
    if (queued) {
        pthread_mutex_lock(&fw->mu);
        fw->wake = 1;
        pthread_cond_signal(&fw->cv);
        pthread_mutex_unlock(&fw->mu);
    }
}

static void *sender_main(void *arg)
{
    forwarder *fw = arg;
    pthread_mutex_lock(&fw->mu);
    while (!fw->stopping) {
        fw->wake = 0;
        pthread_mutex_unlock(&fw->mu);
        time_t now = time(NULL);
        for (size_t i = 0; i < fw->nrules && !fw->stopping; i++)
            if (fw->rules[i].blocked_until <= now)
                forward__send_due(fw, &fw->rules[i]);
        pthread_mutex_lock(&fw->mu);
        if (fw->wake || fw->stopping)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&fw->cv, &fw->mu, &until);
    }
    pthread_mutex_unlock(&fw->mu);
    return NULL;
}

int forward_start(node *n, char *err, size_t errlen)
{
    n->forwarder = NULL;
    if (!n->cfg->nforwards)
        return 0;
    forwarder *fw = calloc(1, sizeof *fw);
    fw_rule *rules = fw ? calloc(n->cfg->nforwards, sizeof *rules) : NULL;
    if (!rules) {
        free(fw);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fw->n = n;
    fw->rules = rules;
    fw->nrules = n->cfg->nforwards;
    for (size_t i = 0; i < fw->nrules; i++)
        rules[i].cfg = &n->cfg->forwards[i];
    pthread_mutex_init(&fw->mu, NULL);
    pthread_cond_init(&fw->cv, NULL);
    if (pthread_create(&fw->thread, NULL, sender_main, fw) != 0) {
        pthread_mutex_destroy(&fw->mu);
        pthread_cond_destroy(&fw->cv);
        free(rules);
        free(fw);
        snprintf(err, errlen, "forward: cannot start the sender thread");
        return -1;
    }
    n->forwarder = fw;
    for (size_t i = 0; i < fw->nrules; i++)
        log_info("forward %s: %s%s%s%s%s to %s", rules[i].cfg->name,
                 source_name(rules[i].cfg->source), rules[i].cfg->source_ae ? " from " : "",
                 rules[i].cfg->source_ae ? rules[i].cfg->source_ae : "",
                 rules[i].cfg->modality ? ", modality " : "",
                 rules[i].cfg->modality ? rules[i].cfg->modality : "", rules[i].cfg->destination);
    return 0;
}

void forward_stop(node *n)
{
    forwarder *fw = n ? n->forwarder : NULL;
    if (!fw)
        return;
    pthread_mutex_lock(&fw->mu);
    fw->stopping = 1;
    pthread_cond_signal(&fw->cv);
    pthread_mutex_unlock(&fw->mu);
    pthread_join(fw->thread, NULL);
    pthread_mutex_destroy(&fw->mu);
    pthread_cond_destroy(&fw->cv);
    free(fw->rules);
    free(fw);
    n->forwarder = NULL;
}

char *forward_metrics(node *n)
{
    forwarder *fw = n->forwarder;
    if (!fw)
        return NULL;
    huren_buf b = {0};
    huren_buf_adds(&b, "# HELP huren_forward_backlog Instances waiting to be forwarded, by rule;"
                       " failing: of them, sends that failed at least once.\n"
                       "# TYPE huren_forward_backlog gauge\n");
    for (size_t i = 0; i < fw->nrules; i++) {
        huren_index_fwd_stats st = {0};
        const char *name = fw->rules[i].cfg->name;
        (void)huren_index_fwd_stats_get(n->index, name, &st);
        huren_buf_printf(&b,
                         "huren_forward_backlog{rule=\"%s\"} %lld\n"
                         "huren_forward_failing{rule=\"%s\"} %lld\n"
                         "huren_forward_sent_total{rule=\"%s\"} %lld\n"
                         "huren_forward_failures_total{rule=\"%s\"} %llu\n",
                         name, (long long)st.backlog, name, (long long)st.failing, name,
                         (long long)st.sent, name, (unsigned long long)fw->rules[i].failures);
    }
    if (b.failed) {
        huren_buf_free(&b);
        return NULL;
    }
    return b.data;
}
