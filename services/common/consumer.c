/*
 * consumer.c — the at-least-once consumer loop (see kafka.h for the contract).
 */
#include "deadletter.h"
#include "kafka_internal.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- consumer */

typedef struct {
    char *topic;
    int32_t partition;
    int64_t first, last;
} range;

/* The messages of one batch: per partition the first and last offset handled. */
typedef struct {
    range *ranges;
    int nranges, cap;
    long pending;
    int64_t started_us;  /* when its first message came */
    int64_t sealed_us;   /* when it was sealed (0: still filling) */
    unsigned epoch;      /* the producer epoch its messages joined */
    bool handler_done;   /* the handler's flush reported durable */
} batch;

typedef struct {
    char topic[128];
    sq_metric *in, *lag;
} topic_metrics;

struct sq_consumer {
    rd_kafka_t *rk;
    sq_producer *producer;
    const sq_common_config *cfg;
    const char *dl_topic;
    const sq_handler *h;
    void *app;
    batch cur;  /* filling */
    batch fl;   /* sealed and being made durable (fl.sealed_us != 0) */
    long backoff_ms; /* before handling again after a failure; reset when a batch goes through */
    bool restart;    /* output was lost (a discarded batch's, or a tick's while idle) and the handler's memory
                      * follows its output */
    sq_merge *merge; /* ordered mode (sq_consumer_set_ordered), else NULL */
    char **topics;   /* the subscription, for the ordered mode */
    topic_metrics tm[16];
    int ntm;
    sq_metric *m_dead, *m_err, *m_latency, *m_flush, *m_retry;
};

static topic_metrics *metrics_for(sq_consumer *c, const char *topic)
{
    for (int i = 0; i < c->ntm; i++)
        if (strcmp(c->tm[i].topic, topic) == 0)
            return &c->tm[i];
    if (c->ntm == (int)SQ_ARRAY_LEN(c->tm))
        return &c->tm[0];
    topic_metrics *t = &c->tm[c->ntm++];
    char labels[200];
    snprintf(t->topic, sizeof t->topic, "%s", topic);
    snprintf(labels, sizeof labels, "topic=\"%s\"", topic);
    t->in = sq_metric_counter("shequ_messages_in_total", labels, "messages consumed");
    t->lag = sq_metric_gauge("shequ_consumer_lag", labels, "messages behind the partition end, summed over assigned partitions");
    return t;
}

static range *batch_find(batch *b, const char *topic, int32_t partition)
{
    for (int i = 0; i < b->nranges; i++)
        if (b->ranges[i].partition == partition && strcmp(b->ranges[i].topic, topic) == 0)
            return &b->ranges[i];
    return NULL;
}

static void batch_track(batch *b, const rd_kafka_message_t *m)
{
    range *r = batch_find(b, rd_kafka_topic_name(m->rkt), m->partition);
    if (r) {
        r->last = m->offset;
        return;
    }
    if (b->nranges == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        range *nr = realloc(b->ranges, (size_t)cap * sizeof *nr);
        if (!nr)
            abort();
        b->ranges = nr;
        b->cap = cap;
    }
    b->ranges[b->nranges++] = (range){ strdup(rd_kafka_topic_name(m->rkt)), m->partition, m->offset, m->offset };
}

static void batch_reset(batch *b)
{
    for (int i = 0; i < b->nranges; i++)
        free(b->ranges[i].topic);
    b->nranges = 0;
    b->pending = 0;
    b->sealed_us = 0;
    b->handler_done = false;
}

static bool in_flight(const sq_consumer *c) { return c->fl.sealed_us != 0; }

/* Ends the current batch: seals its producer epoch, starts (or runs) the handler's flush and makes it
 * the batch in flight. Only when none is in flight. */
static int batch_seal(sq_consumer *c)
{
    if (c->cur.pending == 0)
        return SQ_OK;
    c->cur.epoch = c->producer ? sq_producer_seal(c->producer) : 0;
    int rc = SQ_OK;
    if (c->h->flush_start)
        rc = c->h->flush_start(c->app);
    else if (c->h->flush)
        rc = c->h->flush(c->app);
    c->cur.handler_done = !c->h->flush_start;
    c->cur.sealed_us = sq_mono_us();
    batch t = c->fl; /* the empty one, keeping its ranges' capacity */
    c->fl = c->cur;
    c->cur = t;
    return rc == SQ_OK ? SQ_OK : SQ_RETRY;
}

