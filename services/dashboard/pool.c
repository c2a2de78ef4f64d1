/*
 * pool.c — a fixed set of PostgreSQL connections shared by the HTTP threads.
 * A thread waits for a free connection; each connection reconnects by itself
 * (sq_pg), so a database restart costs the requests in flight, not the pool.
 */
#include "dashboard.h"

#include <stdlib.h>

struct dash_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    sq_pg **idle;
    int n_idle, size;
};

dash_pool *dash_pool_new(const char *dsn, int size)
{
    dash_pool *p = calloc(1, sizeof *p);
    p->idle = calloc((size_t)size, sizeof *p->idle);
    p->size = size;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    for (int i = 0; i < size; i++)
        p->idle[p->n_idle++] = sq_pg_new(dsn, 3, 5000, "dashboard");
    return p;
}

sq_pg *dash_pool_get(dash_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0)
        pthread_cond_wait(&p->freed, &p->lock);
    sq_pg *pg = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    return pg;
}

void dash_pool_put(dash_pool *p, sq_pg *pg)
{
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = pg;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void dash_pool_free(dash_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_idle; i++)
        sq_pg_free(p->idle[i]);
    free(p->idle);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p);
}
