/*
 * merge.c — a partition's topics read in timestamp order (the consumer loop's ordered mode, kafka.h).
 *
 * A service that owns partition p of several co-partitioned topics (triage: reports, alarms and ticket
 * events of the same communities) decides by the order in which it handles them. Left to librdkafka,
 * that order across topics is whatever the fetches return, so an instance catching up on a backlog,
 * or another instance after a rebalance, could see a report and a camera alarm of the same place the
 * other way round and decide differently. Here each assigned partition gets its own queue
 * (rd_kafka_queue_get_partition, no longer forwarded to the consumer queue); the head of each is held,
 * and the next message given to the loop is, per partition number, the one with the earliest Kafka
 * timestamp, once every other topic of that partition has a head too or has been read to its end (an
 * end of partition event, enable.partition.eof). A head that waited idle_ms for a silent topic goes
 * anyway (as Kafka Streams' max.task.idle.ms). Ties go to the topic named first.
 *
 * Held messages are not handled, so not tracked by any batch: after a crash they come again from the
 * committed offsets. A seek (the loop's rewind) or a revocation drops them.
 */
#include "kafka_internal.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_TOPICS 8

typedef struct held {
    rd_kafka_message_t **v; /* FIFO of messages and end-of-partition events */
    size_t head, n, cap;
    int64_t since_us;       /* when the current head became the head */
} held;

typedef struct slot {
    rd_kafka_queue_t *q;    /* NULL: not assigned */
    held h;
    bool at_end;            /* read to its end since its last message */
} slot;

struct sq_merge {
    rd_kafka_t *rk;
    const char *topics[MERGE_TOPICS];
    int ntopics;
    int64_t idle_us;
    slot *slots;            /* [partition * ntopics + topic] */
    int nparts;
    int rr;                 /* the partition looked at first next time */
};

sq_merge *sq_merge_new(rd_kafka_t *rk, const char *const *topics, int idle_ms)
{
    sq_merge *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->rk = rk;
    while (topics[g->ntopics] && g->ntopics < MERGE_TOPICS) {
        g->topics[g->ntopics] = topics[g->ntopics];
        g->ntopics++;
    }
    g->idle_us = (int64_t)idle_ms * 1000;
    return g;
}

static int topic_of(const sq_merge *g, const char *topic)
{
    for (int i = 0; i < g->ntopics; i++)
        if (strcmp(g->topics[i], topic) == 0)
            return i;
    return -1;
}

static slot *slot_of(sq_merge *g, const char *topic, int32_t partition, bool grow)
{
    int t = topic_of(g, topic);
    if (t < 0 || partition < 0 || partition >= 4096)
        return NULL;
    if (partition >= g->nparts) {
        if (!grow)
            return NULL;
        int n = partition + 1;
        slot *s = realloc(g->slots, (size_t)n * (size_t)g->ntopics * sizeof *s);
        if (!s)
            return NULL;
        memset(s + (size_t)g->nparts * (size_t)g->ntopics, 0, (size_t)(n - g->nparts) * (size_t)g->ntopics * sizeof *s);
        g->slots = s;
        g->nparts = n;
    }
    return &g->slots[(size_t)partition * (size_t)g->ntopics + (size_t)t];
}

static void held_push(held *h, rd_kafka_message_t *m)
{
    if (h->head + h->n == h->cap) {
        if (h->head) { /* room at the front: move down */
            memmove(h->v, h->v + h->head, h->n * sizeof *h->v);
            h->head = 0;
        } else {
            size_t cap = h->cap ? h->cap * 2 : 4;
            rd_kafka_message_t **v = realloc(h->v, cap * sizeof *v);
            if (!v)
                abort(); /* the allocation policy of sq.h */
            h->v = v;
            h->cap = cap;
        }
    }
    if (!h->n)
        h->since_us = sq_mono_us();
    h->v[h->head + h->n++] = m;
}

static rd_kafka_message_t *held_peek(const held *h) { return h->n ? h->v[h->head] : NULL; }

static rd_kafka_message_t *held_pop(held *h)
{
    rd_kafka_message_t *m = h->v[h->head++];
    if (--h->n == 0)
        h->head = 0;
    else
        h->since_us = sq_mono_us();
    return m;
}

