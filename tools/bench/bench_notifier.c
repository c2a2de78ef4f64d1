/*
 * bench_notifier.c — N notifications through a notifier of the bench's own, against a bare Paho client
 * (see bench_mqtt.c).
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
