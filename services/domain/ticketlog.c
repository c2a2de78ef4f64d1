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
    char id[SQ_UUID_LEN], name[384];
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
    /* stamped with the event's own time: readers order a partition's topics by it (merge.c) */
    int rc = sq_producer_send_to(em->producer, em->tickets_topic,
                                 em->fixed_partition ? em->partition : RD_KAFKA_PARTITION_UA,
                                 occurred_us > 0 ? occurred_us / 1000 : 0, t->community_id, strlen(t->community_id), buf,
                                 len, NULL, NULL, NULL);
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
    char id[SQ_UUID_LEN], name[384];
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
