/*
 * ticketlog.c — replaying and writing tickets.v1.
 */
#include "ticketlog.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sq_ticket_event_type(const Shequ__V1__TicketEvent *e)
{
    switch (e->body_case) {
    case SHEQU__V1__TICKET_EVENT__BODY_CREATED: return "created";
    case SHEQU__V1__TICKET_EVENT__BODY_MERGED: return "merged";
    case SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED: return "assigned";
    case SHEQU__V1__TICKET_EVENT__BODY_TRANSFERRED: return "transferred";
    case SHEQU__V1__TICKET_EVENT__BODY_RESPONDED: return "responded";
    case SHEQU__V1__TICKET_EVENT__BODY_REPORTED: return "reported";
    case SHEQU__V1__TICKET_EVENT__BODY_PLANNED: return "planned";
    case SHEQU__V1__TICKET_EVENT__BODY_PAUSED: return "paused";
    case SHEQU__V1__TICKET_EVENT__BODY_RESUMED: return "resumed";
    case SHEQU__V1__TICKET_EVENT__BODY_RESOLVED: return "resolved";
    case SHEQU__V1__TICKET_EVENT__BODY_REOPENED: return "reopened";
    case SHEQU__V1__TICKET_EVENT__BODY_RATED: return "rated";
    case SHEQU__V1__TICKET_EVENT__BODY_CLOSED: return "closed";
    case SHEQU__V1__TICKET_EVENT__BODY_CANCELLED: return "cancelled";
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING: return "sla_warning";
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED: return "sla_breached";
    case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED: return "escalated";
    case SHEQU__V1__TICKET_EVENT__BODY_DEVICE_CLEARED: return "device_cleared";
    case SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE: return "occurrence";
    case SHEQU__V1__TICKET_EVENT__BODY_REJECTED: return "rejected";
    default: return "unknown";
    }
}

long sq_ticketlog_replay(const sq_common_config *c, const char *topic, sq_ticketlog_apply_fn apply, void *ctx,
                         char *err, size_t errlen)
{
    char e[256], group[128];
    snprintf(group, sizeof group, "%s.replay", c->service);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->kafka_brokers, e, sizeof e) ||
        rd_kafka_conf_set(conf, "group.id", group, e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof e)) {
        rd_kafka_conf_destroy(conf);
        return sq_fail(err, errlen, SQ_ERR, "replay config: %s", e);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk)
        return sq_fail(err, errlen, SQ_ERR, "replay consumer: %s", e);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (me || md->topic_cnt != 1 || md->topics[0].err) {
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return sq_fail(err, errlen, SQ_RETRY, "replay: topic %s unavailable", topic);
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int64_t *ends = calloc((size_t)nparts, sizeof *ends);
    int remaining = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
            free(ends);
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_destroy(rk);
            return sq_fail(err, errlen, SQ_RETRY, "replay: watermarks of %s[%d] unavailable", topic, p);
        }
        ends[p] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
            remaining++;
        }
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long n = 0;
    int64_t idle_since = sq_mono_us();
    while (remaining > 0 && sq_mono_us() - idle_since < 30 * SQ_US_PER_S) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        idle_since = sq_mono_us();
        int32_t p = m->partition;
        bool done = false;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            done = true;
        } else if (!m->err && p < nparts && m->offset < ends[p]) {
            Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
            if (ev) {
                apply(ctx, ev, p, m->offset);
                shequ__v1__ticket_event__free_unpacked(ev, NULL);
                n++;
            }
            done = m->offset + 1 >= ends[p];
        }
        if (done && p < nparts && ends[p] >= 0) {
            ends[p] = -1; /* finished */
            remaining--;
        }
        rd_kafka_message_destroy(m);
    }
    free(ends);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (remaining > 0)
        return sq_fail(err, errlen, SQ_RETRY, "replay of %s stalled", topic);
    return n;
}

static void header_init(Shequ__V1__EventHeader *h, char *event_id, const char *service, const char *community,
                        const char *trace, int64_t occurred_us)
{
    shequ__v1__event_header__init(h);
    h->event_id = event_id;
    h->occurred_at_us = occurred_us;
    h->produced_at_us = sq_now_us();
    h->source = (char *)service;
    h->community_id = (char *)community;
    h->trace_id = (char *)trace;
}

int sq_emit_ticket_event(const sq_emitter *em, Shequ__V1__TicketEvent *ev, const sq_ticket *t, bool with_state,
                         const char *type, const char *actor_id, const char *cause_event_id, int64_t occurred_us,
                         char event_id_out[SQ_UUID_LEN])
{
    char id[SQ_UUID_LEN], name[256];
    const char *parts[] = { t->ticket_id, type, cause_event_id };
    sq_uuid5(id, "ticket-event", name, sq_join(name, sizeof name, '/', parts, 3));
    Shequ__V1__EventHeader h;
    header_init(&h, id, em->service, t->community_id, t->ticket_id, occurred_us);
    Shequ__V1__TicketState st;
    Shequ__V1__Clock clocks[SQ_MAX_CLOCKS], *ptrs[SQ_MAX_CLOCKS];
    Shequ__V1__GeoPoint loc;
    ev->header = &h;
    ev->ticket_id = (char *)t->ticket_id;
    ev->actor_id = (char *)(actor_id ? actor_id : em->service);
    ev->cause_event_id = (char *)(cause_event_id ? cause_event_id : "");
    if (with_state) {
        sq_ticket_to_state(t, &st, clocks, ptrs, &loc);
        ev->state = &st;
    } else {
        ev->state = NULL;
    }
    size_t len = shequ__v1__ticket_event__get_packed_size(ev);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    shequ__v1__ticket_event__pack(ev, buf);
    int rc = sq_producer_send(em->producer, em->tickets_topic, t->ticket_id, strlen(t->ticket_id), buf, len, NULL,
                              NULL, NULL);
    if (buf != stackbuf)
        free(buf);
    ev->header = NULL;
    ev->state = NULL;
    if (event_id_out)
        memcpy(event_id_out, id, SQ_UUID_LEN);
    log_debug("ticket.event", "ticket=%s type=%s event=%s", t->ticket_id, type, id);
    return rc;
}

