/*
 * kafka.c — producer with delivery accounting, and the at-least-once consumer
 * loop (see kafka.h for the contract).
 */
#include "kafka.h"
#include "deadletter.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- common */

static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level <= 3)
        log_error("kafka.log", "facility=%s %s", fac, buf);
    else if (level <= 5)
        log_warn("kafka.log", "facility=%s %s", fac, buf);
    else
        log_debug("kafka.log", "facility=%s %s", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        return sq_fail(err, errlen, SQ_INVALID, "kafka setting %s=%s: %s", k, v, e);
    return SQ_OK;
}

static int conf_extra(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t errlen)
{
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        if (conf_set(conf, extra[i], extra[i + 1], err, errlen) != SQ_OK)
            return SQ_INVALID;
    return SQ_OK;
}

int sq_kafka_health(void *rk_handle, char *msg, size_t msglen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_handle, 0, NULL, &md, 2000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sq_fail(msg, msglen, SQ_RETRY, "kafka: %s", rd_kafka_err2str(e));
    rd_kafka_metadata_destroy(md);
    return SQ_OK;
}

/* -------------------------------------------------------------- producer */

struct sq_producer {
    rd_kafka_t *rk;
    _Atomic long in_flight;
    _Atomic long failed;
    _Atomic bool fatal;
    _Atomic bool poller_run;
    bool has_poller;
    pthread_t poller;
    int msg_timeout_ms;
    sq_metric *m_out, *m_out_err;
};

typedef struct {
    sq_delivery_fn fn;
    void *opaque;
} delivery;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sq_producer *p = opaque;
    delivery *d = m->_private;
    if (m->err) {
        atomic_fetch_add(&p->failed, 1);
        sq_metric_add(p->m_out_err, 1);
        log_warn("kafka.delivery_failed", "topic=%s error=\"%s\"", rd_kafka_topic_name(m->rkt),
                 rd_kafka_err2str(m->err));
    } else {
        sq_metric_add(p->m_out, 1);
    }
    if (d) {
        d->fn(d->opaque, m->err, m->partition, m->offset);
        free(d);
    }
    atomic_fetch_sub(&p->in_flight, 1);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sq_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        log_error("kafka.fatal", "reason=\"%s\"", why);
        if (p)
            atomic_store(&p->fatal, true);
    } else {
        log_warn("kafka.error", "error=%s reason=\"%s\"", rd_kafka_err2name(err), reason);
    }
}

sq_producer *sq_producer_new(const sq_common_config *c, const char *const *extra, char *err, size_t errlen)
{
    sq_producer *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char linger[24];
    snprintf(linger, sizeof linger, "%ld", c->kafka_linger_ms);
    if (!p || conf_set(conf, "bootstrap.servers", c->kafka_brokers, err, errlen) ||
        conf_set(conf, "client.id", c->service, err, errlen) ||
        conf_set(conf, "enable.idempotence", "true", err, errlen) ||
        conf_set(conf, "linger.ms", linger, err, errlen) ||
        conf_set(conf, "message.timeout.ms", "30000", err, errlen) ||
        conf_set(conf, "compression.codec", "lz4", err, errlen) ||
        conf_extra(conf, extra, err, errlen))
        goto fail;
    char v[32];
    size_t vl = sizeof v;
    p->msg_timeout_ms = rd_kafka_conf_get(conf, "message.timeout.ms", v, &vl) == RD_KAFKA_CONF_OK ? atoi(v) : 30000;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, rk_log_cb);
    rd_kafka_conf_set_opaque(conf, p);
    char e[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!p->rk) {
        sq_fail(err, errlen, SQ_ERR, "kafka producer: %s", e);
        goto fail;
    }
    p->m_out = sq_metric_counter("shequ_messages_out_total", NULL, "messages acknowledged by Kafka");
    p->m_out_err = sq_metric_counter("shequ_produce_errors_total", NULL, "messages Kafka did not acknowledge");
    return p;
fail:
    if (conf && !(p && p->rk))
        rd_kafka_conf_destroy(conf);
    free(p);
    return NULL;
}

static void *poller_main(void *arg)
{
    sq_producer *p = arg;
    while (atomic_load(&p->poller_run))
        rd_kafka_poll(p->rk, 50);
    return NULL;
}

int sq_producer_start_poller(sq_producer *p)
{
    atomic_store(&p->poller_run, true);
    if (pthread_create(&p->poller, NULL, poller_main, p) != 0)
        return SQ_ERR;
    p->has_poller = true;
    return SQ_OK;
}

