/*
 * bridge.c — validation, mapping and the synchronous hand-off to Kafka.
 */
#include "bridge.h"
#include "deadletter.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_MAX 16384

struct bridge {
    bridge_options o;
    sq_metric *m_in, *m_dead, *m_retry;
};

bridge *bridge_new(const bridge_options *o)
{
    bridge *b = calloc(1, sizeof *b);
    b->o = *o;
    b->m_in = sq_metric_counter("shequ_alarms_bridged_total", NULL, "alarms confirmed on Kafka");
    b->m_dead = sq_metric_counter("shequ_deadletters_total", NULL, "messages sent to the dead-letter topic");
    b->m_retry = sq_metric_counter("shequ_alarms_redelivered_total", NULL, "alarms handed back to MQTT because Kafka failed");
    return b;
}

void bridge_free(bridge *b) { free(b); }

/* Copies s into the store, returning a pointer into it (or "" when full). */
static char *keep(char **cursor, char *end, const char *s, size_t n)
{
    if (!s || *cursor + n + 1 > end)
        return "";
    char *p = *cursor;
    memcpy(p, s, n);
    p[n] = '\0';
    *cursor += n + 1;
    return p;
}

static bool ident_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

int bridge_parse(const char *topic, const char *payload, size_t len, const sq_rules *rules,
                 Shequ__V1__DeviceAlarm *out, Shequ__V1__EventHeader *hdr, bridge_fields *f, char *store,
                 size_t storelen, char *reason, size_t rlen, char *detail, size_t dlen)
{
    char *cur = store, *end = store + storelen;
    /* devices/{community}/{device}/alarm */
    const char *p = topic;
    if (strncmp(p, "devices/", 8) != 0)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "bad_topic"), "topic is not devices/+/+/alarm");
    p += 8;
    const char *slash1 = strchr(p, '/'), *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    if (!slash1 || !slash2 || strcmp(slash2, "/alarm") != 0 || !ident_ok(p, (size_t)(slash1 - p)) ||
        !ident_ok(slash1 + 1, (size_t)(slash2 - slash1 - 1)))
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "bad_topic"), "topic is not devices/<community>/<device>/alarm");
    char *community = keep(&cur, end, p, (size_t)(slash1 - p));
    char *device = keep(&cur, end, slash1 + 1, (size_t)(slash2 - slash1 - 1));
    if (len > PAYLOAD_MAX)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "oversized"), "payload of %zu bytes", len);
    json_error_t jerr;
    json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr); /* a NUL in a secondary field drops that field only */
    if (!j || !json_is_object(j)) {
        if (j)
            json_decref(j);
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "not_json"), "%s", j ? "not an object" : jerr.text);
    }
    int rc = SQ_OK;
    json_t *alarm_id = json_object_get(j, "alarm_id"), *type = json_object_get(j, "type"),
           *state = json_object_get(j, "state"), *level = json_object_get(j, "level"),
           *building = json_object_get(j, "building"), *unit = json_object_get(j, "unit"),
           *occurred = json_object_get(j, "occurred_at"), *snapshot = json_object_get(j, "snapshot_url");
    const char *missing = !json_is_string(alarm_id) ? "alarm_id" : !json_is_string(type) ? "type"
                        : !json_is_string(state) ? "state" : NULL;
    if (missing) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "%s (a string) is required", missing);
        goto out;
    }
    if (!ident_ok(json_string_value(alarm_id), json_string_length(alarm_id))) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "invalid_field"), "alarm_id");
        goto out;
    }
    if (!sq_rules_alarm_type_known(rules, json_string_value(type))) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "unknown_alarm_type"), "type '%.40s'",
                     json_string_value(type));
        goto out;
    }
    const char *st = json_string_value(state);
    if (strcmp(st, "raised") != 0 && strcmp(st, "cleared") != 0) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "invalid_field"), "state must be raised or cleared");
        goto out;
    }
    /* a tolerant reader from here on: a secondary field it cannot use is dropped and the drop noted on
     * the alarm, never a reason to refuse it (an entrapped passenger's alarm must become a ticket) */
    bridge_read_fields(level, building, unit, occurred, snapshot, f);
    int64_t device_time = f->device_time_us;
    shequ__v1__device_alarm__init(out);
    shequ__v1__event_header__init(hdr);
    out->header = hdr;
    out->alarm_id = keep(&cur, end, json_string_value(alarm_id), json_string_length(alarm_id));
    out->device_id = device;
    out->type = keep(&cur, end, json_string_value(type), json_string_length(type));
    out->state = strcmp(st, "raised") == 0 ? SHEQU__V1__ALARM_STATE__ALARM_STATE_RAISED : SHEQU__V1__ALARM_STATE__ALARM_STATE_CLEARED;
    out->level = f->level;
    out->building = keep(&cur, end, f->building, strlen(f->building));
    out->unit = keep(&cur, end, f->unit, strlen(f->unit));
    out->snapshot_url = f->snapshot_url ? keep(&cur, end, f->snapshot_url, strlen(f->snapshot_url)) : "";
    out->device_time_us = device_time;
    out->n_dropped_fields = (size_t)f->ndropped;
    out->dropped_fields = f->ndropped ? bridge_fields_notes(f) : NULL;
    for (int i = 0; i < f->ndropped; i++)
        log_warn("alarm.field_dropped", "community=%s device=%s alarm=%s dropped=\"%s\"", community, device,
                 out->alarm_id, f->dropped[i]);
    /* the same MQTT message delivered twice gets the same event id */
    char name[256];
    int n = snprintf(name, sizeof name, "%s/%s/%s", device, out->alarm_id, st);
    char id[SQ_UUID_LEN];
    sq_uuid5(id, "alarm", name, (size_t)n);
    hdr->event_id = keep(&cur, end, id, strlen(id));
    hdr->community_id = community;
    hdr->occurred_at_us = device_time ? device_time : sq_now_us();
    hdr->produced_at_us = sq_now_us();
    hdr->source = "alarm-bridge";
    hdr->trace_id = hdr->event_id;
