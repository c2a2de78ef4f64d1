/*
 * ticketlog.h — reading and writing the ticket event log (tickets.v1).
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

typedef void (*sq_ticketlog_apply_fn)(void *model, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);

/*
 * Event time of one partition (stream time): for each topic the service reads, the newest Kafka
 * timestamp it has read from that topic's partition, or the wall clock once it has read the partition
 * to its end; the partition's time is the earliest of these. A decision that waits for a moment (an SLA
 * step, an auto-close, a window closing) waits until stream time has passed it, so an instance catching
 * up after downtime reads the events that came before that moment first, as it would have live.
 */
typedef struct sq_streamclock sq_streamclock;
int64_t sq_stream_now_us(const sq_streamclock *c);
/* True once every topic of the partition has been read to its end at least once since assignment. */
bool sq_stream_caught_up(const sq_streamclock *c);

/*
 * A service whose memory is a fold of tickets.v1 (triage, workflow, sla, the compactor) holds one model
 * per partition it owns: all five community-keyed topics have the same partition count and the range
 * assignor gives one instance the same partition number of each, so model p sees every input and every
 * ticket event of the communities of partition p, in order, and nothing else. sq_ticketmodel_run:
 *
 *   - on assignment, creates a model per new partition and restores it (statelog.h: the changelog's
 *     live events, then the tail of tickets.v1[p]) before any input of it is handled; tickets.v1[p] is
 *     then consumed from where the restore ended, the inputs from their committed offsets;
 *   - dispatches each message to the model of its partition, and ticks every model (~100 ms);
 *   - on revocation, after the loop made everything durable and committed, drops the models (in the
 *     eager protocol a partition assigned again at once keeps its model and goes on from its own
 *     position in tickets.v1); when the assignment was lost, drops them at once;
 *   - when the loop ends with SQ_RESTART (events a model emitted were lost, see rebuild_on_loss in
 *     kafka.h), drops every model and starts over as a restarted process would.
 *
 *   static const sq_ticketmodel model = { new_model, free_model, apply_log, count_tickets };
 *   rc = sq_ticketmodel_run(&svc.cfg, svc.producer, tickets_topic, subs, &handler, &model, &ctx, &sq_running);
 *
 * The handler's handle and tick receive the model of the message's partition (flush, discard, assigned
 * and revoked are not used).
 */
typedef struct sq_ticketmodel {
    /* an empty model for one partition (NULL: out of memory); clock lives as long as the model */
    void *(*create)(void *ctx, int32_t partition, const sq_streamclock *clock);
    void (*destroy)(void *model);
    sq_ticketlog_apply_fn apply;           /* one restored event, in partition order */
    size_t (*tickets)(const void *model);  /* tickets held, for the log line */
    /* restore the changelog only and consume tickets.v1 from its position (the compactor, whose
     * handler must see every event after the position itself) */
    bool changelog_only;
} sq_ticketmodel;

/* Runs until *running clears (SQ_OK) or a failure the loop cannot recover from: SQ_INVALID when the
 * consumer cannot be configured, SQ_ERR otherwise (logged). A restore that fails (Kafka away) is tried
 * again after a pause with a new consumer. */
int sq_ticketmodel_run(const sq_common_config *cfg, sq_producer *producer, const char *tickets_topic,
                       const char *const *subs, const sq_handler *h, const sq_ticketmodel *m, void *ctx,
                       volatile sig_atomic_t *running);

/* Name of a TicketEvent body ("created", "sla_warning", ...), "unknown" if not set. */
const char *sq_ticket_event_type(const Shequ__V1__TicketEvent *e);

/* Ticket events are keyed by community_id; a model's emitter also names its partition (fixed_partition)
 * so that what model p decides lands on tickets.v1[p], where model p will find it when restored. */
typedef struct sq_emitter {
    sq_producer *producer;
    const char *tickets_topic;
    const char *notify_topic;
    const char *service;
    bool fixed_partition;
    int32_t partition;
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