int sq_producer_send(sq_producer *p, const char *topic, const void *key, size_t keylen,
                     const void *val, size_t vallen, rd_kafka_headers_t *hdrs,
                     sq_delivery_fn fn, void *opaque)
{
    delivery *d = NULL;
    if (fn) {
        d = malloc(sizeof *d);
        if (!d) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            return SQ_NOMEM;
        }
        d->fn = fn;
        d->opaque = opaque;
    }
    atomic_fetch_add(&p->in_flight, 1);
    int64_t deadline = sq_mono_us() + (int64_t)p->msg_timeout_ms * 1000;
    rd_kafka_resp_err_t e;
    for (;;) {
        if (hdrs)
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)val, vallen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                                  RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)val, vallen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d),
                                  RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || sq_mono_us() > deadline)
            break;
        if (p->has_poller)
            sq_sleep_ms(1);
        else
            rd_kafka_poll(p->rk, 10);
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return SQ_OK;
    atomic_fetch_sub(&p->in_flight, 1);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    free(d);
    sq_metric_add(p->m_out_err, 1);
    log_warn("kafka.produce_failed", "topic=%s error=\"%s\"", topic, rd_kafka_err2str(e));
    return SQ_RETRY;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
} sync_waiter;

static void sync_delivered(void *opaque, int err, int32_t partition, int64_t offset)
{
    sync_waiter *w = opaque;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->err = err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int sq_producer_send_sync(sq_producer *p, const char *topic, const void *key, size_t keylen,
                          const void *val, size_t vallen, rd_kafka_headers_t *hdrs)
{
    sync_waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };
    if (sq_producer_send(p, topic, key, keylen, val, vallen, hdrs, sync_delivered, &w) != SQ_OK)
        return SQ_RETRY;
    /* a delivery report always comes, at the latest when message.timeout.ms expires */
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.err == 0 ? SQ_OK : SQ_RETRY;
}

int64_t sq_message_time_us(const rd_kafka_message_t *m)
{
    int64_t ms = rd_kafka_message_timestamp(m, NULL);
    return ms > 0 ? ms * 1000 : sq_now_us();
}

int sq_producer_wait(sq_producer *p, int timeout_ms)
{
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    while (atomic_load(&p->in_flight) > 0 && sq_mono_us() < deadline) {
        if (p->has_poller)
            sq_sleep_ms(1);
        else
            rd_kafka_flush(p->rk, 100);
    }
    long failed = atomic_exchange(&p->failed, 0);
    if (atomic_load(&p->in_flight) > 0 || failed > 0)
        return SQ_RETRY;
    return SQ_OK;
}

void sq_producer_poll(sq_producer *p)
{
    if (!p->has_poller)
        rd_kafka_poll(p->rk, 0);
}

long sq_producer_in_flight(const sq_producer *p) { return atomic_load(&p->in_flight); }
rd_kafka_t *sq_producer_handle(sq_producer *p) { return p->rk; }
bool sq_producer_fatal(const sq_producer *p) { return p && atomic_load(&p->fatal); }

void sq_producer_free(sq_producer *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 10000);
    if (p->has_poller) {
        atomic_store(&p->poller_run, false);
        pthread_join(p->poller, NULL);
    }
    rd_kafka_poll(p->rk, 0);
    if (rd_kafka_outq_len(p->rk) > 0)
        log_warn("kafka.unflushed", "messages=%d", rd_kafka_outq_len(p->rk));
    rd_kafka_destroy(p->rk);
    free(p);
}

/* -------------------------------------------------------------- consumer */

typedef struct {
    char *topic;
    int32_t partition;
    int64_t first, last;
} range;

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
    range *ranges;
    int nranges, cap;
    long pending;
    int64_t batch_started_us;
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

static void batch_track(sq_consumer *c, const rd_kafka_message_t *m)
{
    for (int i = 0; i < c->nranges; i++) {
        range *r = &c->ranges[i];
        if (r->partition == m->partition && strcmp(r->topic, rd_kafka_topic_name(m->rkt)) == 0) {
            r->last = m->offset;
            return;
        }
    }
    if (c->nranges == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        range *nr = realloc(c->ranges, (size_t)cap * sizeof *nr);
        if (!nr)
            abort();
        c->ranges = nr;
        c->cap = cap;
    }
    c->ranges[c->nranges++] = (range){ strdup(rd_kafka_topic_name(m->rkt)), m->partition, m->offset, m->offset };
}

static void batch_reset(sq_consumer *c)
{
    for (int i = 0; i < c->nranges; i++)
        free(c->ranges[i].topic);
    c->nranges = 0;
    c->pending = 0;
}

/* Makes the batch durable, then stores offset+1 of its last message per partition. */
static int batch_commit(sq_consumer *c)
{
    if (c->nranges == 0)
        return SQ_OK;
    int64_t t0 = sq_mono_us();
    int rc = c->h && c->h->flush ? c->h->flush(c->app) : SQ_OK;
    if (rc == SQ_OK && c->producer)
        rc = sq_producer_wait(c->producer, 30000);
    if (rc != SQ_OK)
        return SQ_RETRY;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->nranges);
    for (int i = 0; i < c->nranges; i++)
        rd_kafka_topic_partition_list_add(l, c->ranges[i].topic, c->ranges[i].partition)->offset =
            c->ranges[i].last + 1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
    if (e)
        log_debug("kafka.offsets_store", "error=\"%s\" (partition no longer assigned)", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    sq_metric_observe(c->m_flush, (double)(sq_mono_us() - t0) / 1e6);
    batch_reset(c);
    return SQ_OK;
}

