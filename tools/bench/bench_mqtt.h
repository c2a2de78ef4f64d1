/*
 * bench_mqtt.h — what the MQTT benchmarks (bench_bridge.c, bench_notifier.c) share: CPU accounting of
 * the processes involved, MQTT clients of the bench, a bounded window of in-flight publishes.
 */
#ifndef SHEQU_BENCH_MQTT_H
#define SHEQU_BENCH_MQTT_H

#include <pthread.h>

#include "bench.h"
#include "mqtt.h"

enum { DEVICE_CONNS = 4, ALARM_WINDOW = 2000, BARE_WINDOW = 1000, STALL_MS = 20000 };

extern char run_hex[9]; /* the 8 hex digits of this run's prefix */

typedef struct {
    struct {
        const char *name;
        pid_t pid;
        double cpu0;
    } p[6];
    int n;
    long long busy0, total0;
    int64_t t0;
} cpu_watch;

/* Publishes in flight, bounded: publish() waits while `limit` are unacknowledged. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long outstanding, acked, failed;
    int64_t last_ack_us;
} window;

void init_hex(void);
void machine_ticks(long long *busy, long long *total);
void watch_add(cpu_watch *w, const char *name, pid_t pid);
void watch_start(cpu_watch *w);
void watch_report(const cpu_watch *w, char *out, size_t len);
sq_mqtt *mqtt_client(const char *id, const char *user_env, const char *password_env, bool clean);
void window_init(window *w);
void window_done(void *ctx, int rc);
bool window_below(window *w, long limit, int timeout_ms);
bool window_publish(window *w, sq_mqtt *m, long limit, const char *topic, const char *payload, size_t len);

#endif
