/*
 * alarm-bridge — MQTT devices/+/+/alarm → alarms.device.v1.
 */
#include "bridge.h"
#include "mqtt.h"
#include "service.h"

#include <unistd.h>

static sq_service svc;
static char *client_id, *share_group, *persist_dir;
static long connections;
static bool await_delivery;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "mqtt.client_id", SQ_OPT_STR, "shequ-alarm-bridge", 0, 0, "fixed MQTT client id prefix (persistent sessions)", &client_id, "" },
    { "mqtt.share_group", SQ_OPT_STR, "shequ-bridge", 0, 0, "shared subscription group: bridges in one group split the load", &share_group, "" },
    { "mqtt.persist_dir", SQ_OPT_STR, NULL, 0, 0, "directory for Paho's in-flight message store (empty = memory)", &persist_dir, "" },
    { "mqtt.connections", SQ_OPT_INT, "4", 1, 64, "MQTT connections (each waits for Kafka in parallel)", &connections, "" },
    { "kafka.await_delivery", SQ_OPT_BOOL, "true", 0, 0, "acknowledge MQTT only after Kafka confirmed (false: benchmark only)", &await_delivery, "" },
    { 0 },
};

static const char usage[] = "usage: alarm-bridge [options]\nBridges device alarms from MQTT to Kafka, at least once.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "alarm-bridge", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    sq_rules *rules = sq_rules_load(*svc.cfg.rules_file ? svc.cfg.rules_file : "deploy/rules/shequ.rules", err, sizeof err);
    if (!rules) {
        log_error("rules.invalid", "error=\"%s\"", err);
        return 2;
    }
    const char *extra[] = { "linger.ms", "1", "message.timeout.ms", "10000", NULL };
    if (sq_service_open_producer(&svc, extra) != SQ_OK || sq_producer_start_poller(svc.producer) != SQ_OK)
        return 2;
    bridge_options bo = { svc.producer, rules, sq_topic_name(&svc.cfg, "alarms.device.v1"),
                          sq_topic_name(&svc.cfg, svc.cfg.topic_deadletter), svc.cfg.service, await_delivery };
    bridge *b = bridge_new(&bo);
    char filter[256];
    snprintf(filter, sizeof filter, "$share/%s/devices/+/+/alarm", share_group);
    sq_mqtt *clients[64] = { 0 };
    for (long i = 0; i < connections; i++) {
        char id[160], dir[512];
        snprintf(id, sizeof id, "%s-%ld", client_id, i);
        snprintf(dir, sizeof dir, "%s", persist_dir);
        sq_mqtt_options mo = { .host = svc.cfg.mqtt_host, .port = (int)svc.cfg.mqtt_port, .client_id = id,
                               .user = svc.cfg.mqtt_user, .password = svc.cfg.mqtt_password, .clean_session = false,
                               .persist_dir = *persist_dir ? dir : NULL, .max_inflight = 100 };
        clients[i] = sq_mqtt_new(&mo, err, sizeof err);
        if (!clients[i]) {
            log_error("mqtt.failed", "error=\"%s\"", err);
            return 2;
        }
        sq_mqtt_on_message(clients[i], bridge_on_message, b);
        if (sq_mqtt_connect(clients[i], 30000, err, sizeof err) != SQ_OK) {
            log_error("mqtt.failed", "client=%s error=\"%s\"", id, err);
            _exit(2); /* Paho's threads are running: do not run exit handlers under them */
        }
        /* A persistent session may already be delivering its backlog, which delays the SUBACK: the
         * subscription is remembered either way and renewed on every reconnect. */
        if (sq_mqtt_subscribe(clients[i], filter, 1, 3000, err, sizeof err) != SQ_OK)
            log_warn("mqtt.subscribe_slow", "client=%s error=\"%s\" (kept; renewed on reconnect)", id, err);
        sq_admin_add_check(svc.admin, "mqtt", sq_mqtt_health, clients[i]);
    }
    log_info("bridge.running", "filter=%s connections=%ld await_delivery=%s", filter, connections,
             await_delivery ? "true" : "false");
    while (sq_running && !sq_producer_fatal(svc.producer))
        sq_sleep_ms(200);
    for (long i = 0; i < connections; i++)
        sq_mqtt_free(clients[i]);
    bridge_free(b);
    sq_rules_free(rules);
    sq_service_close(&svc);
    return 0;
}
