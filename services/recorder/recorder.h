/*
 * recorder.h — writes tickets.v1, the input topics and the dead letters into
 * PostgreSQL (DESIGN.md §5).
 *
 * handle() decodes one message into COPY rows in memory, in the lane its ticket
 * (or input) id hashes to; flush_start() hands the batch to one writer thread per lane, each
 * writing over its own connection in one transaction, and the next batch is decoded meanwhile;
 * flush_done() collects the outcome (the sq_handler contract in kafka.h). Rows written only once per key (events,
 * inputs, dead letters) are copied straight into their tables; a batch that
 * meets a key already there goes through a temporary staging table and
 * INSERT … ON CONFLICT DO NOTHING instead. Ticket rows (only the newest
 * snapshot of each ticket in the batch) and counters always go through
 * staging and an upsert. The consumer loop stores offsets only after every
 * lane committed, so a crash replays at most the uncommitted batch, and
 * replaying changes nothing: ticket_events are keyed by event_id, a ticket row
 * is only replaced by a snapshot from a later tickets.v1 offset, counters only
 * grow.
 */
#ifndef RECORDER_H
#define RECORDER_H

#include "pg.h"
#include "service.h"

typedef struct recorder recorder;

typedef struct recorder_topics {
    const char *tickets, *reports, *alarms, *deadletter;
} recorder_topics;

/* connections: how many lanes (PostgreSQL connections) a batch is written over. */
recorder *recorder_new(const char *dsn, int connections, const recorder_topics *topics);
void recorder_free(recorder *r);
int recorder_handle(void *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
int recorder_flush_start(void *r);
int recorder_flush_done(void *r, int wait_ms);
void recorder_discard(void *r);

#endif
