/*
 * compactor.h — keeps tickets.changelog.v1: a copy of every event of tickets.v1 whose ticket is still
 * live, so that triage, workflow, sla and the gateway restore a partition in time proportional to its
 * live tickets instead of its history (statelog.h has the changelog's layout and the restore).
 *
 * One model per owned partition of tickets.v1 (ticketlog.h). For each event it copies the bytes to
 * changelog[p] under "e/<offset>" and notes the offset under its ticket. In stream time of the
 * partition, a ticket that is final (closed, cancelled, merged) for final_keep has the copies of its
 * events tombstoned except the last snapshot; that residue goes once the ticket was created or last
 * changed more than history_keep ago. A ticket whose events carried no snapshot at all (events of a
 * ticket that already left) goes after final_keep. About once a second, "@position" records how far
 * the copies go. The windows must cover what the services look back over: final_keep the alarm
 * reopen window (24 h), the input de-duplication window (1 h) and workflow's memory of finished
 * tickets (1 day); history_keep the repeat window (30 days).
 */
#ifndef COMPACTOR_H
#define COMPACTOR_H

#include "service.h"
#include "ticketlog.h"

typedef struct compactor compactor;

typedef struct compactor_options {
    sq_producer *producer;
    const char *changelog_topic;
    int64_t final_keep_us, history_keep_us;
} compactor_options;

compactor *compactor_new(const compactor_options *o, int32_t partition, const sq_streamclock *clock);
void compactor_free(compactor *c);
/* Restore: one event already copied (notes it, copies nothing). */
void compactor_apply_log(void *c, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);
/* A tickets.v1 message after the position: copied and noted. */
int compactor_handle(void *c, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
/* Tombstones what left every window (a slice of the tickets per call) and writes the position. */
void compactor_tick(void *c);
size_t compactor_ticket_count(const compactor *c);

#endif
