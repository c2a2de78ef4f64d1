/*
 * ticketlog.h — reading and writing the ticket event log (tickets.v1).
 *
 * sq_ticketlog_replay reads every partition from the beginning up to the end
 * it had when called (a rebuild of in-memory state at start-up); apply is
 * called for each decodable event in partition order.
 *
 * sq_emit_* build and produce TicketEvents and Notifications with the
 * deterministic ids of the cross-service contract:
 *   ticket event id  = uuid5("ticket-event", "<ticket_id>/<type>/<cause_event_id>")
 *   notification id  = uuid5("notify", "<ticket event id>/<recipient_id>")
 * Production is asynchronous: the consumer loop waits for the acknowledgements
 * before it stores offsets.
 */
#ifndef SQ_TICKETLOG_H
#define SQ_TICKETLOG_H

#include "kafka.h"
#include "shequ/v1/notify.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"
#include "ticket.h"
#include "util.h"

typedef void (*sq_ticketlog_apply_fn)(void *ctx, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);

/* Returns the number of events replayed, or a negative sq_rc with err set. */
long sq_ticketlog_replay(const sq_common_config *c, const char *topic, sq_ticketlog_apply_fn apply, void *ctx,
                         char *err, size_t errlen);

/* Name of a TicketEvent body ("created", "sla_warning", ...), "unknown" if not set. */
const char *sq_ticket_event_type(const Shequ__V1__TicketEvent *e);

typedef struct sq_emitter {
    sq_producer *producer;
    const char *tickets_topic;
    const char *notify_topic;
    const char *service;
} sq_emitter;

/*
 * Produces one TicketEvent. The caller has set ev->body_case and the body;
 * this sets the header, ticket_id, actor, cause and (if with_state) the
 * snapshot of t. The new event's id is written to event_id_out (may be NULL).
 */
int sq_emit_ticket_event(const sq_emitter *em, Shequ__V1__TicketEvent *ev, const sq_ticket *t, bool with_state,
                         const char *type, const char *actor_id, const char *cause_event_id, int64_t occurred_us,
                         char event_id_out[SQ_UUID_LEN]);

/* Produces a Notification about t to one recipient, caused by the ticket event `ticket_event_id`. */
int sq_emit_notification(const sq_emitter *em, const sq_ticket *t, Shequ__V1__RecipientKind kind,
                         const char *recipient_id, const char *notification_kind, const char *ticket_event_id,
                         const char *reason, int level, const uint8_t *phone_sealed, size_t phone_len);

#endif
