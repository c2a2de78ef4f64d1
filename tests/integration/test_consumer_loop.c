/*
 * The shared producer and consumer loop on the real broker:
 *  - events produced through sq_producer are consumed through sq_consumer_run;
 *  - a consumer SIGKILLed after its effects are durable but before its offsets
 *    are stored gets the same messages again on restart, and the idempotent
 *    effect still counts each event once;
 *  - a clean stop commits, so a restart re-handles nothing;
 *  - poison messages land on deadletter.v1 with their headers while the
 *    consumer keeps going;
 *  - the same with a handler that flushes in the background while the next
 *    batch is handled (flush_start/flush_done), and a flush that fails halfway
 *    hands out again both the failed batch and the one filling behind it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "deadletter.h"
#include "kafka.h"
#include "redis.h"
#include "shequ/v1/report.pb-c.h"
#include "testsupport.h"
#include "util.h"

static sq_redis *redis;

static long redis_long(const char *fmt, const char *ns)
{
    redisReply *r = sq_redis_cmd(redis, fmt, ns);
    assert_non_null(r);
    long v = r->type == REDIS_REPLY_INTEGER ? (long)r->integer : r->type == REDIS_REPLY_STRING ? atol(r->str) : 0;
    freeReplyObject(r);
    return v;
}

static size_t report_bytes(uint8_t *buf, size_t cap, const char *event_id, int i)
{
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = (char *)event_id;
    h.source = "test";
    h.community_id = "c-test";
    h.occurred_at_us = sq_now_us();
    Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
    r.header = &h;
    char rid[32];
    snprintf(rid, sizeof rid, "r-%d", i);
    r.report_id = rid;
    r.category = "sanitation";
    size_t n = shequ__v1__resident_report__get_packed_size(&r);
    assert_true(n <= cap);
    return shequ__v1__resident_report__pack(&r, buf);
}

static bool async_flush;  /* the daemons started next flush in the background */
static long fail_every;   /* ... and fail every Nth flush halfway */

static pid_t start_consumer_admin(const char *topic, const char *ns, const char *group, long crash_after, int admin_port)
{
    static char env[11][256];
    char path[512];
    ts_build_path(path, sizeof path, "tests/integration/loop_consumer");
    snprintf(env[0], sizeof env[0], "SHEQU_TEST_TOPIC=%s", topic);
    snprintf(env[1], sizeof env[1], "SHEQU_TEST_NS=%s", ns);
    snprintf(env[2], sizeof env[2], "SHEQU_KAFKA_GROUP=%s", group);
    snprintf(env[3], sizeof env[3], "SHEQU_TEST_CRASH_AFTER=%ld", crash_after);
    snprintf(env[4], sizeof env[4], "SHEQU_KAFKA_BATCH_MAX=20");
    snprintf(env[5], sizeof env[5], "SHEQU_KAFKA_BROKERS=%s", ts_env("KAFKA_BROKERS"));
    snprintf(env[6], sizeof env[6], "SHEQU_REDIS_URL=%s", ts_env("REDIS_URL"));
    snprintf(env[7], sizeof env[7], "SHEQU_ADMIN_PORT=%d", admin_port);
    snprintf(env[8], sizeof env[8], "SHEQU_TEST_ASYNC=%s", async_flush ? "true" : "false");
    snprintf(env[9], sizeof env[9], "SHEQU_TEST_FAIL_EVERY=%ld", fail_every);
    char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], env[7], env[8], env[9], NULL };
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

static pid_t start_consumer(const char *topic, const char *ns, const char *group, long crash_after)
{
    return start_consumer_admin(topic, ns, group, crash_after, 0);
}

static bool wait_for_count(const char *ns, long want, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (redis_long("SCARD %s:done", ns) >= want)
            return true;
        sq_sleep_ms(100);
    }
    return false;
}

static void produce_through_shared_producer(const char *topic, int n, char ids[][SQ_UUID_LEN])
{
    sq_common_config cfg = { 0 };
    cfg.service = "test-producer";
    cfg.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    cfg.kafka_linger_ms = 5;
    char err[256];
    sq_producer *p = sq_producer_new(&cfg, NULL, err, sizeof err);
    assert_non_null(p);
    uint8_t buf[512];
    for (int i = 0; i < n; i++) {
        sq_uuid4(ids[i]);
        size_t len = report_bytes(buf, sizeof buf, ids[i], i);
        assert_int_equal(sq_producer_send(p, topic, ids[i], 36, buf, len, NULL, NULL, NULL), SQ_OK);
    }
    assert_int_equal(sq_producer_wait(p, 20000), SQ_OK);
    assert_int_equal(sq_producer_in_flight(p), 0);
    sq_producer_free(p);
}

