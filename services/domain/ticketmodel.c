/*
 * ticketmodel.c — one model per owned partition, restored on assignment, dropped on revocation, and
 * the stream clock each model decides by (ticketlog.h has the contract).
 */
#include "log.h"
#include "statelog.h"
#include "ticketlog.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTITIONS 256
#define MAX_TOPICS 8

struct sq_streamclock {
    int ntopics;
    int64_t newest_us[MAX_TOPICS]; /* newest Kafka timestamp read per topic */
    bool at_end[MAX_TOPICS];       /* the topic's partition is read to its end right now */
    bool reached_end[MAX_TOPICS];  /* ... and has been at least once since assignment */
};

int64_t sq_stream_now_us(const sq_streamclock *c)
{
    int64_t wall = sq_now_us(), t = wall;
    for (int i = 0; i < c->ntopics; i++) {
        int64_t ti = c->at_end[i] ? wall : c->newest_us[i];
        if (ti < t)
            t = ti;
    }
    return t;
}

bool sq_stream_caught_up(const sq_streamclock *c)
{
    for (int i = 0; i < c->ntopics; i++)
        if (!c->reached_end[i])
            return false;
    return true;
}

typedef struct part {
    void *model;
    bool revoked;            /* eager protocol: given up, kept until the next assignment says */
    int64_t next_ticket;     /* the next tickets.v1 offset this model would apply (-1: unknown) */
    sq_streamclock clock;
} part;

typedef struct runner {
    const sq_common_config *cfg;
    const sq_handler *h;
    const sq_ticketmodel *m;
    void *ctx;
    const char *tickets_topic, *changelog_topic;
    const char *const *subs;
    int nsubs;
    part *parts[MAX_PARTITIONS];
    sq_consumer *consumer;
} runner;

static part *part_of(runner *r, int32_t p) { return p >= 0 && p < MAX_PARTITIONS ? r->parts[p] : NULL; }

static int topic_index(const runner *r, const char *topic)
{
    for (int i = 0; i < r->nsubs; i++)
        if (strcmp(r->subs[i], topic) == 0)
            return i;
    return -1;
}

static void part_drop(runner *r, int32_t p)
{
    if (!r->parts[p])
        return;
    r->m->destroy(r->parts[p]->model);
    free(r->parts[p]);
    r->parts[p] = NULL;
}

static void drop_all(runner *r)
{
    for (int p = 0; p < MAX_PARTITIONS; p++)
        part_drop(r, p);
}

static void restore_apply(void *arg, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset)
{
    runner *r = arg;
    r->m->apply(r->parts[partition]->model, e, partition, offset);
}

