/*
 * compactor.c — the copies, the windows and the tombstones of compactor.h.
 */
#include "compactor.h"
#include "map.h"
#include "statelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tracked {
    int64_t *offsets;     /* copies kept in the changelog, in order */
    int n, cap;
    int64_t last_state;   /* offset of the newest event with a snapshot (-1: none) */
    int status;           /* the snapshot's (shequ.v1.TicketStatus) */
    int64_t created_us, updated_us, last_event_us;
    bool residue;         /* only the last snapshot is kept */
} tracked;

struct compactor {
    compactor_options o;
    int32_t partition;
    const sq_streamclock *clock;
    sq_map *tickets;      /* ticket_id → tracked */
    int64_t position;     /* every event before this offset is copied (-1: nothing handled yet) */
    int64_t written;      /* the position last written to the changelog */
    size_t sweep_cursor;
    int failed;           /* produce calls refused since the last tick */
    sq_metric *m_copies, *m_tombstones, *m_live;
};

compactor *compactor_new(const compactor_options *o, int32_t partition, const sq_streamclock *clock)
{
    compactor *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *o;
    c->partition = partition;
    c->clock = clock;
    c->tickets = sq_map_new(1024);
    c->position = c->written = -1;
    c->m_copies = sq_metric_counter("shequ_changelog_copies_total", NULL, "ticket events copied to the changelog");
    c->m_tombstones = sq_metric_counter("shequ_changelog_tombstones_total", NULL, "copies deleted from the changelog");
    c->m_live = sq_metric_gauge("shequ_changelog_tickets", NULL, "tickets with copies in the changelog (all partitions owned)");
    return c;
}

static void tracked_free(void *v)
{
    tracked *t = v;
    free(t->offsets);
    free(t);
}

void compactor_free(compactor *c)
{
    if (!c)
        return;
    sq_metric_add(c->m_live, -(double)sq_map_len(c->tickets));
    sq_map_clear(c->tickets, tracked_free);
    sq_map_free(c->tickets);
    free(c);
}

size_t compactor_ticket_count(const compactor *c) { return sq_map_len(c->tickets); }

static void note(compactor *c, const Shequ__V1__TicketEvent *e, int64_t offset)
{
    if (!e->ticket_id || !*e->ticket_id)
        return;
    tracked *t = sq_map_get(c->tickets, e->ticket_id);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return;
        t->last_state = -1;
        sq_map_put(c->tickets, e->ticket_id, t);
        sq_metric_add(c->m_live, 1);
    }
    if (t->n && t->offsets[t->n - 1] >= offset)
        return; /* seen (restore, then the same event again) */
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        int64_t *o = realloc(t->offsets, (size_t)cap * sizeof *o);
        if (!o)
            return;
        t->offsets = o;
        t->cap = cap;
    }
    t->offsets[t->n++] = offset;
    t->residue = false; /* a finished ticket that changes again (a late rating) is live again */
    if (e->header && e->header->occurred_at_us > t->last_event_us)
        t->last_event_us = e->header->occurred_at_us;
    if (e->state) {
        t->last_state = offset;
        t->status = e->state->status;
        t->created_us = e->state->created_at_us;
        t->updated_us = e->state->updated_at_us;
    }
}

void compactor_apply_log(void *arg, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset)
{
    note(arg, e, offset);
}

/*
 * ts_ms > 0: a copy, which keeps the original's timestamp in the header "sq-ts" (a restore starts its stream
 * clock from it). The copy itself is stamped now: the broker rolls a segment by its messages' timestamps, and
 * a month of history written with past times would roll the compacted topic's 10-minute segments at
 * nearly every message.
 */
static int changelog_send(compactor *c, const char *key, const void *val, size_t len, int64_t ts_ms)
{
    rd_kafka_headers_t *h = NULL;
    if (ts_ms > 0) {
        char v[24];
        int n = snprintf(v, sizeof v, "%lld", (long long)ts_ms);
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, SQ_CHANGELOG_TS_HEADER, -1, v, n);
    }
    int rc = sq_producer_send_to(c->o.producer, c->o.changelog_topic, c->partition, 0, key, strlen(key), val, len, h,
                                 NULL, NULL);
    if (rc != SQ_OK)
        c->failed++;
    return rc;
}

static int copy_key(char *out, size_t n, int64_t offset) { return snprintf(out, n, "e/%lld", (long long)offset); }

int compactor_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    compactor *c = arg;
    Shequ__V1__TicketEvent *e = m->payload ? shequ__v1__ticket_event__unpack(NULL, m->len, m->payload) : NULL;
    int rc = SQ_OK;
    if (e && e->ticket_id && *e->ticket_id) { /* an undecodable event is the recorder's to report */
        char key[32];
        copy_key(key, sizeof key, m->offset);
        rc = changelog_send(c, key, m->payload, m->len, rd_kafka_message_timestamp(m, NULL));
        if (rc == SQ_OK) {
            note(c, e, m->offset);
            sq_metric_add(c->m_copies, 1);
        }
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    if (rc != SQ_OK)
        return sq_fail(detail, dlen, rc, "changelog copy refused");
    c->position = m->offset + 1;
    return SQ_OK;
}

static bool final_status(int s)
{
    return s == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED || s == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CANCELLED ||
           s == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_MERGED;
}

/* Tombstones the copies of t except `keep` (-1: all of them). */
static void tombstone(compactor *c, tracked *t, int64_t keep)
{
    char key[32];
    int kept = 0;
    for (int i = 0; i < t->n; i++) {
        if (t->offsets[i] == keep) {
            t->offsets[kept++] = keep;
            continue;
        }
        copy_key(key, sizeof key, t->offsets[i]);
        if (changelog_send(c, key, NULL, 0, 0) == SQ_OK)
            sq_metric_add(c->m_tombstones, 1);
    }
    t->n = kept;
}

static int expire(void *ctx, const char *key, void *value)
{
    compactor *c = ctx;
    tracked *t = value;
    int64_t now = sq_stream_now_us(c->clock);
    if (t->last_state < 0) { /* events of a ticket whose snapshots are gone already */
        if (now - t->last_event_us < c->o.final_keep_us)
            return 0;
        tombstone(c, t, -1);
    } else if (!t->residue) {
        if (!final_status(t->status) || now - t->updated_us < c->o.final_keep_us)
            return 0;
        tombstone(c, t, t->last_state);
        t->residue = true;
        return 0;
    } else {
        int64_t newest = t->updated_us > t->created_us ? t->updated_us : t->created_us;
        if (now - newest < c->o.history_keep_us)
            return 0;
        tombstone(c, t, -1);
    }
    tracked_free(t);
    sq_metric_add(c->m_live, -1);
    return 1;
}

void compactor_tick(void *arg)
{
    compactor *c = arg;
    /* a hundredth of the tickets per tick (every 100 ms): all of them about every 10 s */
    sq_map_sweep(c->tickets, &c->sweep_cursor, 100, expire, c);
    if (c->position > c->written && !c->failed) {
        char v[32];
        int n = snprintf(v, sizeof v, "%lld", (long long)c->position);
        if (changelog_send(c, SQ_CHANGELOG_POSITION_KEY, v, (size_t)n, 0) == SQ_OK)
            c->written = c->position;
    }
    c->failed = 0;
}
