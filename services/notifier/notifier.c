/*
 * notifier.c — rendering notifications and publishing them with acknowledgements.
 */
#include "epochs.h"
#include "notifier.h"
#include "shequ/v1/notify.pb-c.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notifier {
    sq_mqtt *mqtt;
    unsigned char key[SQ_PHONE_KEY_BYTES];
    bool have_key;
    sq_epochs acks; /* publishes by batch */
    struct slot { notifier *n; unsigned slot; } slots[SQ_EPOCHS]; /* each publish's callback context */
    unsigned sealed; /* the batch being made durable */
    sq_metric *m_published, *m_failed;
};

notifier *notifier_new(sq_mqtt *mqtt, const unsigned char *phone_key, bool have_key)
{
    notifier *n = calloc(1, sizeof *n);
    n->mqtt = mqtt;
    if (have_key)
        memcpy(n->key, phone_key, SQ_PHONE_KEY_BYTES);
    n->have_key = have_key;
    sq_epochs_init(&n->acks);
    for (unsigned i = 0; i < SQ_EPOCHS; i++)
        n->slots[i] = (struct slot){ n, i };
    n->m_published = sq_metric_counter("shequ_notifications_published_total", NULL, "notifications acknowledged by the broker");
    n->m_failed = sq_metric_counter("shequ_notifications_failed_total", NULL, "publishes the broker did not acknowledge");
    return n;
}

void notifier_free(notifier *n)
{
    if (!n)
        return;
    sq_epochs_destroy(&n->acks);
    free(n);
}

static json_t *time_or_null(int64_t us)
{
    char buf[40];
    return us ? json_string(sq_fmt_shanghai(us, buf, sizeof buf)) : json_null();
}

static bool topic_safe(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == '+' || *s == '#' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

int notifier_render(const void *arg, const unsigned char *phone_key, bool have_key, char *topic, size_t topiclen,
                    char **payload)
{
    const Shequ__V1__Notification *n = arg;
    if (!topic_safe(n->recipient_id))
        return SQ_INVALID;
    switch (n->recipient_kind) {
    case SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF: snprintf(topic, topiclen, "staff/%s/tasks", n->recipient_id); break;
    case SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_SUPERVISOR:
        snprintf(topic, topiclen, "supervisors/%s/alerts", n->recipient_id);
        break;
    case SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT:
        snprintf(topic, topiclen, "residents/%s/updates", n->recipient_id);
        break;
    default: return SQ_INVALID;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "notification_id",
                          n->header && n->header->event_id ? n->header->event_id : "", "ticket_id", n->ticket_id,
                          "kind", n->kind, "tier", n->tier, "category", n->category, "summary", n->summary,
                          "respond_due", time_or_null(n->respond_due_us), "resolve_due", time_or_null(n->resolve_due_us),
                          "expected_at", time_or_null(n->resolve_due_us));
    if (!j)
        return SQ_INVALID;
    if (n->level)
        json_object_set_new(j, "level", json_integer(n->level));
    if (n->reason && *n->reason)
        json_object_set_new(j, "reason", json_string(n->reason));
    if (n->recipient_kind == SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF) {
        /* what a worker needs on site; the phone only if the resident gave one and it opens */
        if (n->building && *n->building)
            json_object_set_new(j, "building", json_string(n->building));
        if (n->unit && *n->unit)
            json_object_set_new(j, "unit", json_string(n->unit));
        if (n->address && *n->address)
            json_object_set_new(j, "address", json_string(n->address));
        if (n->location)
            json_object_set_new(j, "location", json_pack("{s:f,s:f}", "lat", n->location->lat, "lon", n->location->lon));
        char phone[64];
        if (have_key && n->phone_sealed.len &&
            sq_phone_open(phone_key, n->phone_sealed.data, n->phone_sealed.len, phone, sizeof phone) == SQ_OK)
            json_object_set_new(j, "phone", json_string(phone));
    }
    *payload = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *payload ? SQ_OK : SQ_INVALID;
}

static void published(void *ctx, int rc)
{
    struct slot *s = ctx;
    notifier *n = s->n;
    sq_epochs_end(&n->acks, s->slot, rc == SQ_OK);
    sq_metric_add(rc == SQ_OK ? n->m_published : n->m_failed, 1);
}

enum { WINDOW = 500 }; /* below the MQTT client's in-flight limit (1000) */

int notifier_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    notifier *n = arg;
    Shequ__V1__Notification *msg = shequ__v1__notification__unpack(NULL, m->len, m->payload);
    if (!msg)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a Notification");
    char topic[160], *payload = NULL;
    int rc = notifier_render(msg, n->key, n->have_key, topic, sizeof topic, &payload);
    shequ__v1__notification__free_unpacked(msg, NULL);
    if (rc != SQ_OK)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "invalid_recipient"),
                       "recipient kind or id cannot be addressed");
    /* at most WINDOW publishes wait for the broker (Paho refuses more than its in-flight limit): the
     * consumer waits here instead of failing the batch and sending it all again */
    sq_epochs_below(&n->acks, WINDOW, 10000);
    unsigned slot = sq_epochs_join(&n->acks);
    rc = sq_mqtt_publish_async(n->mqtt, topic, payload, strlen(payload), 1, published, &n->slots[slot]);
    free(payload);
    if (rc != SQ_OK) {
        sq_epochs_end(&n->acks, slot, false);
        return sq_fail(detail, dlen, SQ_RETRY, "mqtt refused the publish (not connected)");
    }
    return SQ_OK;
}

int notifier_flush_start(void *arg)
{
    notifier *n = arg;
    n->sealed = sq_epochs_seal(&n->acks);
    return SQ_OK;
}

int notifier_flush_done(void *arg, int wait_ms)
{
    notifier *n = arg;
    return sq_epochs_wait(&n->acks, n->sealed, wait_ms);
}

void notifier_discard(void *arg)
{
    notifier *n = arg;
    sq_epochs_forgive(&n->acks); /* publishes still in flight finish on their own; the batch is sent again */
}
