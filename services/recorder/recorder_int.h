/*
 * recorder_int.h — what the recorder's two halves share: the tables a batch fills, the lanes, and the
 * bookkeeping of ticket rows. recorder.c decodes messages into a lane's COPY rows; writer.c writes the
 * lanes (recorder.h has the contract).
 */
#ifndef RECORDER_INT_H
#define RECORDER_INT_H

#include "copybuf.h"
#include "map.h"
#include "recorder.h"

#include <pthread.h>

#define BUF_MAX (256u << 20)
#define MAX_LANES 16 /* pg.connections' bound */

/* In the order they are written. T_NEW_TICKETS: tickets whose creation is in the batch (inserted), T_TICKETS:
 * the others (upserted); counters after both. Ticket rows go last: their trigger locks the KPI rollup rows
 * that the other lanes' transactions update too, and holds them until the commit. */
enum { T_EVENTS, T_REPORTS, T_ALARMS, T_DEADLETTERS, T_NEW_TICKETS, T_TICKETS, T_COUNTERS, T_COUNT };

/* Where one ticket row sits in a lane's buffer: a later snapshot of the same ticket makes it dead. */
typedef struct ticket_row_at {
    size_t start;
    int32_t partition;
    int64_t offset;
    bool dead;
    bool born; /* the ticket's creation is in this batch: the row is new unless this is a redelivery */
} ticket_row_at;

/* The rows of one batch for one lane, and the bookkeeping of its ticket rows. */
typedef struct lanebuf {
    copybuf buf[T_COUNT];
    ticket_row_at *rows_at; /* one per row of buf[T_TICKETS] */
    size_t nrows_at, caprows_at;
    sq_map *newest; /* ticket id → index + 1 in rows_at of its newest snapshot in this batch */
} lanebuf;

/*
 * One connection and the rows it writes: a ticket's rows go to the lane its id hashes to (inputs by
 * their ids), so no two lanes touch one ticket row; the lanes of a batch write and commit
 * concurrently, and the batch is durable when every lane has committed. Each lane has two buffers:
 * messages are decoded into `fill` while `out`, the batch before, is being written.
 */
typedef struct lane {
    const recorder *r;
    sq_pg *pg;
    lanebuf side[2];
    lanebuf *fill, *out;
    int backend_pid; /* the connection the staging tables were made on */
    pthread_t thread;
    bool writing; /* thread runs (or ran and is not yet joined) */
    /* the outcome of the last flush */
    int rc, staged;
    size_t rows;
    int64_t took[T_COUNT], begin_us, commit_us;
    char err[512];
} lane;

struct recorder {
    recorder_topics topics;
    char copy_staged[T_COUNT][512], copy_direct[T_COUNT][512];
    lane *lanes;
    int nlanes;
    enum { IDLE, WRITING, WRITTEN } state; /* of the batch in the lanes' out buffers */
    int written_rc;  /* when WRITTEN */
    int64_t flush_started_us;
    sq_metric *m_rows, *m_events, *m_tx, *m_staged;
};

/* The lane of a key: every row of one ticket (and every copy of one input) goes to the same lane. */
lane *recorder_lane_for(recorder *r, const char *key);
/* Notes the ticket row just written from start into the T_TICKETS buffer. */
void lane_note_ticket_row(lanebuf *lb, const char *ticket_id, size_t start, int32_t partition, int64_t offset,
                          bool created);

#endif