/* Whether the batch in flight is durable; if so, stores offset+1 of its last message per partition.
 * wait_ms 0: only asks; otherwise waits up to about that long. SQ_OK, SQ_PENDING or SQ_RETRY. */
static int flight_poll(sq_consumer *c, int wait_ms)
{
    batch *b = &c->fl;
    if (!in_flight(c))
        return SQ_OK;
    if (!b->handler_done) {
        int rc = c->h->flush_done(c->app, wait_ms);
        if (rc == SQ_PENDING) /* having waited, as long as a flush may take */
            return wait_ms > 0 ? SQ_RETRY : SQ_PENDING;
        if (rc != SQ_OK)
            return SQ_RETRY;
        b->handler_done = true;
    }
    if (c->producer) {
        int rc = sq_producer_epoch_wait(c->producer, b->epoch, wait_ms);
        if (rc != SQ_OK)
            return rc;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(b->nranges);
    for (int i = 0; i < b->nranges; i++)
        rd_kafka_topic_partition_list_add(l, b->ranges[i].topic, b->ranges[i].partition)->offset = b->ranges[i].last + 1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
    if (e)
        log_debug("kafka.offsets_store", "error=\"%s\" (partition no longer assigned)", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    sq_metric_observe(c->m_flush, (double)(sq_mono_us() - b->sealed_us) / 1e6);
    batch_reset(b);
    c->backoff_ms = 100; /* a batch went through: the dependencies are back */
    return SQ_OK;
}

/* Makes everything handled so far durable and its offsets stored, waiting for it. */
static int drain(sq_consumer *c)
{
    int rc = flight_poll(c, 30000);
    if (rc == SQ_OK && c->cur.pending && (rc = batch_seal(c)) == SQ_OK)
        rc = flight_poll(c, 30000);
    return rc == SQ_OK ? SQ_OK : SQ_RETRY;
}

static long pending(const sq_consumer *c) { return c->cur.pending + c->fl.pending; }

/* Drops both batches' pending effects and seeks back so they are handled again: every partition to the
 * first offset either batch holds of it (the one in flight came first). */
static void rewind_all(sq_consumer *c)
{
    if (in_flight(c) && !c->fl.handler_done && c->h->flush_done(c->app, 30000) == SQ_PENDING)
        log_warn("kafka.rewind_unfinished", "the handler's flush still runs after 30 s; discarding anyway");
    if (c->h && c->h->discard)
        c->h->discard(c->app);
    if (c->producer) {
        /* every delivery report in, then forget the failures */
        bool lost = sq_producer_wait(c->producer, 30000) != SQ_OK;
        sq_producer_epochs_reset(c->producer);
        if (lost && c->h && c->h->rebuild_on_loss && !c->restart) {
            log_warn("kafka.output_lost", "pending=%ld (messages it produced did not all reach"
                     " Kafka: the handler's memory is ahead of the log and is built again)", pending(c));
            c->restart = true;
        }
    }
    int n = c->fl.nranges + c->cur.nranges;
    if (n) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < c->fl.nranges; i++)
            rd_kafka_topic_partition_list_add(l, c->fl.ranges[i].topic, c->fl.ranges[i].partition)->offset =
                c->fl.ranges[i].first;
        for (int i = 0; i < c->cur.nranges; i++)
            if (!batch_find(&c->fl, c->cur.ranges[i].topic, c->cur.ranges[i].partition))
                rd_kafka_topic_partition_list_add(l, c->cur.ranges[i].topic, c->cur.ranges[i].partition)->offset =
                    c->cur.ranges[i].first;
        if (c->merge)
            sq_merge_drop_held(c->merge);
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 5000);
        if (e) {
            log_warn("kafka.seek_failed", "error=\"%s\"", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    sq_metric_add(c->m_retry, 1);
    batch_reset(&c->fl);
    batch_reset(&c->cur);
}

static void log_parts(const char *event, const rd_kafka_topic_partition_list_t *parts)
{
    char buf[512];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && off < sizeof buf - 40; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s[%d]", i ? "," : "",
                                parts->elems[i].topic, (int)parts->elems[i].partition);
    log_info(event, "count=%d partitions=%s", parts->cnt, buf);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sq_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_parts("kafka.assigned", parts);
        if (c->h && c->h->assigned) /* before assigning: it may set where partitions start */
            c->h->assigned(c->app, parts);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (c->merge)
            sq_merge_assigned(c->merge, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        log_parts("kafka.revoked", parts);
        if (rd_kafka_assignment_lost(rk)) {
            log_warn("kafka.assignment_lost", "pending=%ld (will be redelivered)", pending(c));
            rewind_all(c);
        } else if (drain(c) != SQ_OK) {
            log_warn("kafka.revoke_flush_failed", "pending=%ld (will be redelivered)", pending(c));
            rewind_all(c);
        } else {
            rd_kafka_resp_err_t ce = rd_kafka_commit(rk, NULL, 0);
            if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
                log_warn("kafka.commit_failed", "error=\"%s\"", rd_kafka_err2str(ce));
        }
        if (c->h && c->h->revoked)
            c->h->revoked(c->app, parts);
        if (c->merge)
            sq_merge_revoked(c->merge, parts);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    } else {
        log_error("kafka.rebalance_error", "error=\"%s\"", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
    if (e) {
        log_error("kafka.assign_failed", "error=\"%s\"", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sq_kafka_report_error(rk, err, reason, NULL);
}

sq_consumer *sq_consumer_new(const sq_common_config *cfg, const char *const *topics, sq_producer *producer,
                             const char *const *extra, char *err, size_t errlen)
{
    sq_consumer *c = calloc(1, sizeof *c);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char session[24], heartbeat[24];
    snprintf(session, sizeof session, "%ld", cfg->kafka_session_timeout_ms);
    snprintf(heartbeat, sizeof heartbeat, "%ld", cfg->kafka_session_timeout_ms / 3);
    const char *group = cfg->kafka_group && *cfg->kafka_group ? cfg->kafka_group : cfg->service;
    if (!c || sq_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers, err, errlen) ||
        sq_kafka_conf_set(conf, "group.id", group, err, errlen) ||
        sq_kafka_conf_set(conf, "client.id", cfg->service, err, errlen) ||
        sq_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        sq_kafka_conf_set(conf, "enable.auto.commit", "true", err, errlen) ||
        sq_kafka_conf_set(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
        sq_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
        sq_kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err, errlen) ||
        sq_kafka_conf_set(conf, "session.timeout.ms", session, err, errlen) ||
        sq_kafka_conf_set(conf, "heartbeat.interval.ms", heartbeat, err, errlen) ||
        sq_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err, errlen) ||
        sq_kafka_conf_set(conf, "enable.partition.eof", cfg->kafka_stop_at_end ? "true" : "false", err, errlen) ||
        sq_kafka_conf_extra(conf, extra, err, errlen))
        goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    rd_kafka_conf_set_log_cb(conf, sq_kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, c);
    char e[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!c->rk) {
        sq_fail(err, errlen, SQ_ERR, "kafka consumer: %s", e);
        goto fail;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(c->rk);
    int n = 0;
    while (topics[n])
        n++;
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    c->topics = calloc((size_t)n + 1, sizeof *c->topics);
    for (int i = 0; c->topics && i < n; i++)
        c->topics[i] = strdup(topics[i]);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (se) {
        sq_fail(err, errlen, SQ_ERR, "kafka subscribe: %s", rd_kafka_err2str(se));
        rd_kafka_destroy(c->rk);
        free(c);
        return NULL;
    }
    c->producer = producer;
    c->cfg = cfg;
    c->dl_topic = sq_topic_name(cfg, cfg->topic_deadletter);
    c->m_dead = sq_metric_counter("shequ_deadletters_total", NULL, "messages sent to the dead-letter topic");
    c->m_err = sq_metric_counter("shequ_consume_errors_total", NULL, "consumer errors reported by librdkafka");
    c->m_retry = sq_metric_counter("shequ_batch_retries_total", NULL, "batches handled again after a dependency failed");
    c->m_latency = sq_metric_histogram("shequ_event_latency_seconds", NULL, "from the message's Kafka timestamp to its handling");
    c->m_flush = sq_metric_histogram("shequ_batch_flush_seconds", NULL, "time to make a batch durable");
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(c);
    return NULL;
}

rd_kafka_t *sq_consumer_handle(sq_consumer *c) { return c->rk; }

void sq_consumer_request_restart(sq_consumer *c) { c->restart = true; }

int sq_consumer_set_ordered(sq_consumer *c, int idle_ms)
{
    if (!c->topics || c->merge)
        return SQ_ERR;
    c->merge = sq_merge_new(c->rk, (const char *const *)c->topics, idle_ms);
    return c->merge ? SQ_OK : SQ_NOMEM;
}

int sq_consumer_deadletter(sq_consumer *c, const rd_kafka_message_t *m, const char *reason, const char *detail)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t *h = sq_deadletter_headers(c->cfg->service, topic, m->partition, m->offset, reason, detail);
    log_warn("deadletter", "topic=%s partition=%d offset=%lld reason=%s detail=\"%.200s\"", topic,
             (int)m->partition, (long long)m->offset, reason, detail ? detail : "");
    sq_metric_add(c->m_dead, 1);
    return sq_producer_send(c->producer, c->dl_topic, m->key, m->key_len, m->payload,
                            m->len, h, NULL, NULL);
}

static void update_lag(sq_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) || !parts)
        return;
    rd_kafka_position(c->rk, parts);
    for (int i = 0; i < c->ntm; i++)
        sq_metric_set(c->tm[i].lag, 0);
    double sums[16] = { 0 };
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) || p->offset < 0)
            continue;
        topic_metrics *t = metrics_for(c, p->topic);
        sums[t - c->tm] += (double)(hi - p->offset);
    }
    for (int i = 0; i < c->ntm; i++)
        sq_metric_set(c->tm[i].lag, sums[i]);
    rd_kafka_topic_partition_list_destroy(parts);
}

