/*
 * sla.h — keeps every running clock of every open ticket and emits
 * sla_warning, sla_breached and escalated events when a clock crosses its
 * ladder's thresholds (ladder.h), with notifications to the assignee, the
 * company manager (level 1), the community supervisor (level 2), the street
 * office (level 3) and, when a resolve deadline is missed, the resident.
 *
 * Timer storage: an in-process min-heap of fire times per owned partition,
 * restored when the partition is assigned (ticketlog.h, statelog.h) — the log holds every clock (in the ticket snapshots)
 * and every SLA event already emitted (our own events come back to us), so a
 * rebuild after kill -9 neither misses nor repeats an event. No Redis: a flush
 * of Redis cannot lose a timer, and there is nothing to keep consistent with
 * the log. Event ids are deterministic (ticket, clock, kind, level, deadline),
 * so even a race that emits twice yields one event downstream.
 *
 * Ownership with several instances: one model per assigned partition of
 * tickets.v1; it fires in stream time (a catching-up instance reads the stop
 * events before a deadline passes for it).
 */
#ifndef SLA_H
#define SLA_H

#include "directory.h"
#include "ladder.h"
#include "rules.h"
#include "service.h"
#include "ticketlog.h"

typedef struct sla sla;

/* rules: the tiers' working calendars (NULL = every clock on wall time); kept, not copied.
 * One partition's model: what it emits goes to that partition; clock is its stream time. */
sla *sla_new(const sla_ladders *ladders, const sq_rules *rules, sq_directory *dir, const sq_emitter *em,
             const char *tickets_topic, int32_t partition, const sq_streamclock *clock);
void sla_free(sla *s);
void sla_apply_log(void *s, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);
int sla_handle(void *s, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
void sla_tick(void *s);
size_t sla_clock_count(const sla *s);

#endif
