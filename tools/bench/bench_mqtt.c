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

enum { DEVICE_CONNS = 4, ALARM_WINDOW = 2000, BARE_WINDOW = 1000, STALL_MS = 20000 };

static char run_hex[9]; /* the 8 hex digits of this run's prefix */

static void init_hex(void)
{
    memcpy(run_hex, prefix + 6, 8); /* "bench.<8 hex>." */
    run_hex[8] = '\0';
}

/* ------------------------------------------------------------------ CPU */

/* CPU seconds (user + system) of a process, -1 if it is not there. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The pid in $SHEQU_STATE/<file> (the stack's servers and services), or 0. */
static pid_t state_pid(const char *file)
{
    const char *dir = getenv("SHEQU_STATE");
    char path[512];
    if (!dir)
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static void machine_ticks(long long *busy, long long *total)
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

static void watch_add(cpu_watch *w, const char *name, pid_t pid)
{
    if (pid <= 0 || w->n >= 6)
        return;
    w->p[w->n].name = name;
    w->p[w->n].pid = pid;
    w->p[w->n].cpu0 = proc_cpu_s(pid);
    w->n++;
}

static void watch_start(cpu_watch *w)
{
    w->t0 = sq_mono_us();
    machine_ticks(&w->busy0, &w->total0);
    for (int i = 0; i < w->n; i++)
        w->p[i].cpu0 = proc_cpu_s(w->p[i].pid);
}

/* "CPU % of one core: a 95, b 40; machine 97% of 2 cores" */
static void watch_report(const cpu_watch *w, char *out, size_t len)
{
    double secs = (double)(sq_mono_us() - w->t0) / 1e6;
    size_t o = (size_t)snprintf(out, len, "CPU %% of a core:");
    for (int i = 0; i < w->n && o < len; i++) {
        double c = proc_cpu_s(w->p[i].pid);
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

static sq_mqtt *mqtt_client(const char *id, const char *user_env, const char *password_env, bool clean)
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

/* Publishes in flight, bounded: publish() waits while `limit` are unacknowledged. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long outstanding, acked, failed;
    int64_t last_ack_us;
} window;

static void window_init(window *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void window_done(void *ctx, int rc)
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
static bool window_below(window *w, long limit, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    pthread_mutex_lock(&w->mu);
    while (w->outstanding >= limit)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    bool ok = w->outstanding < limit;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* QoS 1 publish through the window; retries while the client reconnects. */
static bool window_publish(window *w, sq_mqtt *m, long limit, const char *topic, const char *payload, size_t len)
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

/* ---------------------------------------------------------------- bridge */

typedef struct {
    const char *tag; /* alarm ids are "<tag>-<i>"; probes "<tag>-p<k>" */
    long n;
    unsigned char *seen;
    long distinct, dups, probes;
    int64_t last_ms; /* Kafka timestamp of the newest alarm */
} alarm_tally;

static void tally_message(alarm_tally *t, const rd_kafka_message_t *m)
{
    Shequ__V1__DeviceAlarm *a = shequ__v1__device_alarm__unpack(NULL, m->len, m->payload);
    if (!a)
        return;
    size_t tl = strlen(t->tag);
    const char *id = a->alarm_id;
    if (strncmp(id, t->tag, tl) == 0 && id[tl] == '-') {
        const char *d = id + tl + 1;
        if (*d == 'p') {
            t->probes++;
        } else {
            char *end;
            long i = strtol(d, &end, 10);
            if (*end == '\0' && i >= 0 && i < t->n) {
                if (t->seen[i]) {
                    t->dups++;
                } else {
                    t->seen[i] = 1;
                    t->distinct++;
                    int64_t ts = rd_kafka_message_timestamp(m, NULL);
                    if (ts > t->last_ms)
                        t->last_ms = ts;
                }
            }
        }
    }
    shequ__v1__device_alarm__free_unpacked(a, NULL);
}

/*
 * Reads topic from the beginning (all partitions) into the tally until `want` distinct alarms (or, with
 * want = 0, one probe) arrived, or nothing new came for stall_ms.
 */
static void read_alarms(const char *topic, alarm_tally *t, long want, int stall_ms)
{
    char err[256], group[128];
    ts_unique(group, sizeof group, "bench.reader");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench: kafka consumer: %s\n", err);
        return;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *kt = rd_kafka_topic_new(rk, topic, NULL);
    int parts = 1;
    if (rd_kafka_metadata(rk, 0, kt, &md, 5000) == 0) {
        if (md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
            parts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(kt);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t progress = sq_mono_us();
    while (want ? t->distinct < want : t->probes == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            long before = t->distinct + t->probes;
            if (!m->err)
                tally_message(t, m);
            if (t->distinct + t->probes != before)
                progress = sq_mono_us();
            rd_kafka_message_destroy(m);
        }
        if (sq_mono_us() - progress > (int64_t)stall_ms * 1000)
            break;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Waits until the end offsets of topic stop moving for quiet_ms (at most max_ms); returns the ms waited. */
static long wait_quiet(const char *topic, int quiet_ms, int max_ms)
{
    int64_t t0 = sq_mono_us(), still = t0;
    int64_t last = ts_end_offsets(topic);
    while (sq_mono_us() - still < (int64_t)quiet_ms * 1000 && sq_mono_us() - t0 < (int64_t)max_ms * 1000) {
        sq_sleep_ms(1000);
        int64_t now = ts_end_offsets(topic);
        if (now != last) {
            last = now;
            still = sq_mono_us();
        }
    }
    return (long)((sq_mono_us() - t0) / 1000);
}

/* Removes the persistent sessions our bridge left in Mosquitto (they would queue alarms forever). */
static void drop_sessions(const char *client_id, long conns)
{
    for (long i = 0; i < conns; i++) {
        char id[160];
        snprintf(id, sizeof id, "%s-%ld", client_id, i);
        sq_mqtt_free(mqtt_client(id, "MQTT_BRIDGE_USER", "MQTT_BRIDGE_PASSWORD", true));
    }
}

typedef struct {
    double rate;
    long distinct, dups, failed_pub;
    double publish_s, total_s, secs; /* secs: first publish to last Kafka timestamp */
    char cpu[200];
} bridge_run;

/* When publishing took (nearly) as long as the whole run, the rate is the bench's, not the bridge's. */
static const char *bound(const bridge_run *r)
{
    return r->secs > 0 && r->publish_s >= 0.9 * r->secs ? " (publisher-bound: a floor)" : "";
}

static void run_bridge(long n, bool await, long bridge_conns, bridge_run *out)
{
    char tag[16], community[32], client_id[64], group[64], dir[128], topic[128];
    snprintf(tag, sizeof tag, "%s%c", run_hex, await ? 'c' : 'u');
    snprintf(community, sizeof community, "bench-%s", run_hex);
    snprintf(client_id, sizeof client_id, "bench-bridge-%s", tag);
    snprintf(group, sizeof group, "bench-%s", tag);
    snprintf(dir, sizeof dir, "build/bench/paho-%s", tag);
    snprintf(topic, sizeof topic, "%salarms.device.v1", prefix);
    memset(out, 0, sizeof *out);

    long waited = wait_quiet("alarms.device.v1", 3000, 300000);
    if (waited > 5000)
        fprintf(stderr, "bench bridge: waited %ld ms for the stack's bridge to drain earlier alarms\n", waited);

    char e_user[200], e_pw[200], e_id[120], e_group[120], e_dir[200], e_await[64], e_rules[400], e_conns[64];
    snprintf(e_user, sizeof e_user, "SHEQU_MQTT_USER=%s", ts_env("MQTT_BRIDGE_USER"));
    snprintf(e_pw, sizeof e_pw, "SHEQU_MQTT_PASSWORD=%s", ts_env("MQTT_BRIDGE_PASSWORD"));
    snprintf(e_id, sizeof e_id, "SHEQU_MQTT_CLIENT_ID=%s", client_id);
    snprintf(e_group, sizeof e_group, "SHEQU_MQTT_SHARE_GROUP=%s", group);
    snprintf(e_dir, sizeof e_dir, "SHEQU_MQTT_PERSIST_DIR=%s", dir); /* as tools/dev runs it: file persistence */
    snprintf(e_await, sizeof e_await, "SHEQU_KAFKA_AWAIT_DELIVERY=%s", await ? "true" : "false");
    snprintf(e_rules, sizeof e_rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(e_conns, sizeof e_conns, "SHEQU_MQTT_CONNECTIONS=%ld", bridge_conns);
    char *extra[] = { e_user, e_pw, e_id, e_group, e_dir, e_await, e_rules, e_conns, NULL };
    mkdir("build/bench", 0755);
    mkdir(dir, 0755);
    pid_t pid = spawn_service("alarm-bridge", extra);

    sq_mqtt *dev[DEVICE_CONNS] = { 0 };
    bool ok = true;
    for (int k = 0; k < DEVICE_CONNS && ok; k++) {
        char id[96];
        snprintf(id, sizeof id, "bench-dev-%s-%d", tag, k);
        ok = (dev[k] = mqtt_client(id, "MQTT_DEVICE_USER", "MQTT_DEVICE_PASSWORD", true)) != NULL;
    }
    /* ready once a probe alarm went through our bridge (its shared subscription exists) */
    alarm_tally t = { .tag = tag, .n = n, .seen = calloc((size_t)n + 1, 1) };
    char top[160], payload[512], when[40];
    for (int k = 0; ok && k < 60 && t.probes == 0; k++) {
        snprintf(top, sizeof top, "devices/%s/probe/alarm", community);
        int len = snprintf(payload, sizeof payload, "{\"alarm_id\":\"%s-p%d\",\"type\":\"smoke\",\"state\":\"cleared\"}",
                           tag, k);
        sq_mqtt_publish(dev[0], top, payload, (size_t)len, 1, 5000);
        read_alarms(topic, &t, 0, 1000);
    }
    if (!ok || t.probes == 0) {
        fprintf(stderr, "bench bridge: our alarm-bridge did not come up (no probe on %s)\n", topic);
        ok = false;
    }
    sq_sleep_ms(500); /* the bridge's other connections subscribe right after the first */

    cpu_watch cw = { 0 };
    watch_add(&cw, "bridge", pid);
    watch_add(&cw, "stack-bridge", state_pid("svc-alarm-bridge.pid"));
    watch_add(&cw, "mosquitto", state_pid("mosquitto.pid"));
    watch_add(&cw, "kafka", state_pid("kafka.pid"));
    watch_add(&cw, "bench", getpid());
    watch_start(&cw);
    window w;
    window_init(&w);
    int64_t first_pub_us = sq_now_us(), t0 = sq_mono_us();
    sq_fmt_rfc3339(first_pub_us, when, sizeof when);
    for (long i = 0; ok && i < n; i++) {
        snprintf(top, sizeof top, "devices/%s/d%ld/alarm", community, i % 200);
        int len = snprintf(payload, sizeof payload,
                           "{\"alarm_id\":\"%s-%ld\",\"type\":\"smoke\",\"state\":\"cleared\",\"level\":1,"
                           "\"building\":\"%ld\",\"unit\":\"%ld\",\"occurred_at\":\"%s\",\"snapshot_url\":null}",
                           tag, i, 1 + i % 30, 1 + i % 4, when);
        if (!window_publish(&w, dev[i % DEVICE_CONNS], ALARM_WINDOW, top, payload, (size_t)len))
            fprintf(stderr, "bench bridge: publish %ld failed\n", i);
    }
    window_below(&w, 1, 120000);
    out->publish_s = (double)(sq_mono_us() - t0) / 1e6;
    if (ok)
        read_alarms(topic, &t, n, STALL_MS);
    out->total_s = (double)(sq_mono_us() - t0) / 1e6;
    watch_report(&cw, out->cpu, sizeof out->cpu);
    ts_stop(pid, false);
    for (int k = 0; k < DEVICE_CONNS; k++)
        sq_mqtt_free(dev[k]);
    drop_sessions(client_id, bridge_conns);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ts_sh(cmd);
    out->distinct = t.distinct;
    out->dups = t.dups;
    out->failed_pub = w.failed;
    double secs = (double)(t.last_ms - first_pub_us / 1000) / 1e3;
    out->secs = secs;
    out->rate = secs > 0 ? (double)t.distinct / secs : 0;
    fprintf(stderr,
            "bench bridge: %s: %ld of %ld alarms on Kafka (%ld duplicates, %ld publishes failed) in %.2f s = %.0f/s; "
            "publishing took %.2f s; %s\n",
            await ? "Kafka delivery awaited" : "Kafka delivery not awaited", t.distinct, n, t.dups, w.failed, secs,
            out->rate, out->publish_s, out->cpu);
    free(t.seen);
}

/*
 * The stack's bridge wrote our alarms to the unprefixed alarms.device.v1, and the stack's recorder copies
 * that topic into shequ.alarms: once both are done, remove those rows (as the other stages remove theirs).
 */
static long remove_stack_rows(const char *community)
{
    wait_quiet("alarms.device.v1", 3000, 300000);
    long last = -1;
    for (int i = 0, stable = 0; i < 240 && stable < 3; i++) {
        sq_sleep_ms(1000);
        long now = pg_count("SELECT count(*) FROM shequ.alarms WHERE community_id = $1", community);
        stable = now == last ? stable + 1 : 0;
        last = now;
    }
    const char *p[] = { community };
    owner_sql("DELETE FROM shequ.alarms WHERE community_id = $1", 1, p);
    return last;
}

void bench_bridge(long n)
{
    init_hex();
    long conns = getenv("BENCH_BRIDGE_CONNECTIONS") ? atol(getenv("BENCH_BRIDGE_CONNECTIONS")) : 4;
    if (conns < 1 || conns > 64)
        conns = 4;
    bridge_run confirmed, unconfirmed;
    run_bridge(n, true, conns, &confirmed);
    run_bridge(n, false, conns, &unconfirmed);
    char community[32];
    snprintf(community, sizeof community, "bench-%s", run_hex);
    long removed = remove_stack_rows(community);
    fprintf(stderr, "bench bridge: removed the %ld rows the stack's recorder wrote for %s\n", removed, community);
    char notes[1000];
    snprintf(notes, sizeof notes,
             "%ld cleared alarms, %d device connections, bridge with %ld MQTT connections and file persistence; "
             "awaited: %ld arrived (%ld dup) in %.1f s, publishing %.1f s%s, %s | not awaited (baseline): %ld arrived "
             "(%ld dup) in %.1f s, publishing %.1f s%s, %s | the stack's own bridge also received every alarm",
             n, DEVICE_CONNS, conns, confirmed.distinct, confirmed.dups, confirmed.secs, confirmed.publish_s,
             bound(&confirmed), confirmed.cpu, unconfirmed.distinct, unconfirmed.dups, unconfirmed.secs,
             unconfirmed.publish_s, bound(&unconfirmed), unconfirmed.cpu);
    result("bridge", confirmed.rate, unconfirmed.rate, 0, 0, notes);
}

/* -------------------------------------------------------------- notifier */

/* A development key of the bench's own: the notifier opens the phone for the assignee as in production. */
static const char phone_key_hex[] = "5be0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9e";

typedef struct {
    char pattern[64]; /* "ticket_id":"<hex>t */
    size_t plen;
    long n;
    pthread_mutex_t mu;
    unsigned char *seen;
    long distinct, dups, other;
    int64_t first_us, last_us; /* wall clock of the first and the last new arrival */
} observed;

static int observe(void *ctx, const char *topic, const void *payload, size_t len)
{
    observed *o = ctx;
    const char *p = memmem(payload, len, o->pattern, o->plen), *end = (const char *)payload + len;
    long i = -1;
    if (p) {
        p += o->plen;
        for (i = 0; p < end && *p >= '0' && *p <= '9'; p++)
            i = i * 10 + (*p - '0');
        if (p >= end || *p != '"')
            i = -1;
    }
    int64_t now = sq_now_us();
    pthread_mutex_lock(&o->mu);
    if (i < 0 || i >= o->n) {
        o->other++;
    } else if (o->seen[i]) {
        o->dups++;
    } else {
        o->seen[i] = 1;
        o->distinct++;
        if (!o->first_us)
            o->first_us = now;
        o->last_us = now;
    }
    pthread_mutex_unlock(&o->mu);
    return 1;
}

static void observed_reset(observed *o)
{
    pthread_mutex_lock(&o->mu);
    memset(o->seen, 0, (size_t)o->n);
    o->distinct = o->dups = o->other = 0;
    o->first_us = o->last_us = 0;
    pthread_mutex_unlock(&o->mu);
}

/* Waits until every notification arrived or none came for stall_ms. */
static void observed_wait(observed *o, int stall_ms)
{
    long last = -1;
    int64_t progress = sq_mono_us();
    for (;;) {
        pthread_mutex_lock(&o->mu);
        long d = o->distinct;
        pthread_mutex_unlock(&o->mu);
        if (d >= o->n)
            return;
        if (d != last) {
            last = d;
            progress = sq_mono_us();
        } else if (sq_mono_us() - progress > (int64_t)stall_ms * 1000) {
            return;
        }
        sq_sleep_ms(20);
    }
}

/* Notification i as triage writes it for an assignee: a resident's report with a sealed phone. */
static size_t notification(uint8_t *buf, long i, const unsigned char *key, int64_t now, char *topic, size_t topiclen,
                           char **rendered, char *staff_out, size_t stafflen)
{
    char id[SQ_UUID_LEN], cause[SQ_UUID_LEN], name[96], ticket[48], community[32];
    snprintf(ticket, sizeof ticket, "%st%ld", run_hex, i);
    snprintf(staff_out, stafflen, "bench-%s-s%ld", run_hex, i % 200);
    snprintf(community, sizeof community, "bench-%s", run_hex);
    int nl = snprintf(name, sizeof name, "%s/assigned", ticket);
    sq_uuid5(cause, "bench", name, (size_t)nl);
    nl = snprintf(name, sizeof name, "%s/%s", cause, staff_out);
    sq_uuid5(id, "notify", name, (size_t)nl);
    unsigned char sealed[SQ_PHONE_SEALED_MAX];
    int slen = sq_phone_seal(key, "13800138000", sealed);
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = h.produced_at_us = now;
    h.source = "triage";
    h.community_id = community;
    h.trace_id = ticket;
    Shequ__V1__GeoPoint loc = SHEQU__V1__GEO_POINT__INIT;
    loc.lat = 30.6286 + (double)(i % 100) * 1e-4;
    loc.lon = 104.0714;
    Shequ__V1__Notification msg = SHEQU__V1__NOTIFICATION__INIT;
    msg.header = &h;
    msg.recipient_kind = SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF;
    msg.recipient_id = staff_out;
    msg.ticket_id = ticket;
    msg.kind = "assigned";
    msg.tier = "general";
    msg.category = "sanitation";
    msg.summary = "环境卫生 3栋1单元";
    msg.respond_due_us = now + 4LL * 3600 * SQ_US_PER_S;
    msg.resolve_due_us = now + 4LL * 3600 * SQ_US_PER_S;
    msg.building = "3";
    msg.unit = "1";
    msg.address = "桐梓林北路 5 号 3 栋 1 单元门口";
    msg.location = &loc;
    if (slen > 0) {
        msg.phone_sealed.data = sealed;
        msg.phone_sealed.len = (size_t)slen;
    }
    msg.cause_event_id = cause;
    *rendered = NULL;
    if (notifier_render(&msg, key, true, topic, topiclen, rendered) != SQ_OK)
        *rendered = NULL;
    return shequ__v1__notification__pack(&msg, buf);
}

typedef struct {
    long acked, failed;
    int64_t first_send_us, last_ack_us;
} bare_result;

/* The baseline publisher, in a child process so it has Paho's threads to itself (as the notifier has). */
static void bare_child(int go_fd, int res_fd, long n, char **topics, char **payloads)
{
    char id[64], c = 0;
    snprintf(id, sizeof id, "bench-bare-%s", run_hex);
    sq_mqtt *m = mqtt_client(id, "MQTT_NOTIFIER_USER", "MQTT_NOTIFIER_PASSWORD", true);
    c = m ? 'r' : 'x';
    if (write(res_fd, &c, 1) != 1 || !m || read(go_fd, &c, 1) != 1)
        _exit(1);
    window w;
    window_init(&w);
    bare_result r = { .first_send_us = sq_now_us() };
    for (long i = 0; i < n; i++)
        if (payloads[i])
            window_publish(&w, m, BARE_WINDOW, topics[i], payloads[i], strlen(payloads[i]));
    window_below(&w, 1, 120000);
    r.acked = w.acked;
    r.failed = w.failed;
    r.last_ack_us = w.last_ack_us;
    if (write(res_fd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(1);
    sq_mqtt_free(m);
    _exit(0);
}

void bench_notifier(long n)
{
    init_hex();
    unsigned char key[SQ_PHONE_KEY_BYTES];
    sq_phone_key_parse(phone_key_hex, key);
    char topic[128];
    snprintf(topic, sizeof topic, "%snotify.v1", prefix);
    char **topics = calloc((size_t)n, sizeof *topics), **payloads = calloc((size_t)n, sizeof *payloads);
    sq_producer *p = producer();
    uint8_t buf[4096];
    int64_t now = sq_now_us();
    long unrendered = 0;
    for (long i = 0; i < n; i++) {
        char mt[160], staff[64];
        size_t len = notification(buf, i, key, now, mt, sizeof mt, &payloads[i], staff, sizeof staff);
        topics[i] = strdup(mt);
        unrendered += payloads[i] == NULL;
        while (sq_producer_send(p, topic, staff, strlen(staff), buf, len, NULL, NULL, NULL) == SQ_RETRY)
            sq_producer_wait(p, 100);
    }
    if (sq_producer_wait(p, 120000) != SQ_OK)
        fprintf(stderr, "bench notifier: not every notification reached %s\n", topic);
    sq_producer_free(p); /* no Kafka threads left when the baseline publisher forks */

    int go[2], res[2];
    if (pipe(go) != 0 || pipe(res) != 0) {
        perror("pipe");
        return;
    }
    fflush(NULL);
    pid_t bare = fork();
    if (bare < 0) {
        perror("fork");
        return;
    }
    if (bare == 0) {
        close(go[1]);
        close(res[0]);
        bare_child(go[0], res[1], n, topics, payloads);
    }
    close(go[0]);
    close(res[1]);

    observed o = { .n = n, .seen = calloc((size_t)n + 1, 1) };
    pthread_mutex_init(&o.mu, NULL);
    o.plen = (size_t)snprintf(o.pattern, sizeof o.pattern, "\"ticket_id\":\"%st", run_hex);
    char oid[64], err[256];
    snprintf(oid, sizeof oid, "bench-observer-%s", run_hex);
    sq_mqtt_options oo = { .host = ts_env("MQTT_HOST"), .port = atoi(ts_env("MQTT_PORT")), .client_id = oid,
                           .user = ts_env("MQTT_OBSERVER_USER"), .password = ts_env("MQTT_OBSERVER_PASSWORD"),
                           .clean_session = true };
    sq_mqtt *obs = sq_mqtt_new(&oo, err, sizeof err);
    if (obs) {
        sq_mqtt_on_message(obs, observe, &o);
        if (sq_mqtt_connect(obs, 15000, err, sizeof err) != SQ_OK ||
            sq_mqtt_subscribe(obs, "staff/+/tasks", 1, 5000, err, sizeof err) != SQ_OK) {
            sq_mqtt_free(obs);
            obs = NULL;
        }
    }
    char ready = 0;
    if (!obs || read(res[0], &ready, 1) != 1 || ready != 'r') {
        fprintf(stderr, "bench notifier: observer or baseline publisher cannot connect: %s\n", obs ? "" : err);
        kill(bare, SIGKILL);
        waitpid(bare, NULL, 0);
        sq_mqtt_free(obs);
        return;
    }

    /* baseline: the bare client */
    cpu_watch cb = { 0 };
    watch_add(&cb, "bare-client", bare);
    watch_add(&cb, "mosquitto", state_pid("mosquitto.pid"));
    watch_add(&cb, "bench", getpid());
    watch_start(&cb);
    char go_byte = 'g';
    if (write(go[1], &go_byte, 1) != 1)
        perror("write");
    observed_wait(&o, STALL_MS);
    bare_result br = { 0 };
    if (read(res[0], &br, sizeof br) != (ssize_t)sizeof br)
        fprintf(stderr, "bench notifier: the baseline publisher did not report\n");
    char cpu_base[200];
    watch_report(&cb, cpu_base, sizeof cpu_base); /* before the child is reaped: its CPU time is still there */
    waitpid(bare, NULL, 0);
    long base_seen = o.distinct, base_dups = o.dups;
    double base_s = (double)(o.last_us - o.first_us) / 1e6;
    double base_rate = base_s > 0 ? (double)base_seen / base_s : 0;
    double base_pub_s = (double)(br.last_ack_us - br.first_send_us) / 1e6;
    fprintf(stderr, "bench notifier: bare client: %ld of %ld arrived (%ld dup) in %.2f s = %.0f/s; its own acks %ld in %.2f s; %s\n",
            base_seen, n, base_dups, base_s, base_rate, br.acked, base_pub_s, cpu_base);

    /* the notifier */
    observed_reset(&o);
    char e_user[200], e_pw[200], e_id[120], e_key[120];
    snprintf(e_user, sizeof e_user, "SHEQU_MQTT_USER=%s", ts_env("MQTT_NOTIFIER_USER"));
    snprintf(e_pw, sizeof e_pw, "SHEQU_MQTT_PASSWORD=%s", ts_env("MQTT_NOTIFIER_PASSWORD"));
    snprintf(e_id, sizeof e_id, "SHEQU_MQTT_CLIENT_ID=bench-notifier-%s", run_hex);
    snprintf(e_key, sizeof e_key, "SHEQU_PHONE_KEY=%s", phone_key_hex);
    /* spawn_service runs every stage with kafka.batch_max 5000; BENCH_NOTIFIER_BATCH_MAX explores others */
    char e_batch[64] = "SHEQU_KAFKA_BATCH_MAX=5000";
    if (getenv("BENCH_NOTIFIER_BATCH_MAX"))
        snprintf(e_batch, sizeof e_batch, "SHEQU_KAFKA_BATCH_MAX=%ld", atol(getenv("BENCH_NOTIFIER_BATCH_MAX")));
    char *extra[] = { e_user, e_pw, e_id, e_key, e_batch, NULL };
    char settings[96]; /* what the notifier ran with, for the notes (it inherits SHEQU_* from here) */
    snprintf(settings, sizeof settings, "%s%s%s", e_batch + 6, getenv("SHEQU_KAFKA_BATCH_MS") ? " KAFKA_BATCH_MS=" : "",
             getenv("SHEQU_KAFKA_BATCH_MS") ? getenv("SHEQU_KAFKA_BATCH_MS") : "");
    int64_t spawned = sq_now_us();
    pid_t pid = spawn_service("notifier", extra);
    cpu_watch cn = { 0 };
    watch_add(&cn, "notifier", pid);
    watch_add(&cn, "mosquitto", state_pid("mosquitto.pid"));
    watch_add(&cn, "kafka", state_pid("kafka.pid"));
    watch_add(&cn, "bench", getpid());
    watch_start(&cn);
    observed_wait(&o, STALL_MS);
    char cpu_notifier[200];
    watch_report(&cn, cpu_notifier, sizeof cpu_notifier);
    long rss = rss_kb(pid);
    ts_stop(pid, false);
    sq_mqtt_free(obs);
    double secs = (double)(o.last_us - o.first_us) / 1e6;
    double rate = secs > 0 ? (double)o.distinct / secs : 0;
    double with_start = o.last_us > spawned ? (double)o.distinct / ((double)(o.last_us - spawned) / 1e6) : 0;
    fprintf(stderr, "bench notifier: notifier: %ld of %ld arrived (%ld dup) in %.2f s = %.0f/s (%.0f/s from its start); %s\n",
            o.distinct, n, o.dups, secs, rate, with_start, cpu_notifier);
    char notes[1000];
    snprintf(notes, sizeof notes,
             "%ld staff notifications to 200 recipients, counted by a QoS 1 observer; notifier (%s): %ld arrived (%ld dup), "
             "%.0f/s incl. its start-up, RSS %ld kB, %s | baseline (bare Paho client, %d in flight): %ld arrived, "
             "its own PUBACKs at %.0f/s, %s%s",
             n, settings, o.distinct, o.dups, with_start, rss, cpu_notifier, BARE_WINDOW, base_seen,
             base_pub_s > 0 ? (double)br.acked / base_pub_s : 0, cpu_base, unrendered ? "; some not rendered" : "");
    result("notifier", rate, base_rate, 0, 0, notes);
    for (long i = 0; i < n; i++) {
        free(topics[i]);
        free(payloads[i]);
    }
    free(topics);
    free(payloads);
    free(o.seen);
}
