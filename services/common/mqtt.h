/*
 * mqtt.h — an MQTT 3.1.1 client over Eclipse Paho's async API: connect with
 * credentials, automatic reconnect that re-subscribes, QoS 1 publish that
 * waits for (or reports) the broker's PUBACK.
 *
 * Paho has no manual acknowledgement: for QoS 1 it sends PUBACK after the
 * message callback returns, and a callback returning 0 leaves the message
 * queued to be delivered again. sq_mqtt_msg_fn keeps that contract:
 * return 1 once the message is handled (durably), 0 to have it redelivered.
 * Callbacks run on Paho's thread.
 */
#ifndef SQ_MQTT_H
#define SQ_MQTT_H

#include "sq.h"

typedef struct sq_mqtt sq_mqtt;

typedef int (*sq_mqtt_msg_fn)(void *ctx, const char *topic, const void *payload, size_t len);
/* Publish completion: rc SQ_OK when the broker acknowledged (QoS 1) or sent (QoS 0). */
typedef void (*sq_mqtt_done_fn)(void *ctx, int rc);

typedef struct sq_mqtt_options {
    const char *host;
    int port;
    const char *client_id;
    const char *user;
    const char *password;
    bool clean_session;      /* false: the broker keeps the session and queued QoS 1 messages */
    const char *persist_dir; /* Paho file persistence for in-flight messages; NULL = in memory */
    int keepalive_s;         /* default 20 */
    int max_inflight;        /* default 1000 */
} sq_mqtt_options;

sq_mqtt *sq_mqtt_new(const sq_mqtt_options *o, char *err, size_t errlen);
/* Sets the message callback (before connecting). */
void sq_mqtt_on_message(sq_mqtt *m, sq_mqtt_msg_fn fn, void *ctx);
/* Connects, retrying until timeout_ms. SQ_OK, SQ_RETRY (broker down) or SQ_INVALID (refused: bad credentials). */
int sq_mqtt_connect(sq_mqtt *m, int timeout_ms, char *err, size_t errlen);
/* Subscribes and remembers the filter so it is renewed on every reconnect. Waits for SUBACK. */
int sq_mqtt_subscribe(sq_mqtt *m, const char *filter, int qos, int timeout_ms, char *err, size_t errlen);
/* Publishes and waits for the acknowledgement. SQ_OK or SQ_RETRY. */
int sq_mqtt_publish(sq_mqtt *m, const char *topic, const void *payload, size_t len, int qos, int timeout_ms);
/* Publishes without waiting; done (may be NULL) is called exactly once if SQ_OK is returned. */
int sq_mqtt_publish_async(sq_mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                          sq_mqtt_done_fn done, void *ctx);
bool sq_mqtt_connected(sq_mqtt *m);
/* Disconnects and frees. Accepts NULL. */
void sq_mqtt_free(sq_mqtt *m);

/*
 * The client id of one instance of a service: base, or "<base>-<instance>" when instance is set. The
 * broker drops a connection when another one takes its client id, so instances of one service need
 * distinct ids; a persistent session (clean_session false) is bound to its id, so the id must stay the
 * same across an instance's restarts: it comes from the instance's name, never from chance.
 */
void sq_mqtt_client_id(char *out, size_t outlen, const char *base, const char *instance);

/* Admin health check (ctx is the sq_mqtt). */
int sq_mqtt_health(void *m, char *msg, size_t msglen);

#endif
