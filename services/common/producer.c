/*
 * producer.c — the idempotent producer with delivery accounting (see kafka.h).
 */
#include "epochs.h"
#include "kafka_internal.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- producer */

struct sq_producer {
    rd_kafka_t *rk;
    _Atomic long failed;
    sq_epochs epochs; /* which batch's messages are acknowledged (see sq_producer_seal) */
    _Atomic bool fatal;
    _Atomic bool poller_run;
    bool has_poller;
    pthread_t poller;
    int msg_timeout_ms;
    sq_metric *m_out, *m_out_err;
};

/* A message's opaque: its delivery callback and epoch slot, or, without a callback, just the slot
 * tagged as (void *)(slot + 1) (no allocation per message; a real pointer is never that small). */
typedef struct {
    sq_delivery_fn fn;
    void *opaque;
    unsigned slot;
} delivery;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sq_producer *p = opaque;
    uintptr_t tag = (uintptr_t)m->_private;
    delivery *d = tag > SQ_EPOCHS ? m->_private : NULL;
    unsigned slot = d ? d->slot : (unsigned)tag - 1;
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
    sq_epochs_end(&p->epochs, slot, m->err == 0);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sq_producer *p = opaque;
    sq_kafka_report_error(rk, err, reason, p ? &p->fatal : NULL);
}

sq_producer *sq_producer_new(const sq_common_config *c, const char *const *extra, char *err, size_t errlen)
{
    sq_producer *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (p)
        sq_epochs_init(&p->epochs);
    char linger[24];
    snprintf(linger, sizeof linger, "%ld", c->kafka_linger_ms);
    if (!p || sq_kafka_conf_set(conf, "bootstrap.servers", c->kafka_brokers, err, errlen) ||
        sq_kafka_conf_set(conf, "client.id", c->service, err, errlen) ||
        sq_kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) ||
        /* Java's default for keyed records (murmur2 of the key), so producers outside the project that
         * key by community_id put a community on the same partition as ours */
        sq_kafka_conf_set(conf, "partitioner", "murmur2_random", err, errlen) ||
        sq_kafka_conf_set(conf, "linger.ms", linger, err, errlen) ||
        sq_kafka_conf_set(conf, "message.timeout.ms", "30000", err, errlen) ||
        sq_kafka_conf_set(conf, "compression.codec", c->kafka_compression ? c->kafka_compression : "lz4", err, errlen) ||
        sq_kafka_conf_extra(conf, extra, err, errlen))
        goto fail;
    char v[32];
    size_t vl = sizeof v;
    p->msg_timeout_ms = rd_kafka_conf_get(conf, "message.timeout.ms", v, &vl) == RD_KAFKA_CONF_OK ? atoi(v) : 30000;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, sq_kafka_log_cb);
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
    if (p)
        sq_epochs_destroy(&p->epochs);
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

int sq_producer_send_to(sq_producer *p, const char *topic, int32_t partition, int64_t timestamp_ms, const void *key,
                        size_t keylen,
                     const void *val, size_t vallen, rd_kafka_headers_t *hdrs,
                     sq_delivery_fn fn, void *opaque)
{
    unsigned slot = sq_epochs_join(&p->epochs);
    delivery *d = NULL;
    void *tag = (void *)(uintptr_t)(slot + 1);
    if (fn) {
        d = malloc(sizeof *d);
        if (!d) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            sq_epochs_end(&p->epochs, slot, true);
            return SQ_NOMEM;
        }
        d->fn = fn;
        d->opaque = opaque;
        d->slot = slot;
        tag = d;
    }
    int64_t deadline = sq_mono_us() + (int64_t)p->msg_timeout_ms * 1000;
    rd_kafka_resp_err_t e;
    for (;;) {
        if (hdrs)
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                  RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)val, vallen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                                  RD_KAFKA_V_OPAQUE(tag), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                  RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)val, vallen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(tag),
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
    sq_epochs_end(&p->epochs, slot, true); /* refused at once: the caller hears of it here */
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    free(d);
    sq_metric_add(p->m_out_err, 1);
    log_warn("kafka.produce_failed", "topic=%s error=\"%s\"", topic, rd_kafka_err2str(e));
    return SQ_RETRY;
}

int sq_producer_send(sq_producer *p, const char *topic, const void *key, size_t keylen, const void *val, size_t vallen,
                     rd_kafka_headers_t *hdrs, sq_delivery_fn fn, void *opaque)
{
    return sq_producer_send_to(p, topic, RD_KAFKA_PARTITION_UA, 0, key, keylen, val, vallen, hdrs, fn, opaque);
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
    while (sq_epochs_open(&p->epochs) > 0 && sq_mono_us() < deadline) {
        if (p->has_poller)
            sq_sleep_ms(1);
        else
            rd_kafka_flush(p->rk, 100);
    }
    long failed = atomic_exchange(&p->failed, 0);
    if (sq_epochs_open(&p->epochs) > 0 || failed > 0)
        return SQ_RETRY;
    return SQ_OK;
}

unsigned sq_producer_seal(sq_producer *p) { return sq_epochs_seal(&p->epochs); }

int sq_producer_epoch_wait(sq_producer *p, unsigned epoch, int timeout_ms)
{
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (!p->has_poller)
            rd_kafka_poll(p->rk, 0);
        int rc = sq_epochs_wait(&p->epochs, epoch, p->has_poller && timeout_ms > 0 ? 1 : 0);
        if (rc != SQ_PENDING)
            return rc;
        if (sq_mono_us() >= deadline)
            return timeout_ms > 0 ? SQ_RETRY : SQ_PENDING;
        if (!p->has_poller)
            rd_kafka_poll(p->rk, 1);
    }
}

void sq_producer_epochs_reset(sq_producer *p) { sq_epochs_forgive(&p->epochs); }

void sq_producer_poll(sq_producer *p)
{
    if (!p->has_poller)
        rd_kafka_poll(p->rk, 0);
}

long sq_producer_in_flight(sq_producer *p) { return sq_epochs_open(&p->epochs); }
bool sq_producer_lost(sq_producer *p) { return atomic_load(&p->failed) > 0; }
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
    sq_epochs_destroy(&p->epochs);
    free(p);
}

