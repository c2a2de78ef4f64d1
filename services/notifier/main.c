/*
 * notifier — notify.v1 → MQTT.
 */
#include "notifier.h"

static sq_service svc;
static char *client_id, *phone_key_hex;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "mqtt.client_id", SQ_OPT_STR, "shequ-notifier", 0, 0, "MQTT client id (with 'instance' set: <this>-<instance>, so instances do not take each other's connection)", &client_id, "" },
    { "phone.key", SQ_OPT_STR, NULL, 0, 0, "64 hex characters: opens residents' phone numbers for the assignee", &phone_key_hex, "" },
    { 0 },
};

static const char usage[] = "usage: notifier [options]\nPublishes notifications to staff, supervisors and residents over MQTT.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "notifier", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    unsigned char key[SQ_PHONE_KEY_BYTES];
    bool have_key = *phone_key_hex && sq_phone_key_parse(phone_key_hex, key) == SQ_OK;
    if (*phone_key_hex && !have_key) {
        log_error("config.invalid", "option 'phone.key' must be 64 hex characters");
        return 2;
    }
    if (sq_service_open_producer(&svc, NULL) != SQ_OK)
        return 2;
    char id[192];
    sq_mqtt_client_id(id, sizeof id, client_id, svc.cfg.instance);
    sq_mqtt_options mo = { .host = svc.cfg.mqtt_host, .port = (int)svc.cfg.mqtt_port, .client_id = id,
                           .user = svc.cfg.mqtt_user, .password = svc.cfg.mqtt_password, .clean_session = true };
    sq_mqtt *mqtt = sq_mqtt_new(&mo, err, sizeof err);
    if (!mqtt || sq_mqtt_connect(mqtt, 30000, err, sizeof err) != SQ_OK) {
        log_error("mqtt.failed", "client=%s error=\"%s\"", id, err);
        return 2;
    }
    log_info("mqtt.connected", "client=%s", id);
    sq_admin_add_check(svc.admin, "mqtt", sq_mqtt_health, mqtt);
    notifier *n = notifier_new(mqtt, key, have_key);
    const char *subs[] = { sq_topic_name(&svc.cfg, "notify.v1"), NULL };
    sq_consumer *c = sq_consumer_new(&svc.cfg, subs, svc.producer, NULL, err, sizeof err);
    if (!c) {
        log_error("consumer.failed", "error=\"%s\"", err);
        return 2;
    }
    sq_handler h = { .handle = notifier_handle, .flush_start = notifier_flush_start,
                     .flush_done = notifier_flush_done, .discard = notifier_discard };
    rc = sq_consumer_run(c, &h, n, &sq_running);
    sq_consumer_close(c);
    sq_mqtt_free(mqtt);
    notifier_free(n);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : 1;
}