/* Creates and restores the models of the partitions in parts that have none; sets where tickets.v1 starts. */
static void on_assigned(void *arg, const rd_kafka_topic_partition_list_t *cparts)
{
    runner *r = arg;
    rd_kafka_topic_partition_list_t *parts = (rd_kafka_topic_partition_list_t *)cparts; /* offsets are ours to set */
    bool wanted[MAX_PARTITIONS] = { false };
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < MAX_PARTITIONS)
            wanted[parts->elems[i].partition] = true;
        else
            log_error("model.partition_out_of_range", "partition=%d max=%d", (int)parts->elems[i].partition,
                      MAX_PARTITIONS);
    sq_restore_part todo[MAX_PARTITIONS];
    int ntodo = 0;
    for (int p = 0; p < MAX_PARTITIONS; p++) {
        if (r->parts[p] && r->parts[p]->revoked && !wanted[p]) {
            log_info("model.dropped", "partition=%d (assigned elsewhere)", p);
            part_drop(r, p);
        }
        if (!wanted[p])
            continue;
        if (r->parts[p]) { /* kept over an eager rebalance: goes on from its own position */
            r->parts[p]->revoked = false;
            memset(r->parts[p]->clock.at_end, 0, sizeof r->parts[p]->clock.at_end);
            continue;
        }
        part *pt = calloc(1, sizeof *pt);
        if (pt) {
            pt->clock.ntopics = r->nsubs;
            pt->model = r->m->create(r->ctx, p, &pt->clock);
        }
        if (!pt || !pt->model) {
            free(pt);
            log_error("model.no_memory", "partition=%d", p);
            sq_consumer_request_restart(r->consumer);
            return;
        }
        pt->next_ticket = -1;
        r->parts[p] = pt;
        todo[ntodo++] = (sq_restore_part){ .partition = p };
    }
    if (ntodo) {
        char err[512];
        int64_t t0 = sq_mono_us();
        long n = sq_statelog_restore(r->cfg, r->changelog_topic, r->tickets_topic, todo, ntodo, !r->m->changelog_only,
                                     restore_apply, r, err, sizeof err);
        if (n < 0) {
            log_error("state.restore_failed", "partitions=%d error=\"%s\" (starting over)", ntodo, err);
            for (int i = 0; i < ntodo; i++)
                part_drop(r, todo[i].partition);
            sq_consumer_request_restart(r->consumer);
            return;
        }
        int tix = topic_index(r, r->tickets_topic);
        for (int i = 0; i < ntodo; i++) {
            part *pt = r->parts[todo[i].partition];
            pt->next_ticket = todo[i].next;
            if (tix >= 0)
                pt->clock.newest_us[tix] = todo[i].newest_us;
            log_info("state.restored", "partition=%d from_changelog=%ld from_log=%ld position=%lld next=%lld tickets=%zu",
                     (int)todo[i].partition, todo[i].from_changelog, todo[i].from_log, (long long)todo[i].position,
                     (long long)todo[i].next, r->m->tickets(pt->model));
        }
        log_info("state.restore_done", "partitions=%d events=%ld ms=%lld", ntodo, n, (long long)(sq_mono_us() - t0) / 1000);
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (strcmp(tp->topic, r->tickets_topic) == 0 && tp->partition >= 0 && tp->partition < MAX_PARTITIONS &&
            r->parts[tp->partition] && r->parts[tp->partition]->next_ticket >= 0)
            tp->offset = r->parts[tp->partition]->next_ticket;
    }
}

static void on_revoked(void *arg, const rd_kafka_topic_partition_list_t *parts)
{
    runner *r = arg;
    bool lost = rd_kafka_assignment_lost(sq_consumer_handle(r->consumer));
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= MAX_PARTITIONS || !r->parts[p])
            continue;
        if (lost)
            part_drop(r, p); /* others may have gone on with it */
        else
            r->parts[p]->revoked = true;
    }
}

