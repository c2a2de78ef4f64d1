/*
 * bench_bridge.c — N device alarms through an alarm-bridge of the bench's own, with Kafka delivery awaited
 * and not (see bench_mqtt.c).
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
