/*
 * bench_mqtt.c — the two MQTT edges, each on the running Mosquitto and Kafka:
 *
 *   bridge N     N device alarms (QoS 1, 4 device connections) through an alarm-bridge of our own on this
 *                run's topics: once with Kafka delivery awaited before the MQTT acknowledgement (the
 *                default, at-least-once) and once with kafka.await_delivery=false, whose rate is the
 *                baseline column: the ratio is what at-least-once costs. Rate = distinct alarms on the
 *                prefixed alarms.device.v1 / (last Kafka timestamp - first publish).
 *   notifier N   N Notifications on the prefixed notify.v1 → a notifier of our own → staff/{id}/tasks,
 *                counted by an observer subscribed at QoS 1; baseline: the same N rendered payloads
 *                published by a bare Paho client (one connection, 1,000 in flight, another process) to
 *                the same broker. Both rates are N / (last - first arrival at the observer).
 *
 * Side effects on the running stack, by design of the ACL (devices/+/+/alarm is the only topic a device
 * may write, and the stack's bridge reads all of it in its own shared group): the stack's alarm-bridge
 * also receives every bench alarm and writes it to the unprefixed alarms.device.v1. The bench alarms are
 * therefore `cleared` alarms of a community named bench-<run>: the bridge does the same work for raised
 * and cleared, and the stack's triage drops a clear without an open ticket, so no tickets reach the
 * development database. Before each bridge run the bench waits until the stack's bridge has drained the
 * previous run. Our bridge's persistent MQTT sessions are removed after each run (a clean-session
 * connect with the same client ids), or Mosquitto would queue alarms for them forever.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "mqtt.h"
#include "notifier.h"
#include "phone.h"
#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/notify.pb-c.h"

#include "bench_mqtt.h"

char run_hex[9]; /* the 8 hex digits of this run's prefix */

void init_hex(void)
{
    memcpy(run_hex, prefix + 6, 8); /* "bench.<8 hex>." */
    run_hex[8] = '\0';
}

/* ------------------------------------------------------------------ CPU */



void machine_ticks(long long *busy, long long *total)
{
    long long v[10] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &v[6], &v[7], &v[8], &v[9]) >= 8) {
        for (int i = 0; i < 8; i++) /* guest time is already in user */
            *total += v[i];
        *busy = *total - v[3] - v[4];
    }
    fclose(f);
}


void watch_add(cpu_watch *w, const char *name, pid_t pid)
{
    if (pid <= 0 || w->n >= 6)
        return;
    w->p[w->n].name = name;
    w->p[w->n].pid = pid;
    w->p[w->n].cpu0 = ts_cpu_seconds(pid);
    w->n++;
}

void watch_start(cpu_watch *w)
{
    w->t0 = sq_mono_us();
    machine_ticks(&w->busy0, &w->total0);
    for (int i = 0; i < w->n; i++)
        w->p[i].cpu0 = ts_cpu_seconds(w->p[i].pid);
}

/* "CPU % of one core: a 95, b 40; machine 97% of 2 cores" */
void watch_report(const cpu_watch *w, char *out, size_t len)
{
    double secs = (double)(sq_mono_us() - w->t0) / 1e6;
    size_t o = (size_t)snprintf(out, len, "CPU %% of a core:");
    for (int i = 0; i < w->n && o < len; i++) {
        double c = ts_cpu_seconds(w->p[i].pid);
        o += (size_t)snprintf(out + o, len - o, "%s %s %.0f", i ? "," : "", w->p[i].name,
                              c >= 0 && secs > 0 ? 100.0 * (c - w->p[i].cpu0) / secs : -1.0);
    }
    long long busy, total;
    machine_ticks(&busy, &total);
    if (o < len)
        snprintf(out + o, len - o, "; machine %.0f%% of %ld cores",
                 total > w->total0 ? 100.0 * (double)(busy - w->busy0) / (double)(total - w->total0) : -1.0,
                 sysconf(_SC_NPROCESSORS_ONLN));
}

/* ------------------------------------------------------------------ MQTT */

sq_mqtt *mqtt_client(const char *id, const char *user_env, const char *password_env, bool clean)
{
    sq_mqtt_options o = { .host = ts_env("MQTT_HOST"), .port = atoi(ts_env("MQTT_PORT")), .client_id = id,
                          .user = ts_env(user_env), .password = ts_env(password_env), .clean_session = clean };
    char err[256];
    sq_mqtt *m = sq_mqtt_new(&o, err, sizeof err);
    if (m && sq_mqtt_connect(m, 15000, err, sizeof err) != SQ_OK) {
        sq_mqtt_free(m);
        m = NULL;
    }
    if (!m)
        fprintf(stderr, "bench: mqtt %s: %s\n", id, err);
    return m;
}


void window_init(window *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

void window_done(void *ctx, int rc)
{
    window *w = ctx;
    int64_t now = sq_now_us();
    pthread_mutex_lock(&w->mu);
    w->outstanding--;
    if (rc == SQ_OK)
        w->acked++;
    else
        w->failed++;
    w->last_ack_us = now;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until fewer than limit are in flight; false after timeout_ms. */
bool window_below(window *w, long limit, int timeout_ms)
{
    struct timespec ts = sq_deadline_ms(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (w->outstanding >= limit)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    bool ok = w->outstanding < limit;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* QoS 1 publish through the window; retries while the client reconnects. */
bool window_publish(window *w, sq_mqtt *m, long limit, const char *topic, const char *payload, size_t len)
{
    if (!window_below(w, limit, 60000))
        return false;
    pthread_mutex_lock(&w->mu);
    w->outstanding++;
    pthread_mutex_unlock(&w->mu);
    for (int tries = 0; tries < 100; tries++) {
        if (sq_mqtt_publish_async(m, topic, payload, len, 1, window_done, w) == SQ_OK)
            return true;
        sq_sleep_ms(100);
    }
    pthread_mutex_lock(&w->mu);
    w->outstanding--;
    w->failed++;
    pthread_mutex_unlock(&w->mu);
    return false;
}
