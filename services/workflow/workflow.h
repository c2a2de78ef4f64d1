/*
 * workflow.h — applies staff actions and resident feedback to tickets,
 * enforcing the state machine (services/domain/ticket.h); every rejection
 * becomes a `rejected` ticket event and a notification to the actor.
 *
 * Ticket state is in memory, one model per owned partition, restored when the
 * partition is assigned (ticketlog.h) and kept current from tickets.v1 (triage's new tickets, merges, alarm reopenings, SLA
 * escalations). Input event ids already answered in the log are remembered,
 * so a redelivered action is never applied twice.
 */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include "directory.h"
#include "rules.h"
#include "service.h"
#include "ticketlog.h"

typedef struct workflow workflow;

typedef struct workflow_options {
    const char *actions_topic, *feedback_topic, *tickets_topic;
    int64_t unknown_ticket_hold_us;   /* how long an action may wait for its ticket to appear */
    bool reopen_on_unsatisfied;
} workflow_options;

/* One partition's model: what it emits goes to that partition; clock is its stream time (auto-close). */
workflow *workflow_new(const sq_rules *rules, sq_directory *dir, const sq_emitter *em, const workflow_options *o,
                       int32_t partition, const sq_streamclock *clock);
void workflow_free(workflow *w);
/* Re-reads the rules file on SIGHUP (from tick): a bad file is refused with file:line and the old rules kept. */
void workflow_watch_rules(workflow *w, const char *path, sq_rules **owned);
void workflow_apply_log(void *w, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);
int workflow_handle(void *w, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
void workflow_tick(void *w);
size_t workflow_ticket_count(const workflow *w);

#endif