/* A new topic of 3 partitions holding n reports, and a Redis namespace and group of its own. */
static void fresh_topic(const char *stem, char topic[128], char ns[128], char group[128], int n, char ids[][SQ_UUID_LEN])
{
    char t[64];
    snprintf(t, sizeof t, "test.%s", stem);
    ts_unique(topic, 128, t);
    snprintf(t, sizeof t, "test:%s", stem);
    ts_unique(ns, 128, t);
    snprintf(t, sizeof t, "test.%s.group", stem);
    ts_unique(group, 128, t);
    assert_int_equal(ts_create_topic(topic, 3), 0);
    produce_through_shared_producer(topic, n, ids);
    assert_int_equal(ts_end_offsets(topic), n);
}

static void kill9_scenario(void)
{
    enum { N = 300 };
    char topic[128], ns[128], group[128];
    static char ids[N][SQ_UUID_LEN];
    fresh_topic("loop", topic, ns, group, N, ids);

    /* 1. dies by SIGKILL after 100 handlings, effects durable, offsets not stored */
    pid_t pid = start_consumer(topic, ns, group, 100);
    int st = ts_wait_exit(pid, 60000);
    assert_true(st != -1);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    long done1 = redis_long("SCARD %s:done", ns), handled1 = redis_long("GET %s:handled", ns);
    assert_true(done1 >= 100 && done1 < N);
    assert_int_equal(done1, handled1);

    /* 2. restart: everything arrives, the crashed batch is handled again */
    pid = start_consumer(topic, ns, group, 0);
    assert_true(wait_for_count(ns, N, 60000));
    sq_sleep_ms(1500);
    st = ts_stop(pid, false);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    long done2 = redis_long("SCARD %s:done", ns), handled2 = redis_long("GET %s:handled", ns);
    assert_int_equal(done2, N);      /* processed once in effect */
    assert_true(handled2 > N);       /* ... although some were delivered twice */
    for (int i = 0; i < N; i += 37) {
        redisReply *r = sq_redis_cmd(redis, "SISMEMBER %s:done %s", ns, ids[i]);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }

    /* 3. a clean stop committed: a restart handles nothing again */
    pid = start_consumer(topic, ns, group, 0);
    sq_sleep_ms(4000);
    st = ts_stop(pid, false);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(redis_long("GET %s:handled", ns), handled2);
    ts_delete_topic(topic);
}

static void kill9_then_restart_redelivers_and_effect_counts_once(void **state)
{
    async_flush = false;
    kill9_scenario();
}

static void kill9_with_background_flush(void **state)
{
    async_flush = true;
    kill9_scenario();
    async_flush = false;
}

static void failed_background_flush_hands_out_both_batches_again(void **state)
{
    enum { N = 600 };
    char topic[128], ns[128], group[128];
    static char ids[N][SQ_UUID_LEN];
    fresh_topic("loopfail", topic, ns, group, N, ids);

    async_flush = true;
    fail_every = 3;
    pid_t pid = start_consumer(topic, ns, group, 0);
    bool all = wait_for_count(ns, N, 90000);
    sq_sleep_ms(1500);
    int st = ts_stop(pid, false);
    fail_every = 0;
    assert_true(all);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    long handled = redis_long("GET %s:handled", ns);
    assert_int_equal(redis_long("SCARD %s:done", ns), N); /* none lost */
    assert_true(handled > N);                             /* the failed halves were written twice */

    /* everything was committed in the end: a restart handles nothing again */
    pid = start_consumer(topic, ns, group, 0);
    sq_sleep_ms(4000);
    st = ts_stop(pid, false);
    async_flush = false;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(redis_long("GET %s:handled", ns), handled);
    ts_delete_topic(topic);
}

typedef struct {
    const char *topic;
    int found;
    char errors[4][64];
    char offsets[4][32];
    char service[64];
    size_t payload_len[4];
} dl_ctx;

