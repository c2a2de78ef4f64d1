/*
 * triage.h — turns resident reports and device alarms into tickets:
 * classification, deadlines, merging, repeat detection, assignment.
 *
 * State is in memory, one model per owned partition, restored when the
 * partition is assigned (ticketlog.h, statelog.h) and kept current by
 * consuming tickets.v1 alongside the inputs. Every input event id that already produced a ticket event is
 * remembered (from the log's cause_event_id), so a redelivered input after a
 * crash produces nothing new.
 */
#ifndef TRIAGE_H
#define TRIAGE_H

#include "directory.h"
#include "rules.h"
#include "service.h"
#include "ticketlog.h"

typedef struct triage triage;

typedef struct triage_topics {
    const char *reports, *alarms, *tickets, *notify;
} triage_topics;

/* One partition's model: what it emits goes to that partition; clock is its stream time. */
triage *triage_new(const sq_rules *rules, sq_directory *dir, const sq_emitter *em, const triage_topics *topics,
                   int32_t partition, const sq_streamclock *clock);
void triage_free(triage *t);
void triage_set_rules(triage *t, const sq_rules *rules);
/* Re-reads the rules file on SIGHUP (from tick): a bad file is refused with file:line and the old rules kept. */
void triage_watch_rules(triage *t, const char *path, sq_rules **owned);
/* Takes the rules in force again (another partition's model may have reloaded them). */
void triage_sync_rules(triage *t);
/* Restore callback: one event of the partition's log. */
void triage_apply_log(void *t, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);
/* Consumer-loop handler for reports, alarms and tickets.v1. */
int triage_handle(void *t, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
void triage_tick(void *t);
size_t triage_ticket_count(const triage *t);
/* How long answered input ids are remembered after the newest answer (default 1 h). */
void triage_set_dedupe_window(triage *t, int64_t window_us);

#endif