/*
 * kafka.stop_at_end: true when something is assigned and every assigned partition's position has
 * reached the end the broker reports now (an empty partition counts as read).
 */
static bool read_to_end(sq_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) || !parts)
        return false;
    bool done = parts->cnt > 0;
    rd_kafka_position(c->rk, parts);
    for (int i = 0; done && i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (rd_kafka_query_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi, 5000))
            done = false;
        else if (p->offset < 0 ? hi != lo : p->offset < hi)
            done = false;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return done;
}

static void backoff_sleep(long *backoff_ms, volatile sig_atomic_t *running)
{
    sq_sleep_while(*backoff_ms, running);
    *backoff_ms = *backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2;
}

/* A failure of either batch: both are handled again after a capped backoff. */
static void retry_later(sq_consumer *c, const char *why, volatile sig_atomic_t *running)
{
    log_warn("kafka.batch_retry", "pending=%ld backoff_ms=%ld reason=\"%s\"", pending(c), c->backoff_ms, why);
    rewind_all(c);
    backoff_sleep(&c->backoff_ms, running);
}

int sq_consumer_run(sq_consumer *c, const sq_handler *h, void *app, volatile sig_atomic_t *running)
{
    c->h = h;
    c->app = app;
    c->backoff_ms = 100;
    int64_t last_tick = 0, last_lag = 0;
    char reason[64], detail[SQ_DL_DETAIL_MAX];
    while (*running) {
        if (sq_producer_fatal(c->producer))
            return SQ_ERR;
        if (c->restart)
            return SQ_RESTART;
        int64_t now = sq_mono_us();
        if (h->tick && now - last_tick >= 100000) {
            h->tick(app);
            last_tick = now;
        }
        if (now - last_lag >= 5 * SQ_US_PER_S) {
            update_lag(c);
            last_lag = now;
        }
        if (in_flight(c)) {
            int rc = flight_poll(c, 0);
            if (rc == SQ_RETRY) {
                retry_later(c, "flush failed", running);
                continue;
            }
        }
        bool full = c->cur.pending >= c->cfg->kafka_batch_max;
        if (c->cur.pending && (full || now - c->cur.started_us >= c->cfg->kafka_batch_ms * 1000)) {
            /* due: wait for the batch in flight only when this one is full (backpressure) */
            int rc = in_flight(c) && full ? flight_poll(c, 30000) : SQ_OK;
            if (rc == SQ_OK && !in_flight(c))
                rc = batch_seal(c);
            if (rc == SQ_RETRY) {
                retry_later(c, "flush failed", running);
                continue;
            }
        }
        /* with a flush in flight, wake often to notice its end; idle, wait for input */
        int wait_ms = in_flight(c) ? 1 : c->cur.pending ? 0 : 100;
        rd_kafka_message_t *m = c->merge ? sq_merge_next(c->merge, wait_ms) : rd_kafka_consumer_poll(c->rk, wait_ms);
        if (c->restart) { /* decided in a rebalance during the poll: handle nothing more with this memory */
            if (m)
                rd_kafka_message_destroy(m);
            return SQ_RESTART;
        }
        if (!m) {
            if (c->cur.pending && !in_flight(c)) { /* caught up: make what we have durable */
                if (batch_seal(c) != SQ_OK)
                    retry_later(c, "flush failed", running);
            } else if (!c->cur.pending && !in_flight(c) && c->producer) {
                /* idle: what a tick sent belongs to no batch, so its failures are noticed here */
                sq_producer_poll(c->producer);
                if (sq_producer_lost(c->producer))
                    retry_later(c, "output sent while idle was lost", running);
            }
            continue;
        }
        if (m->err) {
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if (!eof) {
                sq_metric_add(c->m_err, 1);
                log_warn("kafka.consume_error", "error=\"%s\"", rd_kafka_message_errstr(m));
            }
            if (eof && h->eof)
                h->eof(app, m);
            rd_kafka_message_destroy(m);
            if (eof && c->cfg->kafka_stop_at_end && drain(c) == SQ_OK && read_to_end(c)) {
                log_info("kafka.end_reached", "every assigned partition is read and committed; stopping");
                return SQ_OK;
            }
            continue;
        }
        if (c->cur.pending == 0)
            c->cur.started_us = now;
        batch_track(&c->cur, m);
        c->cur.pending++;
        topic_metrics *t = metrics_for(c, rd_kafka_topic_name(m->rkt));
        sq_metric_add(t->in, 1);
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts > 0)
            sq_metric_observe(c->m_latency, (double)(sq_now_us() / 1000 - ts) / 1e3);
        reason[0] = detail[0] = '\0';
        int rc = h->handle(app, m, reason, sizeof reason, detail, sizeof detail);
        if (rc == SQ_INVALID)
            rc = sq_consumer_deadletter(c, m, reason[0] ? reason : "invalid", detail);
        rd_kafka_message_destroy(m);
        if (rc != SQ_OK)
            retry_later(c, detail[0] ? detail : "handle failed", running);
    }
    return SQ_OK;
}

void sq_consumer_close(sq_consumer *c)
{
    if (!c)
        return;
    if (pending(c) && drain(c) != SQ_OK) {
        log_warn("kafka.close_unflushed", "pending=%ld (will be redelivered)", pending(c));
        if (c->h && c->h->discard)
            c->h->discard(c->app);
        batch_reset(&c->fl);
        batch_reset(&c->cur);
    }
    rd_kafka_resp_err_t ce = rd_kafka_commit(c->rk, NULL, 0);
    if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("kafka.commit_failed", "error=\"%s\"", rd_kafka_err2str(ce));
    rd_kafka_consumer_close(c->rk); /* the revocation it serves lets the merge's queues go */
    sq_merge_free(c->merge);
    rd_kafka_destroy(c->rk);
    for (int i = 0; c->topics && c->topics[i]; i++)
        free(c->topics[i]);
    free(c->topics);
    free(c->fl.ranges);
    free(c->cur.ranges);
    free(c);
}

