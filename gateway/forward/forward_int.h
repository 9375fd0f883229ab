/* forward_int.h: shared by the files of gateway/forward/ only: the sender and its rules. */
#ifndef HUREN_GATEWAY_FORWARD_INT_H
#define HUREN_GATEWAY_FORWARD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "forward/forward.h"

typedef struct fw_rule {
    const config_forward *cfg;
    time_t blocked_until; /* after a failure: nothing sent before (the backoff) */
    int consecutive;      /* failures in a row, for the backoff */
    atomic_uint_fast64_t failures;
} fw_rule;

typedef struct forwarder {
    node *n;
    fw_rule *rules;
    size_t nrules;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake, stopping;
} forwarder;

/* sender.c: send what of rule r is due now, until one fails (then r backs off). */
void forward__send_due(forwarder *fw, fw_rule *r);

#endif
