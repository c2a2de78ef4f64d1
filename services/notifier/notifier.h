/*
 * notifier.h — notify.v1 → MQTT (QoS 1): staff/{staff_id}/tasks,
 * supervisors/{community_id}/alerts, residents/{reporter_id}/updates.
 *
 * Publishes are pipelined: a batch is durable once the broker acknowledged
 * every one of its publishes (PUBACK), and the consumer loop stores its
 * offsets only then, while the next batch is already being published. A failed publish fails the batch: it is published again from its
 * first message after a capped backoff, so nothing is lost and the order per
 * recipient (one Kafka partition per recipient key) is kept; a recipient may
 * see a message twice after a broker outage (at-least-once).
 */
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include "mqtt.h"
#include "phone.h"
#include "service.h"

typedef struct notifier notifier;

notifier *notifier_new(sq_mqtt *mqtt, const unsigned char *phone_key, bool have_key);
void notifier_free(notifier *n);
int notifier_handle(void *n, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
int notifier_flush_start(void *n);
int notifier_flush_done(void *n, int wait_ms);
void notifier_discard(void *n);
/* The MQTT topic and JSON payload of one notification (pure; exposed for tests). payload is malloc'd. */
int notifier_render(const void *notification, const unsigned char *phone_key, bool have_key, char *topic,
                    size_t topiclen, char **payload);

#endif