static int on_message(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    runner *r = arg;
    part *pt = part_of(r, m->partition);
    if (!pt || pt->revoked) {
        /* cannot happen with the range assignor; handling it without its state would be wrong */
        sq_consumer_request_restart(r->consumer);
        return sq_fail(detail, dlen, SQ_RETRY, "no model for partition %d", (int)m->partition);
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    int ti = topic_index(r, topic);
    int64_t ts = rd_kafka_message_timestamp(m, NULL) * 1000;
    if (ti >= 0) {
        pt->clock.at_end[ti] = false; /* until the next end of partition */
        if (ts > pt->clock.newest_us[ti])
            pt->clock.newest_us[ti] = ts;
    }
    if (strcmp(topic, r->tickets_topic) == 0)
        pt->next_ticket = m->offset + 1;
    return r->h->handle(pt->model, m, reason, rlen, detail, dlen);
}

/* The end of a partition: its topic's clock follows the wall until the next message of it. */
static void on_eof(void *arg, const rd_kafka_message_t *m)
{
    runner *r = arg;
    part *pt = part_of(r, m->partition);
    int ti = m->rkt ? topic_index(r, rd_kafka_topic_name(m->rkt)) : -1;
    if (pt && ti >= 0)
        pt->clock.at_end[ti] = pt->clock.reached_end[ti] = true;
}

static void on_tick(void *arg)
{
    runner *r = arg;
    if (!r->h->tick)
        return;
    for (int p = 0; p < MAX_PARTITIONS; p++)
        if (r->parts[p] && !r->parts[p]->revoked)
            r->h->tick(r->parts[p]->model);
}

int sq_ticketmodel_run(const sq_common_config *cfg, sq_producer *producer, const char *tickets_topic,
                       const char *const *subs, const sq_handler *h, const sq_ticketmodel *m, void *ctx,
                       volatile sig_atomic_t *running)
{
    runner r = { .cfg = cfg, .h = h, .m = m, .ctx = ctx, .tickets_topic = tickets_topic,
                 .changelog_topic = cfg->state_changelog || m->changelog_only ? sq_topic_name(cfg, SQ_CHANGELOG_TOPIC) : NULL,
                 .subs = subs };
    while (subs[r.nsubs])
        r.nsubs++;
    if (r.nsubs > MAX_TOPICS)
        return SQ_INVALID;
    /* co-partitioning is the contract: a topic with another partition count would put a community's
     * inputs on a partition number whose model never sees its tickets */
    int count = 0;
    for (int i = 0; i < r.nsubs; i++) {
        int n = sq_topic_partition_count(cfg, subs[i]);
        for (int tries = 0; n == SQ_RETRY && tries < 30 && *running; tries++) {
            sq_sleep_while(1000, running); /* the broker may be starting */
            n = sq_topic_partition_count(cfg, subs[i]);
        }
        if (n < 0) {
            log_error("topics.unavailable", "topic=%s", subs[i]);
            return SQ_ERR;
        }
        if (count && n != count) {
            log_error("topics.not_copartitioned", "topic=%s partitions=%d expected=%d (every topic a model reads must "
                      "have the same partition count: see the repartitioning step in docs/partitioning.md)",
                      subs[i], n, count);
            return SQ_INVALID;
        }
        count = n;
    }
    if (count > MAX_PARTITIONS) {
        log_error("topics.too_many_partitions", "partitions=%d max=%d", count, MAX_PARTITIONS);
        return SQ_INVALID;
    }
    sq_handler wrap = { .handle = on_message, .tick = on_tick, .assigned = on_assigned, .revoked = on_revoked, .eof = on_eof,
                        .rebuild_on_loss = true };
    /* the range assignor gives one member the same partition number of every topic it reads */
    /* (eager protocol), and the ends of partitions tell the stream clocks when to follow the wall */
    static const char *const extra[] = { "partition.assignment.strategy", "range", "enable.partition.eof", "true", NULL };
    char err[512];
    long rebuilds = 0, wait_ms = 0;
    int64_t last_rebuild = 0;
    while (*running) {
        r.consumer = sq_consumer_new(cfg, subs, producer, extra, err, sizeof err);
        if (!r.consumer) {
            log_error("consumer.failed", "error=\"%s\"", err);
            return SQ_INVALID;
        }
        /* a partition's topics in timestamp order: a backlog, or another instance, decides as live */
        sq_consumer_set_ordered(r.consumer, 1000);
        int rc = sq_consumer_run(r.consumer, &wrap, &r, running);
        sq_consumer_close(r.consumer);
        drop_all(&r);
        r.consumer = NULL;
        if (rc != SQ_RESTART)
            return rc;
        /* while Kafka goes on refusing, wait longer each time (100 ms doubling to 10 s; from 100 ms
         * again after a minute without a rebuild) */
        bool recent = last_rebuild && sq_mono_us() - last_rebuild < 60 * SQ_US_PER_S;
        wait_ms = recent ? (wait_ms * 2 > 10000 ? 10000 : wait_ms * 2) : 100;
        last_rebuild = sq_mono_us();
        rebuilds++;
        log_warn("model.rebuild", "reason=\"output lost or a restore failed\" rebuilds=%ld wait_ms=%ld", rebuilds,
                 wait_ms);
        sq_sleep_while(wait_ms, running);
    }
    return SQ_OK;
}