out:
    json_decref(j);
    return rc;
}

static int send_and_wait(bridge *b, const char *topic, const char *key, const void *buf, size_t len, rd_kafka_headers_t *h)
{
    if (!b->o.await_delivery)
        return sq_producer_send(b->o.producer, topic, key, strlen(key), buf, len, h, NULL, NULL);
    return sq_producer_send_sync(b->o.producer, topic, key, strlen(key), buf, len, h);
}

int bridge_on_message(void *arg, const char *topic, const void *payload, size_t len)
{
    bridge *b = arg;
    Shequ__V1__DeviceAlarm a;
    Shequ__V1__EventHeader h;
    bridge_fields f;
    char store[4096], reason[64] = "", detail[256] = "";
    int rc = bridge_parse(topic, payload, len, b->o.rules, &a, &h, &f, store, sizeof store, reason, sizeof reason,
                          detail, sizeof detail);
    if (rc != SQ_OK) {
        rd_kafka_headers_t *hd = sq_deadletter_headers(b->o.service, topic, -1, -1, reason, detail);
        log_warn("deadletter", "mqtt_topic=%s reason=%s detail=\"%s\"", topic, reason, detail);
        if (send_and_wait(b, b->o.deadletter_topic, topic, payload, len, hd) != SQ_OK) {
            sq_metric_add(b->m_retry, 1);
            return 0;
        }
        sq_metric_add(b->m_dead, 1);
        return 1;
    }
    size_t n = shequ__v1__device_alarm__get_packed_size(&a);
    uint8_t buf[8192];
    if (n > sizeof buf)
        return 1;
    shequ__v1__device_alarm__pack(&a, buf);
    /* keyed by the topic's community: a community's alarms sit on the partition of its reports and tickets */
    if (send_and_wait(b, b->o.alarms_topic, h.community_id, buf, n, NULL) != SQ_OK) {
        sq_metric_add(b->m_retry, 1);
        sq_sleep_ms(100); /* Paho calls again at once: do not spin */
        return 0;
    }
    sq_metric_add(b->m_in, 1);
    return 1;
}