static bool match_deadletter(const rd_kafka_message_t *m, void *arg)
{
    dl_ctx *c = arg;
    rd_kafka_headers_t *h = NULL;
    char v[256];
    if (rd_kafka_message_headers(m, &h) || sq_header_get(h, "source_topic", v, sizeof v) ||
        strcmp(v, c->topic) != 0 || c->found >= 4)
        return false;
    sq_header_get(h, "error", c->errors[c->found], sizeof c->errors[0]);
    sq_header_get(h, "source_offset", c->offsets[c->found], sizeof c->offsets[0]);
    sq_header_get(h, "service", c->service, sizeof c->service);
    assert_int_equal(sq_header_get(h, "source_partition", v, sizeof v), SQ_OK);
    assert_string_equal(v, "0");
    assert_int_equal(sq_header_get(h, "error_detail", v, sizeof v), SQ_OK);
    assert_true(strlen(v) > 0);
    c->payload_len[c->found] = m->len;
    c->found++;
    return c->found == 2;
}

static void poison_goes_to_deadletter_and_consumer_goes_on(void **state)
{
    char topic[128], ns[128], group[128];
    ts_unique(topic, sizeof topic, "test.poison");
    ts_unique(ns, sizeof ns, "test:poison");
    ts_unique(group, sizeof group, "test.poison.group");
    assert_int_equal(ts_create_topic(topic, 1), 0);
    int64_t dl_start = ts_end_offsets("deadletter.v1");
    uint8_t buf[512];
    char id[SQ_UUID_LEN];
    for (int i = 0; i < 13; i++) {
        if (i == 5) {
            const char garbage[] = "\xff\xff\xff\xff not protobuf";
            assert_int_equal(ts_produce(topic, "k5", 2, garbage, sizeof garbage - 1), 0);
        } else if (i == 11) {
            size_t len = report_bytes(buf, sizeof buf, "", i); /* valid bytes, no event_id */
            assert_int_equal(ts_produce(topic, "k11", 3, buf, len), 0);
        } else {
            sq_uuid4(id);
            size_t len = report_bytes(buf, sizeof buf, id, i);
            assert_int_equal(ts_produce(topic, id, 36, buf, len), 0);
        }
    }
    pid_t pid = start_consumer_admin(topic, ns, group, 0, 19190);
    assert_true(wait_for_count(ns, 11, 60000));
    sq_sleep_ms(500);
    /* the admin endpoint reports health and the counts */
    assert_int_equal(ts_sh("curl -sf http://127.0.0.1:19190/healthz | grep -q '\"status\":\"ok\"'"), 0);
    assert_int_equal(ts_sh("curl -sf http://127.0.0.1:19190/metrics | grep -q '^shequ_deadletters_total 2$'"), 0);
    assert_int_equal(ts_sh("curl -sf http://127.0.0.1:19190/metrics | grep -q '^shequ_messages_in_total{topic=\"t'"), 0);
    assert_int_not_equal(ts_sh("curl -sf http://127.0.0.1:19190/nope"), 0);
    int st = ts_stop(pid, false);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(redis_long("SCARD %s:done", ns), 11);

    dl_ctx c = { .topic = topic };
    assert_true(ts_consume_until("deadletter.v1", dl_start, 30000, match_deadletter, &c));
    assert_string_equal(c.errors[0], "decode_error");
    assert_string_equal(c.offsets[0], "5");
    assert_int_equal(c.payload_len[0], 17);  /* the original bytes */
    assert_string_equal(c.errors[1], "missing_field");
    assert_string_equal(c.offsets[1], "11");
    assert_string_equal(c.service, "loop-consumer");
    ts_delete_topic(topic);
}

static int setup(void **state)
{
    char err[256];
    redis = sq_redis_new(ts_env("REDIS_URL"), 2000, err, sizeof err);
    return redis ? 0 : -1;
}

static int teardown(void **state)
{
    sq_redis_free(redis);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_then_restart_redelivers_and_effect_counts_once),
        cmocka_unit_test(poison_goes_to_deadletter_and_consumer_goes_on),
        cmocka_unit_test(kill9_with_background_flush),
        cmocka_unit_test(failed_background_flush_hands_out_both_batches_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
