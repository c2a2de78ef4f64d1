/*
 * The MQTT helper against the real Mosquitto: QoS 1 round trip between a
 * device account and the bridge account, refusal of bad credentials, and
 * automatic reconnect with re-subscription after the broker restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"
#include "testsupport.h"
#include "util.h"

typedef struct {
    _Atomic int got;
    char last[256];
} inbox;

static int on_msg(void *ctx, const char *topic, const void *payload, size_t len)
{
    inbox *in = ctx;
    snprintf(in->last, sizeof in->last, "%.*s", (int)len, (const char *)payload);
    atomic_fetch_add(&in->got, 1);
    return 1;
}

static sq_mqtt *client(const char *id, const char *user, const char *pw)
{
    sq_mqtt_options o = { .host = ts_env("MQTT_HOST"), .port = atoi(ts_env("MQTT_PORT")),
                          .client_id = id, .user = user, .password = pw, .clean_session = true };
    char err[256];
    sq_mqtt *m = sq_mqtt_new(&o, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    return m;
}

static bool wait_got(inbox *in, int n, int timeout_ms)
{
    for (int w = 0; w < timeout_ms && atomic_load(&in->got) < n; w += 20)
        sq_sleep_ms(20);
    return atomic_load(&in->got) >= n;
}

static void round_trip_and_reconnect(void **state)
{
    char err[256], sub_id[96], pub_id[96], topic[160], cmd[512], dev[64];
    ts_unique(sub_id, sizeof sub_id, "test-sub");
    ts_unique(pub_id, sizeof pub_id, "test-pub");
    ts_unique(dev, sizeof dev, "d");
    snprintf(topic, sizeof topic, "devices/c-test/%s/alarm", dev);
    inbox in = { 0 };
    sq_mqtt *sub = client(sub_id, ts_env("MQTT_BRIDGE_USER"), ts_env("MQTT_BRIDGE_PASSWORD"));
    sq_mqtt_on_message(sub, on_msg, &in);
    assert_int_equal(sq_mqtt_connect(sub, 10000, err, sizeof err), SQ_OK);
    char filter[200];
    snprintf(filter, sizeof filter, "devices/c-test/%s/alarm", dev);
    assert_int_equal(sq_mqtt_subscribe(sub, filter, 1, 5000, err, sizeof err), SQ_OK);
    sq_mqtt *pub = client(pub_id, ts_env("MQTT_DEVICE_USER"), ts_env("MQTT_DEVICE_PASSWORD"));
    assert_int_equal(sq_mqtt_connect(pub, 10000, err, sizeof err), SQ_OK);
    assert_int_equal(sq_mqtt_publish(pub, topic, "{\"n\":1}", 7, 1, 5000), SQ_OK);
    assert_true(wait_got(&in, 1, 5000));
    assert_string_equal(in.last, "{\"n\":1}");

    snprintf(cmd, sizeof cmd, "%s/tools/dev restart-server mosquitto >/dev/null", ts_env("SHEQU_SOURCE_DIR"));
    assert_int_equal(ts_sh(cmd), 0);
    /* both clients reconnect by themselves; the subscriber re-subscribes */
    int64_t deadline = sq_mono_us() + 30 * SQ_US_PER_S;
    int rc = SQ_RETRY;
    while (sq_mono_us() < deadline && atomic_load(&in.got) < 2) {
        if (sq_mqtt_connected(pub) && sq_mqtt_connected(sub))
            rc = sq_mqtt_publish(pub, topic, "{\"n\":2}", 7, 1, 2000);
        sq_sleep_ms(rc == SQ_OK ? 300 : 200);
    }
    assert_true(atomic_load(&in.got) >= 2);
    assert_string_equal(in.last, "{\"n\":2}");
    sq_mqtt_free(pub);
    sq_mqtt_free(sub);
}

static void bad_credentials_refused(void **state)
{
    char err[256];
    sq_mqtt *m = client("test-bad-creds", ts_env("MQTT_DEVICE_USER"), "wrong-password");
    assert_int_not_equal(sq_mqtt_connect(m, 3000, err, sizeof err), SQ_OK);
    sq_mqtt_free(m);
    m = client("test-anon", NULL, NULL);
    assert_int_not_equal(sq_mqtt_connect(m, 3000, err, sizeof err), SQ_OK);
    sq_mqtt_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_and_reconnect),
        cmocka_unit_test(bad_credentials_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
