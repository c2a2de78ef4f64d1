/*
 * epochs.c — acknowledgements counted by batch (see epochs.h).
 */
#include "epochs.h"
#include "util.h"

void sq_epochs_init(sq_epochs *e)
{
    *e = (sq_epochs){ 0 };
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
}

void sq_epochs_destroy(sq_epochs *e)
{
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
}

unsigned sq_epochs_join(sq_epochs *e)
{
    pthread_mutex_lock(&e->mu);
    unsigned slot = e->epoch % SQ_EPOCHS;
    e->open[slot]++;
    e->total++;
    pthread_mutex_unlock(&e->mu);
    return slot;
}

void sq_epochs_end(sq_epochs *e, unsigned slot, bool ok)
{
    pthread_mutex_lock(&e->mu);
    e->open[slot]--;
    e->total--;
    if (!ok)
        e->failed[slot]++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

unsigned sq_epochs_seal(sq_epochs *e)
{
    pthread_mutex_lock(&e->mu);
    unsigned sealed = e->epoch++;
    pthread_mutex_unlock(&e->mu);
    return sealed;
}

int sq_epochs_wait(sq_epochs *e, unsigned epoch, int wait_ms)
{
    unsigned slot = epoch % SQ_EPOCHS;
    struct timespec until = sq_deadline_ms(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&e->mu);
    while (wait_ms > 0 && e->open[slot] > 0 && !e->failed[slot] &&
           pthread_cond_timedwait(&e->cv, &e->mu, &until) == 0)
        ;
    int rc = e->failed[slot] ? SQ_RETRY : e->open[slot] > 0 ? SQ_PENDING : SQ_OK;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

long sq_epochs_open(sq_epochs *e)
{
    pthread_mutex_lock(&e->mu);
    long n = e->total;
    pthread_mutex_unlock(&e->mu);
    return n;
}

bool sq_epochs_below(sq_epochs *e, long limit, int wait_ms)
{
    struct timespec until = sq_deadline_ms(wait_ms);
    pthread_mutex_lock(&e->mu);
    while (e->total >= limit && pthread_cond_timedwait(&e->cv, &e->mu, &until) == 0)
        ;
    bool ok = e->total < limit;
    pthread_mutex_unlock(&e->mu);
    return ok;
}

void sq_epochs_forgive(sq_epochs *e)
{
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < SQ_EPOCHS; i++)
        e->failed[i] = 0;
    pthread_mutex_unlock(&e->mu);
}
