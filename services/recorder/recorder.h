/*
 * recorder.h — writes tickets.v1, the input topics and the dead letters into
 * PostgreSQL (DESIGN.md §5).
 *
 * handle() decodes one message into COPY rows in memory; flush() writes the
 * whole batch in one transaction (COPY into temporary staging tables, then
 * idempotent INSERT … ON CONFLICT / UPDATE into the shequ tables). The
 * consumer loop stores offsets only after flush() committed, so a crash
 * replays at most the uncommitted batch, and replaying changes nothing:
 * ticket_events are keyed by event_id, a ticket row is only replaced by a
 * snapshot from a later tickets.v1 offset, counters only grow.
 */
#ifndef RECORDER_H
#define RECORDER_H

#include "pg.h"
#include "service.h"

typedef struct recorder recorder;

typedef struct recorder_topics {
    const char *tickets, *reports, *alarms, *deadletter;
} recorder_topics;

recorder *recorder_new(sq_pg *pg, const recorder_topics *topics);
void recorder_free(recorder *r);
int recorder_handle(void *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen);
int recorder_flush(void *r);
void recorder_discard(void *r);

#endif
