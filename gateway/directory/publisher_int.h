/* publisher_int.h: the publisher's state, shared by publisher.c (the hook, lifecycle, health)
 * and sender.c (the thread that drains the outbox). Not included elsewhere. */
#ifndef HUREN_GATEWAY_PUBLISHER_INT_H
#define HUREN_GATEWAY_PUBLISHER_INT_H

#include "catalogue.h"
#include "config.h"
#include "huren_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct publisher {
    const config *cfg;
    huren_index *index;
    catalogue *_Atomic cat; /* owned; NULL without a catalogue; replaced by a reload */
    unsigned char key[CONFIG_REGION_KEY_MAX];
    size_t keylen;
    /* the sender */
    pthread_t thread;
    int running;
    pthread_mutex_t mu; /* guards stop, last_* */
    pthread_cond_t cv;  /* signalled to stop */
    int stop;
    atomic_int stopping; /* read by libcurl's progress callback */
    time_t last_success, last_error_at;
    char last_error[260];
    atomic_uint_fast64_t sent, refused, failures, uncatalogued;
};

/* sender.c */
int sender_start(struct publisher *p, char *err, size_t errlen);
void sender_stop(struct publisher *p);

#endif