static void held_clear(held *h)
{
    while (h->n)
        rd_kafka_message_destroy(held_pop(h));
}

void sq_merge_assigned(sq_merge *g, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        slot *s = slot_of(g, parts->elems[i].topic, parts->elems[i].partition, true);
        if (!s || s->q)
            continue;
        s->q = rd_kafka_queue_get_partition(g->rk, parts->elems[i].topic, parts->elems[i].partition);
        if (s->q)
            rd_kafka_queue_forward(s->q, NULL); /* its messages wait on its own queue */
        s->at_end = false;
    }
}

void sq_merge_revoked(sq_merge *g, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        slot *s = slot_of(g, parts->elems[i].topic, parts->elems[i].partition, false);
        if (!s || !s->q)
            continue;
        held_clear(&s->h);
        rd_kafka_queue_destroy(s->q);
        s->q = NULL;
        s->at_end = false;
    }
}

void sq_merge_drop_held(sq_merge *g)
{
    for (int i = 0; i < g->nparts * g->ntopics; i++) {
        held_clear(&g->slots[i].h);
        g->slots[i].at_end = false;
    }
}

void sq_merge_free(sq_merge *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nparts * g->ntopics; i++) {
        held_clear(&g->slots[i].h);
        free(g->slots[i].h.v);
        if (g->slots[i].q)
            rd_kafka_queue_destroy(g->slots[i].q);
    }
    free(g->slots);
    free(g);
}

/* Moves what arrived into the holds: first the consumer queue (rebalances are served there; messages
 * forwarded before an assignment's queue was split off are older than what its own queue has), then
 * every partition queue. Returns an error event of the consumer queue for the loop, if any. */
static rd_kafka_message_t *gather(sq_merge *g)
{
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(g->rk, 0))) {
        slot *s = m->rkt ? slot_of(g, rd_kafka_topic_name(m->rkt), m->partition, false) : NULL;
        if (!s || !s->q || (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF))
            return m; /* an error, or a message of a partition no longer ours: the loop decides */
        held_push(&s->h, m);
    }
    for (int i = 0; i < g->nparts * g->ntopics; i++) {
        slot *s = &g->slots[i];
        while (s->q && s->h.n < 64 && (m = rd_kafka_consume_queue(s->q, 0)))
            held_push(&s->h, m);
    }
    return NULL;
}

/* The next message of partition p in timestamp order, an end-of-partition event, or NULL (wait). */
static rd_kafka_message_t *pick(sq_merge *g, int p)
{
    slot *row = &g->slots[(size_t)p * (size_t)g->ntopics];
    int best = -1;
    int64_t best_ts = 0;
    bool blocked = false;
    for (int t = 0; t < g->ntopics; t++) {
        slot *s = &row[t];
        rd_kafka_message_t *m = held_peek(&s->h);
        if (!s->q && !m)
            continue; /* not ours */
        if (m && m->err) { /* an end of partition: nothing to order, and the topic is at its end */
            held_pop(&s->h);
            s->at_end = s->h.n == 0;
            return m;
        }
        if (!m) {
            blocked |= !s->at_end;
            continue;
        }
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (best < 0 || ts < best_ts) {
            best = t;
            best_ts = ts;
        }
    }
    if (best < 0)
        return NULL;
    if (blocked && sq_mono_us() - row[best].h.since_us < g->idle_us)
        return NULL; /* a topic of this partition may still bring something earlier */
    row[best].at_end = false;
    return held_pop(&row[best].h);
}

rd_kafka_message_t *sq_merge_next(sq_merge *g, int timeout_ms)
{
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        rd_kafka_message_t *m = gather(g);
        if (m)
            return m;
        for (int i = 0; i < g->nparts; i++) {
            int p = (g->rr + i) % g->nparts;
            if ((m = pick(g, p))) {
                g->rr = (p + 1) % g->nparts;
                return m;
            }
        }
        int64_t left = deadline - sq_mono_us();
        if (left <= 0)
            return NULL;
        sq_sleep_ms(left > 5000 ? 5 : (int)((left + 999) / 1000 < 5 ? (left + 999) / 1000 : 5));
    }
}
