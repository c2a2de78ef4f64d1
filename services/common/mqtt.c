/*
 * mqtt.c — Paho async wrapper. Synchronous calls wait on a heap "waiter"
 * shared by the caller and Paho's callback; whichever finishes last frees it,
 * so a timed-out caller never leaves a dangling pointer behind.
 */
#include "mqtt.h"
#include "log.h"
#include "util.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBS 8

struct sq_mqtt {
    MQTTAsync client;
    char uri[300];
    char client_id[128];
    char user[128];
    char password[128];
    sq_mqtt_options opts;
    sq_mqtt_msg_fn on_msg;
    void *on_msg_ctx;
    pthread_mutex_t lock;
    char subs[MAX_SUBS][256];
    int sub_qos[MAX_SUBS];
    int nsubs;
    _Atomic bool connected;
};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int refs;
    bool done;
    int rc;        /* SQ_OK or an error */
    int mqtt_code; /* Paho/MQTT return code on failure */
} waiter;

static waiter *waiter_new(void)
{
    waiter *w = calloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    atomic_store(&w->refs, 2);
    return w;
}

static void waiter_put(waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) == 1) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
    }
}

static void waiter_finish(waiter *w, int rc, int code)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->rc = rc;
    w->mqtt_code = code;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_put(w);
}

/* Waits, then releases the caller's reference. Returns the rc or SQ_RETRY on timeout. */
static int waiter_wait(waiter *w, int timeout_ms, int *code)
{
    struct timespec ts = sq_deadline_ms(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    int rc = w->done ? w->rc : SQ_RETRY;
    if (code)
        *code = w->done ? w->mqtt_code : 0;
    pthread_mutex_unlock(&w->mu);
    waiter_put(w);
    return rc;
}

static void on_ok(void *ctx, MQTTAsync_successData *d) { waiter_finish(ctx, SQ_OK, 0); }
static void on_fail(void *ctx, MQTTAsync_failureData *d) { waiter_finish(ctx, SQ_RETRY, d ? d->code : -1); }

static int msg_arrived(void *ctx, char *topic, int topiclen, MQTTAsync_message *msg)
{
    sq_mqtt *m = ctx;
    int handled = 1;
    if (m->on_msg)
        handled = m->on_msg(m->on_msg_ctx, topic, msg->payload, (size_t)msg->payloadlen);
    if (handled) {
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
    }
    return handled;
}

static void conn_lost(void *ctx, char *cause)
{
    sq_mqtt *m = ctx;
    atomic_store(&m->connected, false);
    log_warn("mqtt.connection_lost", "client=%s cause=\"%s\"", m->client_id, cause ? cause : "unknown");
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *d) {}
static void on_sub_fail(void *ctx, MQTTAsync_failureData *d)
{
    log_error("mqtt.resubscribe_failed", "code=%d", d ? d->code : -1);
}

static void connected_cb(void *ctx, char *cause)
{
    sq_mqtt *m = ctx;
    atomic_store(&m->connected, true);
    pthread_mutex_lock(&m->lock);
    int n = m->nsubs;
    pthread_mutex_unlock(&m->lock);
    if (cause && n) {
        log_info("mqtt.reconnected", "client=%s resubscribing=%d", m->client_id, n);
        for (int i = 0; i < n; i++) {
            MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
            ro.onSuccess = on_sub_ok;
            ro.onFailure = on_sub_fail;
            ro.context = m;
            MQTTAsync_subscribe(m->client, m->subs[i], m->sub_qos[i], &ro);
        }
    }
}

sq_mqtt *sq_mqtt_new(const sq_mqtt_options *o, char *err, size_t errlen)
{
    sq_mqtt *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->opts = *o;
    snprintf(m->uri, sizeof m->uri, "tcp://%s:%d", o->host, o->port);
    snprintf(m->client_id, sizeof m->client_id, "%s", o->client_id);
    snprintf(m->user, sizeof m->user, "%s", o->user ? o->user : "");
    snprintf(m->password, sizeof m->password, "%s", o->password ? o->password : "");
    pthread_mutex_init(&m->lock, NULL);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    /* Paho counts publishes queued for its sending thread against maxBufferedMessages (default 100)
     * even while connected, and refuses more (MQTTASYNC_MAX_BUFFERED_MESSAGES): allow a burst */
    co.maxBufferedMessages = 10000;
    int rc = MQTTAsync_createWithOptions(&m->client, m->uri, m->client_id,
                                         o->persist_dir ? MQTTCLIENT_PERSISTENCE_DEFAULT : MQTTCLIENT_PERSISTENCE_NONE,
                                         (void *)o->persist_dir, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        sq_fail(err, errlen, SQ_ERR, "mqtt create %s: %s", m->uri, MQTTAsync_strerror(rc));
        free(m);
        return NULL;
    }
    MQTTAsync_setCallbacks(m->client, m, conn_lost, msg_arrived, NULL);
    MQTTAsync_setConnected(m->client, m, connected_cb);
    return m;
}

void sq_mqtt_on_message(sq_mqtt *m, sq_mqtt_msg_fn fn, void *ctx)
{
    m->on_msg = fn;
    m->on_msg_ctx = ctx;
}

int sq_mqtt_connect(sq_mqtt *m, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    int last = 0;
    do {
        MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
        co.keepAliveInterval = m->opts.keepalive_s > 0 ? m->opts.keepalive_s : 20;
        co.cleansession = m->opts.clean_session;
        co.automaticReconnect = 1;
        co.minRetryInterval = 1;
        co.maxRetryInterval = 5;
        co.maxInflight = m->opts.max_inflight > 0 ? m->opts.max_inflight : 1000;
        co.connectTimeout = 5;
        co.username = m->user[0] ? m->user : NULL;
        co.password = m->password[0] ? m->password : NULL;
        waiter *w = waiter_new();
        co.onSuccess = on_ok;
        co.onFailure = on_fail;
        co.context = w;
        int rc = MQTTAsync_connect(m->client, &co);
        if (rc != MQTTASYNC_SUCCESS) {
            waiter_put(w);
            waiter_put(w);
            last = rc;
        } else {
            int code = 0;
            rc = waiter_wait(w, 6000, &code);
            if (rc == SQ_OK) {
                atomic_store(&m->connected, true);
                return SQ_OK;
            }
            last = code;
            /* 4 = bad user name or password, 5 = not authorized: retrying will not help */
            if (code == 4 || code == 5)
                return sq_fail(err, errlen, SQ_INVALID, "mqtt %s: connection refused (code %d)", m->uri, code);
        }
        sq_sleep_ms(200);
    } while (sq_mono_us() < deadline);
    return sq_fail(err, errlen, SQ_RETRY, "mqtt %s: cannot connect (code %d)", m->uri, last);
}

int sq_mqtt_subscribe(sq_mqtt *m, const char *filter, int qos, int timeout_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&m->lock);
    bool known = false;
    for (int i = 0; i < m->nsubs; i++)
        known |= strcmp(m->subs[i], filter) == 0;
    if (!known && m->nsubs < MAX_SUBS) {
        snprintf(m->subs[m->nsubs], sizeof m->subs[0], "%s", filter);
        m->sub_qos[m->nsubs++] = qos;
    }
    pthread_mutex_unlock(&m->lock);
    waiter *w = waiter_new();
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_ok;
    ro.onFailure = on_fail;
    ro.context = w;
    int rc = MQTTAsync_subscribe(m->client, filter, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        waiter_put(w);
        waiter_put(w);
        return sq_fail(err, errlen, SQ_RETRY, "mqtt subscribe %s: %s", filter, MQTTAsync_strerror(rc));
    }
    rc = waiter_wait(w, timeout_ms, NULL);
    if (rc != SQ_OK)
        return sq_fail(err, errlen, rc, "mqtt subscribe %s: refused or timed out", filter);
    return SQ_OK;
}