/* Drops the batch's pending effects and seeks back so it is handled again. */
static void batch_rewind(sq_consumer *c)
{
    if (c->h && c->h->discard)
        c->h->discard(c->app);
    if (c->nranges) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->nranges);
        for (int i = 0; i < c->nranges; i++)
            rd_kafka_topic_partition_list_add(l, c->ranges[i].topic, c->ranges[i].partition)->offset =
                c->ranges[i].first;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 5000);
        if (e) {
            log_warn("kafka.seek_failed", "error=\"%s\"", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    sq_metric_add(c->m_retry, 1);
    batch_reset(c);
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
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (c->h && c->h->assigned)
            c->h->assigned(c->app, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        log_parts("kafka.revoked", parts);
        if (rd_kafka_assignment_lost(rk)) {
            log_warn("kafka.assignment_lost", "pending=%ld (will be redelivered)", c->pending);
            batch_rewind(c);
        } else if (batch_commit(c) != SQ_OK) {
            log_warn("kafka.revoke_flush_failed", "pending=%ld (will be redelivered)", c->pending);
            batch_rewind(c);
        } else {
            rd_kafka_resp_err_t ce = rd_kafka_commit(rk, NULL, 0);
            if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
                log_warn("kafka.commit_failed", "error=\"%s\"", rd_kafka_err2str(ce));
        }
        if (c->h && c->h->revoked)
            c->h->revoked(c->app, parts);
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
    error_cb(rk, err, reason, NULL);
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
    if (!c || conf_set(conf, "bootstrap.servers", cfg->kafka_brokers, err, errlen) ||
        conf_set(conf, "group.id", group, err, errlen) ||
        conf_set(conf, "client.id", cfg->service, err, errlen) ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        conf_set(conf, "enable.auto.commit", "true", err, errlen) ||
        conf_set(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
        conf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
        conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err, errlen) ||
        conf_set(conf, "session.timeout.ms", session, err, errlen) ||
        conf_set(conf, "heartbeat.interval.ms", heartbeat, err, errlen) ||
        conf_set(conf, "fetch.wait.max.ms", "50", err, errlen) ||
        conf_extra(conf, extra, err, errlen))
        goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    rd_kafka_conf_set_log_cb(conf, rk_log_cb);
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

static void backoff_sleep(long *backoff_ms, volatile sig_atomic_t *running)
{
    for (long slept = 0; slept < *backoff_ms && *running; slept += 50)
        sq_sleep_ms(50);
    *backoff_ms = *backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2;
}

int sq_consumer_run(sq_consumer *c, const sq_handler *h, void *app, volatile sig_atomic_t *running)
{
    c->h = h;
    c->app = app;
    long backoff = 100;
    int64_t last_tick = 0, last_lag = 0;
    char reason[64], detail[SQ_DL_DETAIL_MAX];
    while (*running) {
        if (sq_producer_fatal(c->producer))
            return SQ_ERR;
        int64_t now = sq_mono_us();
        if (h->tick && now - last_tick >= 100000) {
            h->tick(app);
            last_tick = now;
        }
        if (now - last_lag >= 5 * SQ_US_PER_S) {
            update_lag(c);
            last_lag = now;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, c->pending ? 0 : 100);
        if (!m) {
            if (c->pending && batch_commit(c) != SQ_OK) {
                log_warn("kafka.batch_retry", "pending=%ld backoff_ms=%ld", c->pending, backoff);
                batch_rewind(c);
                backoff_sleep(&backoff, running);
            } else if (!c->pending) {
                backoff = 100;
            }
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                sq_metric_add(c->m_err, 1);
                log_warn("kafka.consume_error", "error=\"%s\"", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (c->pending == 0)
            c->batch_started_us = now;
        batch_track(c, m);
        c->pending++;
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
        if (rc != SQ_OK) {
            log_warn("kafka.handle_retry", "pending=%ld backoff_ms=%ld reason=\"%s\"", c->pending, backoff, detail);
            batch_rewind(c);
            backoff_sleep(&backoff, running);
            continue;
        }
        if (c->pending >= c->cfg->kafka_batch_max ||
            sq_mono_us() - c->batch_started_us >= c->cfg->kafka_batch_ms * 1000) {
            if (batch_commit(c) != SQ_OK) {
                batch_rewind(c);
                backoff_sleep(&backoff, running);
            }
        }
    }
    return SQ_OK;
}

void sq_consumer_close(sq_consumer *c)
{
    if (!c)
        return;
    if (c->pending && batch_commit(c) != SQ_OK) {
        log_warn("kafka.close_unflushed", "pending=%ld (will be redelivered)", c->pending);
        if (c->h && c->h->discard)
            c->h->discard(c->app);
        batch_reset(c);
    }
    rd_kafka_resp_err_t ce = rd_kafka_commit(c->rk, NULL, 0);
    if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("kafka.commit_failed", "error=\"%s\"", rd_kafka_err2str(ce));
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    free(c->ranges);
    free(c);
}