int sq_emit_notification(const sq_emitter *em, const sq_ticket *t, Shequ__V1__RecipientKind kind,
                         const char *recipient_id, const char *notification_kind, const char *ticket_event_id,
                         const char *reason, int level, const uint8_t *phone_sealed, size_t phone_len)
{
    if (!recipient_id || !*recipient_id)
        return SQ_OK;
    char id[SQ_UUID_LEN], name[256];
    const char *parts[] = { ticket_event_id, recipient_id };
    sq_uuid5(id, "notify", name, sq_join(name, sizeof name, '/', parts, 2));
    Shequ__V1__EventHeader h;
    header_init(&h, id, em->service, t->community_id, t->ticket_id, sq_now_us());
    Shequ__V1__Notification msg = SHEQU__V1__NOTIFICATION__INIT;
    Shequ__V1__GeoPoint loc = SHEQU__V1__GEO_POINT__INIT;
    msg.header = &h;
    msg.recipient_kind = kind;
    msg.recipient_id = (char *)recipient_id;
    msg.ticket_id = (char *)t->ticket_id;
    msg.kind = (char *)notification_kind;
    msg.tier = (char *)t->tier;
    msg.category = (char *)t->category;
    msg.summary = (char *)t->summary;
    for (int i = 0; i < t->nclocks; i++) {
        if (strcmp(t->clocks[i].name, "respond") == 0 || strcmp(t->clocks[i].name, "plan") == 0)
            msg.respond_due_us = t->clocks[i].due_us;
        else if (strcmp(t->clocks[i].name, "resolve") == 0)
            msg.resolve_due_us = t->clocks[i].due_us;
    }
    msg.building = (char *)t->building;
    msg.unit = (char *)t->unit;
    if (t->has_location) {
        loc.lat = t->lat;
        loc.lon = t->lon;
        msg.location = &loc;
    }
    if (phone_sealed && phone_len) {
        msg.phone_sealed.data = (uint8_t *)phone_sealed;
        msg.phone_sealed.len = phone_len;
    }
    msg.level = level;
    msg.reason = (char *)(reason ? reason : "");
    msg.cause_event_id = (char *)ticket_event_id;
    size_t len = shequ__v1__notification__get_packed_size(&msg);
    uint8_t buf[4096];
    if (len > sizeof buf)
        return SQ_INVALID;
    shequ__v1__notification__pack(&msg, buf);
    return sq_producer_send(em->producer, em->notify_topic, recipient_id, strlen(recipient_id), buf, len, NULL, NULL,
                            NULL);
}

int sq_ticketmodel_run(const sq_common_config *cfg, sq_producer *producer, const char *tickets_topic,
                       const char *const *subs, const sq_handler *h, const sq_ticketmodel *m, void *ctx,
                       volatile sig_atomic_t *running)
{
    sq_handler keep = *h;
    keep.rebuild_on_loss = true;
    char err[512];
    long rebuilds = 0, wait_ms = 0;
    int64_t last_rebuild = 0;
    while (*running) {
        void *model = m->create(ctx);
        if (!model)
            return SQ_ERR;
        int64_t t0 = sq_mono_us();
        long n = sq_ticketlog_replay(cfg, tickets_topic, m->apply, model, err, sizeof err);
        if (n < 0) {
            log_error("replay.failed", "rebuilds=%ld error=\"%s\"", rebuilds, err);
            m->destroy(model);
            if (rebuilds == 0)
                return SQ_ERR; /* at start-up: the process was pointed at the wrong place */
            sq_sleep_while(1000, running);
            continue;
        }
        log_info("replay.done", "events=%ld tickets=%zu ms=%lld rebuilds=%ld", n, m->tickets(model),
                 (long long)(sq_mono_us() - t0) / 1000, rebuilds);
        sq_consumer *c = sq_consumer_new(cfg, subs, producer, NULL, err, sizeof err);
        if (!c) {
            log_error("consumer.failed", "error=\"%s\"", err);
            m->destroy(model);
            return SQ_INVALID;
        }
        int rc = sq_consumer_run(c, &keep, model, running);
        sq_consumer_close(c);
        m->destroy(model);
        if (rc != SQ_RESTART)
            return rc;
        /* a replay costs a read of the whole log: while Kafka goes on refusing, wait longer each time
         * (100 ms doubling to 10 s; from 100 ms again after a minute without a rebuild) */
        bool recent = last_rebuild && sq_mono_us() - last_rebuild < 60 * SQ_US_PER_S;
        wait_ms = recent ? (wait_ms * 2 > 10000 ? 10000 : wait_ms * 2) : 100;
        last_rebuild = sq_mono_us();
        rebuilds++;
        log_warn("model.rebuild", "reason=\"events it emitted were lost\" rebuilds=%ld wait_ms=%ld",
                 rebuilds, wait_ms);
        sq_sleep_while(wait_ms, running);
    }
    return SQ_OK;
}
