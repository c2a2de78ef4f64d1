/*
 * epochs.h — counting acknowledgements by batch while the next batch is already being sent.
 *
 * Every item (a Kafka message, an MQTT publish) joins the epoch open when it is sent and is ended
 * later, acknowledged or failed, from any thread. sq_epochs_seal() closes the open epoch and opens
 * the next; sq_epochs_wait() says whether every item of a sealed epoch ended well. Slots form a ring
 * of SQ_EPOCHS: keep at most SQ_EPOCHS - 1 sealed epochs unresolved.
 *
 *   unsigned s = sq_epochs_join(&e);        // when sending
 *   sq_epochs_end(&e, s, ok);               // in the acknowledgement callback
 *   unsigned ep = sq_epochs_seal(&e);       // at the end of a batch
 *   sq_epochs_wait(&e, ep, 0);              // SQ_OK, SQ_PENDING or SQ_RETRY
 */
#ifndef SQ_EPOCHS_H
#define SQ_EPOCHS_H

#include "sq.h"

#include <pthread.h>

#define SQ_EPOCHS 4

typedef struct sq_epochs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned epoch; /* the open one */
    long open[SQ_EPOCHS], failed[SQ_EPOCHS];
    long total; /* items not yet ended, over every epoch */
} sq_epochs;

void sq_epochs_init(sq_epochs *e);
void sq_epochs_destroy(sq_epochs *e);
/* A new item in the open epoch; returns its slot for sq_epochs_end. */
unsigned sq_epochs_join(sq_epochs *e);
void sq_epochs_end(sq_epochs *e, unsigned slot, bool ok);
/* Closes the open epoch (returned) and opens the next. */
unsigned sq_epochs_seal(sq_epochs *e);
/* SQ_RETRY if an item of the epoch failed, SQ_OK once all ended, else SQ_PENDING after waiting up to
 * wait_ms (0: no wait). */
int sq_epochs_wait(sq_epochs *e, unsigned epoch, int wait_ms);
/* Items not yet ended, over every epoch. */
long sq_epochs_open(sq_epochs *e);
/* Waits up to wait_ms until fewer than limit items are open; false if the time ran out. */
bool sq_epochs_below(sq_epochs *e, long limit, int wait_ms);
/* Forgets the failures (after a failed batch was discarded and will be sent again). */
void sq_epochs_forgive(sq_epochs *e);

#endif