typedef struct {
    sq_mqtt_done_fn fn;
    void *ctx;
} pub_done;

static void pub_ok(void *ctx, MQTTAsync_successData *d)
{
    pub_done *p = ctx;
    if (p->fn)
        p->fn(p->ctx, SQ_OK);
    free(p);
}

static void pub_fail(void *ctx, MQTTAsync_failureData *d)
{
    pub_done *p = ctx;
    if (p->fn)
        p->fn(p->ctx, SQ_RETRY);
    free(p);
}

int sq_mqtt_publish_async(sq_mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                          sq_mqtt_done_fn done, void *ctx)
{
    pub_done *p = malloc(sizeof *p);
    if (!p)
        return SQ_NOMEM;
    p->fn = done;
    p->ctx = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = pub_ok;
    ro.onFailure = pub_fail;
    ro.context = p;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    int rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        free(p);
        log_warn("mqtt.publish_refused", "client=%s rc=%d error=\"%s\"", m->client_id, rc, MQTTAsync_strerror(rc));
        return SQ_RETRY;
    }
    return SQ_OK;
}

static void sync_done(void *ctx, int rc) { waiter_finish(ctx, rc, 0); }

int sq_mqtt_publish(sq_mqtt *m, const char *topic, const void *payload, size_t len, int qos, int timeout_ms)
{
    waiter *w = waiter_new();
    if (sq_mqtt_publish_async(m, topic, payload, len, qos, sync_done, w) != SQ_OK) {
        waiter_put(w);
        waiter_put(w);
        return SQ_RETRY;
    }
    return waiter_wait(w, timeout_ms, NULL);
}

bool sq_mqtt_connected(sq_mqtt *m) { return m && atomic_load(&m->connected) && MQTTAsync_isConnected(m->client); }

int sq_mqtt_health(void *m, char *msg, size_t msglen)
{
    return sq_mqtt_connected(m) ? SQ_OK : sq_fail(msg, msglen, SQ_RETRY, "mqtt not connected");
}

void sq_mqtt_free(sq_mqtt *m)
{
    if (!m)
        return;
    if (MQTTAsync_isConnected(m->client)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 2000;
        MQTTAsync_disconnect(m->client, &d);
        for (int i = 0; i < 40 && MQTTAsync_isConnected(m->client); i++)
            sq_sleep_ms(50);
    }
    MQTTAsync_destroy(&m->client);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void sq_mqtt_client_id(char *out, size_t outlen, const char *base, const char *instance)
{
    if (instance && *instance)
        snprintf(out, outlen, "%s-%s", base ? base : "", instance);
    else
        snprintf(out, outlen, "%s", base ? base : "");
}
