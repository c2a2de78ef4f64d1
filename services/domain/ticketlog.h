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

/*
 * A service whose memory is a model of tickets.v1 (triage, workflow, sla): the model is built by
 * replaying the log, then kept by the consumer loop as the service handles its inputs and emits
 * events. sq_ticketmodel_run does both and, when the loop ends with SQ_RESTART (events it emitted were
 * lost, so the model holds steps the log never got: see rebuild_on_loss in kafka.h), throws
 * the model away and does both again, as a restarted process would: what was not durable is handled
 * again from the committed offsets against a model of what the log really holds.
 *
 *   static const sq_ticketmodel model = { new_model, free_model, apply_log, count_tickets };
 *   rc = sq_ticketmodel_run(&svc.cfg, svc.producer, tickets_topic, subs, &handler, &model, &ctx, &sq_running);
 */
typedef struct sq_ticketmodel {
    void *(*create)(void *ctx);            /* an empty model (NULL: out of memory) */
    void (*destroy)(void *model);
    sq_ticketlog_apply_fn apply;           /* one replayed event */
    size_t (*tickets)(const void *model);  /* tickets held, for the log line */
} sq_ticketmodel;

/* Runs until *running clears (SQ_OK) or a failure the loop cannot recover from: SQ_INVALID when the
 * consumer cannot be configured, SQ_ERR otherwise (logged). The handler is used as given, with
 * rebuild_on_loss set. A replay failing at start-up is an error; during a rebuild it is tried again
 * every second (Kafka is often the reason for the rebuild). */
int sq_ticketmodel_run(const sq_common_config *cfg, sq_producer *producer, const char *tickets_topic,
                       const char *const *subs, const sq_handler *h, const sq_ticketmodel *m, void *ctx,
                       volatile sig_atomic_t *running);

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
