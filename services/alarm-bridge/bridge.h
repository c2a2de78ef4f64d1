/*
 * bridge.h — device alarms from MQTT (devices/{community}/{device}/alarm) to
 * alarms.device.v1, at least once, keyed by the topic's community_id (DESIGN.md §2: a community's
 * alarms share the partition number of its reports and tickets).
 *
 * Paho acknowledges a QoS 1 message (PUBACK) when the message callback
 * returns, and has no manual acknowledgement. So the callback produces the
 * DeviceAlarm and waits for Kafka's delivery report before it returns 1; if
 * Kafka fails it returns 0 and Paho delivers the message again. An invalid
 * payload is dead-lettered (and that write awaited) and acknowledged: it is
 * never retried forever. Paho's async client calls every connection's callback
 * from one receive thread per process (holding its global lock), so the waits
 * for Kafka of one process do not overlap: one process bridges one alarm per
 * Kafka round trip. main.c therefore runs mqtt.processes workers (default 8),
 * each with its own Paho and producer (linger.ms 0), in one shared subscription
 * ($share/<group>/devices/+/+/alarm); a supervisor restarts a worker that dies,
 * and workers die with the supervisor. Measured by `shequ-bench bridge`.
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include "fields.h"
#include "kafka.h"
#include "rules.h"
#include "shequ/v1/alarm.pb-c.h"

typedef struct bridge bridge;

typedef struct bridge_options {
    sq_producer *producer;
    const sq_rules *rules;
    const char *alarms_topic;
    const char *deadletter_topic;
    const char *service;
    bool await_delivery;      /* false only for measuring what at-least-once costs */
} bridge_options;

bridge *bridge_new(const bridge_options *o);
void bridge_free(bridge *b);
/* The sq_mqtt message callback: 1 = handled (acknowledge), 0 = deliver again. */
int bridge_on_message(void *b, const char *topic, const void *payload, size_t len);

/*
 * Pure: validates one MQTT message and fills a DeviceAlarm (strings point into `store` and `f`, which
 * must outlive it). Refused (SQ_INVALID with a reason code and detail) only when the topic, alarm_id,
 * type or state is unusable; a secondary field it cannot use is dropped and noted in dropped_fields.
 */
int bridge_parse(const char *topic, const char *payload, size_t len, const sq_rules *rules,
                 Shequ__V1__DeviceAlarm *out, Shequ__V1__EventHeader *hdr, bridge_fields *f, char *store,
                 size_t storelen, char *reason, size_t rlen, char *detail, size_t dlen);

#endif
