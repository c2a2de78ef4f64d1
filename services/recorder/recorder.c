/*
 * recorder.c — decoding into COPY rows, and the transaction that applies them.
 */
#include "recorder.h"
#include "copybuf.h"
#include "deadletter.h"
#include "map.h"
#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"
#include "ticket.h"
#include "ticketlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_MAX (256u << 20)
#define MAX_LANES 16 /* pg.connections' bound */

/* In the order they are written. T_NEW_TICKETS: tickets whose creation is in the batch (inserted), T_TICKETS:
 * the others (upserted); counters after both. Ticket rows go last: their trigger locks the KPI rollup rows
 * that the other lanes' transactions update too, and holds them until the commit. */
enum { T_EVENTS, T_REPORTS, T_ALARMS, T_DEADLETTERS, T_NEW_TICKETS, T_TICKETS, T_COUNTERS, T_COUNT };

static const char *staging_ddl =
    "CREATE TEMP TABLE IF NOT EXISTS s_events (event_id text, ticket_id text, type text, occurred_at timestamptz,"
    " actor_id text, detail jsonb, log_partition int, log_offset bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS s_tickets (ticket_id text, community_id text, company_id text, source text,"
    " category text, tier text, status text, assignee_id text, unassigned_fallback bool, reporter_count int,"
    " occurrence_count int, repeat bool, escalation_level int, reopen_count int, rating text, building text,"
    " unit text, summary text, device_id text, merged_into text, created_at timestamptz, created_day date,"
    " respond_due timestamptz,"
    " responded_at timestamptz, report_due timestamptz, reported_at timestamptz, plan_due timestamptz,"
    " planned_at timestamptz, resolve_due timestamptz, resolved_at timestamptz, paused_seconds bigint,"
    " closed_at timestamptz, updated_at timestamptz, log_partition int, log_offset bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS s_counters (ticket_id text, reporter_count int, occurrence_count int,"
    " escalation_level int, at timestamptz) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS s_reports (LIKE shequ.reports INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS s_alarms (LIKE shequ.alarms INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS s_deadletters (LIKE shequ.deadletters INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;";

/* The columns each COPY carries; the staging tables and, for the tables written only once per key, the
 * shequ tables themselves take them in this order. */
#define TICKET_COLS                                                                                            \
    "ticket_id, community_id, company_id, source, category, tier, status, assignee_id, unassigned_fallback,"    \
    " reporter_count, occurrence_count, repeat, escalation_level, reopen_count, rating, building, unit, summary," \
    " device_id, merged_into, created_at, created_day, respond_due, responded_at, report_due, reported_at,"       \
    " plan_due, planned_at, resolve_due, resolved_at, paused_seconds, closed_at, updated_at, log_partition,"      \
    " log_offset"
static const char *copy_cols[T_COUNT] = {
    [T_EVENTS] = "event_id, ticket_id, type, occurred_at, actor_id, detail, log_partition, log_offset",
    [T_NEW_TICKETS] = TICKET_COLS,
    [T_TICKETS] = TICKET_COLS,
    [T_REPORTS] = "report_id, event_id, community_id, reporter_id, category, description, building, unit, address, lat, lon,"
    " photos, phone_given, channel, client_id, accepted_at",
    [T_ALARMS] = "event_id, alarm_id, device_id, community_id, type, state, level, building, unit, device_time,"
    " snapshot_url, accepted_at",
    [T_DEADLETTERS] = "dl_partition, dl_offset, reason, detail, source_topic, source_partition, source_offset, service, msg_key,"
    " payload, dead_at",
};
static const char *staging_name[T_COUNT] = {
    [T_EVENTS] = "s_events", [T_REPORTS] = "s_reports", [T_ALARMS] = "s_alarms", [T_DEADLETTERS] = "s_deadletters",
    [T_NEW_TICKETS] = "s_tickets", [T_TICKETS] = "s_tickets", [T_COUNTERS] = "s_counters",
};
/* Rows that are new unless this is a redelivery (events, inputs and dead letters keyed once; tickets created
 * in this batch): first copied straight into their table, and only when that meets a key already there
 * through staging and the statement below. */
static const char *direct_name[T_COUNT] = {
    [T_EVENTS] = "shequ.ticket_events", [T_REPORTS] = "shequ.reports", [T_ALARMS] = "shequ.alarms",
    [T_DEADLETTERS] = "shequ.deadletters", [T_NEW_TICKETS] = "shequ.tickets",
};

#define TICKETS_UPSERT \
    "INSERT INTO shequ.tickets (" TICKET_COLS ")" \
    " SELECT DISTINCT ON (ticket_id) " TICKET_COLS " FROM s_tickets ORDER BY ticket_id, log_offset DESC" \
    " ON CONFLICT (ticket_id) DO UPDATE SET company_id = EXCLUDED.company_id, status = EXCLUDED.status," \
    " tier = EXCLUDED.tier, category = EXCLUDED.category," \
    " assignee_id = EXCLUDED.assignee_id, unassigned_fallback = EXCLUDED.unassigned_fallback," \
    " reporter_count = greatest(shequ.tickets.reporter_count, EXCLUDED.reporter_count)," \
    " occurrence_count = greatest(shequ.tickets.occurrence_count, EXCLUDED.occurrence_count)," \
    " repeat = EXCLUDED.repeat, escalation_level = greatest(shequ.tickets.escalation_level, EXCLUDED.escalation_level)," \
    " reopen_count = greatest(shequ.tickets.reopen_count, EXCLUDED.reopen_count), rating = EXCLUDED.rating," \
    " summary = EXCLUDED.summary, device_id = EXCLUDED.device_id, merged_into = EXCLUDED.merged_into," \
    " respond_due = EXCLUDED.respond_due, responded_at = EXCLUDED.responded_at, report_due = EXCLUDED.report_due," \
    " reported_at = EXCLUDED.reported_at, plan_due = EXCLUDED.plan_due, planned_at = EXCLUDED.planned_at," \
    " resolve_due = EXCLUDED.resolve_due, resolved_at = EXCLUDED.resolved_at," \
    " paused_seconds = EXCLUDED.paused_seconds, closed_at = EXCLUDED.closed_at," \
    " updated_at = greatest(shequ.tickets.updated_at, EXCLUDED.updated_at)," \
    " log_partition = EXCLUDED.log_partition, log_offset = EXCLUDED.log_offset" \
    " WHERE shequ.tickets.log_offset < EXCLUDED.log_offset"

static const char *apply_sql[T_COUNT] = {
    [T_EVENTS] = "INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, actor_id, detail, log_partition, log_offset)"
    " SELECT DISTINCT ON (event_id) event_id, ticket_id, type, occurred_at, actor_id, detail, log_partition, log_offset"
    " FROM s_events ORDER BY event_id, log_offset ON CONFLICT (event_id) DO NOTHING",

    [T_NEW_TICKETS] = TICKETS_UPSERT,

    [T_TICKETS] = TICKETS_UPSERT,

    [T_COUNTERS] = "UPDATE shequ.tickets t SET reporter_count = greatest(t.reporter_count, c.reporter_count),"
    " occurrence_count = greatest(t.occurrence_count, c.occurrence_count),"
    " escalation_level = greatest(t.escalation_level, c.escalation_level),"
    " updated_at = greatest(t.updated_at, c.at)"
    " FROM (SELECT ticket_id, max(reporter_count) AS reporter_count, max(occurrence_count) AS occurrence_count,"
    " max(escalation_level) AS escalation_level, max(at) AS at FROM s_counters GROUP BY ticket_id) c"
    " WHERE t.ticket_id = c.ticket_id",

    [T_REPORTS] = "INSERT INTO shequ.reports (report_id, event_id, community_id, reporter_id, category, description, building, unit,"
    " address, lat, lon, photos, phone_given, channel, client_id, accepted_at)"
    " SELECT DISTINCT ON (report_id) report_id, event_id, community_id, reporter_id, category, description, building,"
    " unit, address, lat, lon, photos, phone_given, channel, client_id, accepted_at FROM s_reports"
    " ON CONFLICT (report_id) DO NOTHING",

    [T_ALARMS] = "INSERT INTO shequ.alarms (event_id, alarm_id, device_id, community_id, type, state, level, building, unit,"
    " device_time, snapshot_url, accepted_at) SELECT DISTINCT ON (event_id) event_id, alarm_id, device_id,"
    " community_id, type, state, level, building, unit, device_time, snapshot_url, accepted_at FROM s_alarms"
    " ON CONFLICT (event_id) DO NOTHING",

    [T_DEADLETTERS] = "INSERT INTO shequ.deadletters (dl_partition, dl_offset, reason, detail, source_topic, source_partition,"
    " source_offset, service, msg_key, payload, dead_at) SELECT DISTINCT ON (dl_partition, dl_offset) dl_partition,"
    " dl_offset, reason, detail, source_topic, source_partition, source_offset, service, msg_key, payload, dead_at"
    " FROM s_deadletters ON CONFLICT (dl_partition, dl_offset) DO NOTHING",
};

/* Where one ticket row sits in a lane's buffer: a later snapshot of the same ticket makes it dead. */
typedef struct ticket_row_at {
    size_t start;
    int32_t partition;
    int64_t offset;
    bool dead;
    bool born; /* the ticket's creation is in this batch: the row is new unless this is a redelivery */
} ticket_row_at;

/*
 * One connection and the rows it writes: a ticket's rows go to the lane its id hashes to (inputs by
 * their ids), so no two lanes touch one ticket row; the lanes of a batch write and commit
 * concurrently, and the batch is durable when every lane has committed.
 */
typedef struct lane {
    const recorder *r;
    sq_pg *pg;
    copybuf buf[T_COUNT];
    ticket_row_at *rows_at; /* one per row of buf[T_TICKETS] */
    size_t nrows_at, caprows_at, dead_rows;
    sq_map *newest; /* ticket id → index + 1 in rows_at of its newest snapshot in this batch */
    int backend_pid; /* the connection the staging tables were made on */
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
    sq_metric *m_rows, *m_events, *m_tx, *m_staged;
};

recorder *recorder_new(const char *dsn, int connections, const recorder_topics *topics)
{
    recorder *r = calloc(1, sizeof *r);
    r->topics = *topics;
    for (int i = 0; i < T_COUNT; i++) {
        if (copy_cols[i])
            snprintf(r->copy_staged[i], sizeof r->copy_staged[i], "COPY %s (%s) FROM STDIN", staging_name[i], copy_cols[i]);
        else
            snprintf(r->copy_staged[i], sizeof r->copy_staged[i], "COPY %s FROM STDIN", staging_name[i]);
        if (direct_name[i])
            snprintf(r->copy_direct[i], sizeof r->copy_direct[i], "COPY %s (%s) FROM STDIN", direct_name[i], copy_cols[i]);
    }
    r->nlanes = connections < 1 ? 1 : connections > MAX_LANES ? MAX_LANES : connections;
    r->lanes = calloc((size_t)r->nlanes, sizeof *r->lanes);
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        ln->r = r;
        ln->pg = sq_pg_new(dsn, 5, 60000, "recorder");
        for (int i = 0; i < T_COUNT; i++)
            copybuf_init(&ln->buf[i], BUF_MAX);
        ln->newest = sq_map_new(8192);
    }
    r->m_rows = sq_metric_counter("shequ_recorder_rows_total", NULL, "rows written to PostgreSQL");
    r->m_events = sq_metric_counter("shequ_recorder_ticket_events_total", NULL,
                                    "ticket events in committed batches (a redelivered one counts again)");
    r->m_tx = sq_metric_histogram("shequ_recorder_commit_seconds", NULL, "time to write and commit one batch");
    r->m_staged = sq_metric_counter("shequ_recorder_staged_copies_total", NULL,
                                    "batches of a table that met rows already recorded and went through staging");
    return r;
}

void recorder_free(recorder *r)
{
    if (!r)
        return;
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        for (int i = 0; i < T_COUNT; i++)
            copybuf_free(&ln->buf[i]);
        sq_map_free(ln->newest);
        free(ln->rows_at);
        sq_pg_free(ln->pg);
    }
    free(r->lanes);
    free(r);
}

static int forget(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key, (void)value;
    return 1;
}

void recorder_discard(void *arg)
{
    recorder *r = arg;
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        for (int i = 0; i < T_COUNT; i++)
            copybuf_reset(&ln->buf[i]);
        sq_map_each(ln->newest, forget, NULL);
        ln->nrows_at = ln->dead_rows = 0;
    }
}

/* The lane of a key: every row of one ticket (and every copy of one input) goes to the same lane. */
static lane *lane_for(recorder *r, const char *key)
{
    return &r->lanes[sq_fnv1a(key, strlen(key)) % (uint64_t)r->nlanes];
}

/* Notes the ticket row just written from start; an older snapshot of the same ticket from the same
 * partition earlier in the batch will not be written (the upsert would replace it anyway). */
static void note_ticket_row(lane *ln, const char *ticket_id, size_t start, int32_t partition, int64_t offset,
                            bool created)
{
    if (ln->nrows_at == ln->caprows_at) {
        size_t cap = ln->caprows_at ? ln->caprows_at * 2 : 4096;
        ticket_row_at *n = realloc(ln->rows_at, cap * sizeof *n);
        if (!n) {
            ln->buf[T_TICKETS].overflow = true; /* the batch is dropped and read again */
            return;
        }
        ln->rows_at = n;
        ln->caprows_at = cap;
    }
    size_t idx = ln->nrows_at++;
    ln->rows_at[idx] = (ticket_row_at){ start, partition, offset, false, created };
    uintptr_t prev = (uintptr_t)sq_map_get(ln->newest, ticket_id);
    if (prev && ln->rows_at[prev - 1].partition == partition && ln->rows_at[prev - 1].offset < offset) {
        ln->rows_at[prev - 1].dead = true;
        ln->rows_at[idx].born |= ln->rows_at[prev - 1].born;
        ln->dead_rows++;
    }
    sq_map_put(ln->newest, ticket_id, (void *)(uintptr_t)(idx + 1));
}

/* Drops the dead ticket rows and moves those of tickets created in this batch to T_NEW_TICKETS, keeping the
 * others in order. */
static void sort_ticket_rows(lane *ln)
{
    copybuf *b = &ln->buf[T_TICKETS], *born = &ln->buf[T_NEW_TICKETS];
    if (ln->nrows_at != b->rows)
        return; /* an overflow left them apart: the batch is dropped anyway */
    size_t w = 0, kept = 0;
    for (size_t i = 0; i < ln->nrows_at; i++) {
        size_t start = ln->rows_at[i].start, end = i + 1 < ln->nrows_at ? ln->rows_at[i + 1].start : b->len;
        if (ln->rows_at[i].dead)
            continue;
        if (ln->rows_at[i].born) {
            copybuf_append_row(born, b->data + start, end - start);
            continue;
        }
        memmove(b->data + w, b->data + start, end - start);
        w += end - start;
        kept++;
    }
    b->len = w;
    b->rows = kept;
    ln->nrows_at = ln->dead_rows = 0;
}

/* --------------------------------------------------------------- decoding */

static const char *rating_name(int r)
{
    return r == 1 ? "satisfied" : r == 2 ? "basically_satisfied" : r == 3 ? "unsatisfied" : NULL;
}

static const char *status_name(int s)
{
    const char *n = sq_status_name((sq_status)s);
    return strcmp(n, "unknown") == 0 ? NULL : n;
}

/* JSON string literal of s into out (escaped). */
static void json_str(char *out, size_t n, const char *s)
{
    size_t o = 0;
    if (n < 3)
        return;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 8 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* The event's body as a small JSON object for ticket_events.detail. */
static void event_detail(const Shequ__V1__TicketEvent *e, char *out, size_t n)
{
    char a[600], b[600], ts[40];
    switch (e->body_case) {
    case SHEQU__V1__TICKET_EVENT__BODY_CREATED:
        json_str(a, sizeof a, e->created->tier);
        json_str(b, sizeof b, e->created->category);
        snprintf(out, n, "{\"tier\":%s,\"category\":%s,\"repeat\":%s,\"repeat_count\":%d}", a, b,
                 e->created->repeat ? "true" : "false", e->created->repeat_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_MERGED:
        json_str(a, sizeof a, e->merged->into_ticket_id[0] ? e->merged->into_ticket_id : e->merged->from_ticket_id);
        snprintf(out, n, "{\"%s\":%s,\"reporter_count\":%d}", e->merged->into_ticket_id[0] ? "into" : "from", a,
                 e->merged->reporter_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED:
        json_str(a, sizeof a, e->assigned->assignee_id);
        snprintf(out, n, "{\"assignee\":%s,\"fallback\":%s}", a, e->assigned->fallback ? "true" : "false");
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_TRANSFERRED:
        json_str(a, sizeof a, e->transferred->from_id);
        json_str(b, sizeof b, e->transferred->to_id);
        snprintf(out, n, "{\"from\":%s,\"to\":%s}", a, b);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_RESPONDED:
        json_str(a, sizeof a, e->responded->action);
        snprintf(out, n, "{\"action\":%s,\"location_flagged\":%s,\"distance_m\":%.1f}", a,
                 e->responded->location_flagged ? "true" : "false", e->responded->distance_m);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_PLANNED:
        json_str(a, sizeof a, sq_fmt_rfc3339(e->planned->deadline_us, ts, sizeof ts));
        snprintf(out, n, "{\"deadline\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_REOPENED:
        json_str(a, sizeof a, e->reopened->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_RATED:
        json_str(a, sizeof a, rating_name(e->rated->rating));
        snprintf(out, n, "{\"rating\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_CLOSED:
        json_str(a, sizeof a, e->closed->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_CANCELLED:
        json_str(a, sizeof a, e->cancelled->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING:
        json_str(a, sizeof a, e->sla_warning->clock);
        snprintf(out, n, "{\"clock\":%s,\"percent\":%d}", a, e->sla_warning->percent);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED:
        json_str(a, sizeof a, e->sla_breached->clock);
        snprintf(out, n, "{\"clock\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED:
        json_str(a, sizeof a, e->escalated->clock);
        json_str(b, sizeof b, e->escalated->recipient_id);
        snprintf(out, n, "{\"clock\":%s,\"level\":%d,\"recipient\":%s}", a, e->escalated->level, b);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE:
        json_str(a, sizeof a, e->occurrence->device_id);
        snprintf(out, n, "{\"device\":%s,\"occurrence_count\":%d}", a, e->occurrence->occurrence_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_REJECTED:
        json_str(a, sizeof a, e->rejected->action);
        json_str(b, sizeof b, e->rejected->reason);
        snprintf(out, n, "{\"action\":%s,\"reason\":%s}", a, b);
        break;
    default:
        snprintf(out, n, "{}");
    }
}

static const Shequ__V1__Clock *clock_named(const Shequ__V1__TicketState *s, const char *name)
{
    for (size_t i = 0; i < s->n_clocks; i++)
        if (strcmp(s->clocks[i]->name, name) == 0)
            return s->clocks[i];
    return NULL;
}

static void clock_cols(copybuf *b, const Shequ__V1__Clock *c)
{
    copybuf_time(b, c ? c->due_at_us : 0);
    copybuf_time(b, c ? c->stopped_at_us : 0);
}

static void ticket_row(copybuf *b, const Shequ__V1__TicketState *s, int32_t partition, int64_t offset)
{
    copybuf_text(b, s->ticket_id);
    copybuf_text(b, s->community_id);
    copybuf_text(b, *s->company_id ? s->company_id : NULL);
    copybuf_text(b, *s->source ? s->source : "report");
    copybuf_text(b, s->category);
    copybuf_text(b, s->tier);
    copybuf_text(b, status_name(s->status));
    copybuf_text(b, *s->assignee_id ? s->assignee_id : NULL);
    copybuf_bool(b, s->unassigned_fallback);
    copybuf_int(b, s->reporter_count);
    copybuf_int(b, s->occurrence_count);
    copybuf_bool(b, s->repeat);
    copybuf_int(b, s->escalation_level);
    copybuf_int(b, s->reopen_count);
    copybuf_text(b, rating_name(s->rating));
    copybuf_text(b, s->building);
    copybuf_text(b, s->unit);
    copybuf_text(b, s->summary);
    copybuf_text(b, *s->device_id ? s->device_id : NULL);
    copybuf_text(b, *s->merged_into ? s->merged_into : NULL);
    copybuf_time(b, s->created_at_us);
    copybuf_date(b, sq_shanghai_day(s->created_at_us));
    const Shequ__V1__Clock *respond = clock_named(s, "respond"), *plan = clock_named(s, "plan");
    clock_cols(b, respond ? respond : plan);
    clock_cols(b, clock_named(s, "report"));
    clock_cols(b, plan);
    const Shequ__V1__Clock *resolve = clock_named(s, "resolve");
    copybuf_time(b, resolve ? resolve->due_at_us : 0);
    copybuf_time(b, s->resolved_at_us);
    copybuf_int(b, resolve ? resolve->paused_total_us / SQ_US_PER_S : 0);
    copybuf_time(b, s->closed_at_us);
    copybuf_time(b, s->updated_at_us ? s->updated_at_us : s->created_at_us);
    copybuf_int(b, partition);
    copybuf_int(b, offset);
    copybuf_end_row(b);
}

static int on_ticket_event(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail,
                           size_t dlen)
{
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (!e)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a TicketEvent");
    int rc = SQ_OK;
    if (!e->header || !*e->header->event_id || !*e->ticket_id || e->body_case == SHEQU__V1__TICKET_EVENT__BODY__NOT_SET) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "event_id, ticket_id and body are required");
        goto out;
    }
    if (e->state && (!status_name(e->state->status) || !*e->state->community_id || !e->state->created_at_us)) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "invalid_state"), "snapshot lacks status, community or creation time");
        goto out;
    }
    char json[2048];
    event_detail(e, json, sizeof json);
    lane *ln = lane_for(r, e->ticket_id);
    copybuf *b = &ln->buf[T_EVENTS];
    copybuf_text(b, e->header->event_id);
    copybuf_text(b, e->ticket_id);
    copybuf_text(b, sq_ticket_event_type(e));
    copybuf_time(b, e->header->occurred_at_us ? e->header->occurred_at_us : sq_now_us());
    copybuf_text(b, *e->actor_id ? e->actor_id : NULL);
    copybuf_text(b, json);
    copybuf_int(b, m->partition);
    copybuf_int(b, m->offset);
    copybuf_end_row(b);
    if (e->state) {
        size_t start = ln->buf[T_TICKETS].len;
        ticket_row(&ln->buf[T_TICKETS], e->state, m->partition, m->offset);
        note_ticket_row(ln, e->ticket_id, start, m->partition, m->offset,
                        e->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED);
    } else {
        int reporters = 0, occurrences = 0, level = 0;
        if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_MERGED)
            reporters = e->merged->reporter_count;
        else if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE)
            occurrences = e->occurrence->occurrence_count;
        else if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_ESCALATED)
            level = e->escalated->level;
        if (reporters || occurrences || level) {
            copybuf *c = &ln->buf[T_COUNTERS];
            copybuf_text(c, e->ticket_id);
            copybuf_int(c, reporters);
            copybuf_int(c, occurrences);
            copybuf_int(c, level);
            copybuf_time(c, e->header->occurred_at_us ? e->header->occurred_at_us : sq_now_us());
            copybuf_end_row(c);
        }
    }
out:
    shequ__v1__ticket_event__free_unpacked(e, NULL);
    return rc;
}

static const char *channel_name(int c)
{
    static const char *n[] = { NULL, "miniprogram", "hotline", "grid_worker", "app", "open311" };
    return c >= 0 && c <= 5 ? n[c] : NULL;
}

static int on_report(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__ResidentReport *p = shequ__v1__resident_report__unpack(NULL, m->len, m->payload);
    if (!p)
        return SQ_OK; /* triage dead-letters undecodable reports; the dead letter is recorded from there */
    if (p->header && *p->header->event_id && *p->report_id && *p->header->community_id && *p->reporter_id &&
        *p->category) {
        copybuf *b = &lane_for(r, p->report_id)->buf[T_REPORTS];
        copybuf_text(b, p->report_id);
        copybuf_text(b, p->header->event_id);
        copybuf_text(b, p->header->community_id);
        copybuf_text(b, p->reporter_id);
        copybuf_text(b, p->category);
        copybuf_text(b, p->description);
        copybuf_text(b, p->building);
        copybuf_text(b, p->unit);
        copybuf_text(b, p->address);
        if (p->location) {
            copybuf_double(b, p->location->lat);
            copybuf_double(b, p->location->lon);
        } else {
            copybuf_null(b);
            copybuf_null(b);
        }
        char arr[4096];
        size_t o = (size_t)snprintf(arr, sizeof arr, "{");
        for (size_t i = 0; i < p->n_photos && o < sizeof arr - 600; i++) {
            char q[600];
            json_str(q, sizeof q, p->photos[i]); /* a quoted, escaped element is valid array syntax too */
            o += (size_t)snprintf(arr + o, sizeof arr - o, "%s%s", i ? "," : "", q);
        }
        snprintf(arr + o, sizeof arr - o, "}");
        copybuf_text(b, arr);
        copybuf_bool(b, p->phone_sealed.len > 0);
        copybuf_text(b, channel_name(p->channel));
        copybuf_text(b, p->client_id);
        copybuf_time(b, sq_message_time_us(m));
        copybuf_end_row(b);
    }
    shequ__v1__resident_report__free_unpacked(p, NULL);
    return SQ_OK;
}

static int on_alarm(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__DeviceAlarm *a = shequ__v1__device_alarm__unpack(NULL, m->len, m->payload);
    if (!a)
        return SQ_OK; /* triage dead-letters it */
    if (a->header && *a->header->event_id && *a->alarm_id && *a->device_id && *a->header->community_id && *a->type) {
        copybuf *b = &lane_for(r, a->header->event_id)->buf[T_ALARMS];
        copybuf_text(b, a->header->event_id);
        copybuf_text(b, a->alarm_id);
        copybuf_text(b, a->device_id);
        copybuf_text(b, a->header->community_id);
        copybuf_text(b, a->type);
        copybuf_text(b, a->state == SHEQU__V1__ALARM_STATE__ALARM_STATE_CLEARED ? "cleared" : "raised");
        copybuf_int(b, a->level);
        copybuf_text(b, a->building);
        copybuf_text(b, a->unit);
        copybuf_time(b, a->device_time_us);
        copybuf_text(b, *a->snapshot_url ? a->snapshot_url : NULL);
        copybuf_time(b, sq_message_time_us(m));
        copybuf_end_row(b);
    }
    shequ__v1__device_alarm__free_unpacked(a, NULL);
    return SQ_OK;
}

static void header_field(copybuf *b, rd_kafka_headers_t *h, const char *name)
{
    char v[SQ_DL_DETAIL_MAX + 1];
    copybuf_text(b, h && sq_header_get(h, name, v, sizeof v) == SQ_OK ? v : NULL);
}

static int on_deadletter(recorder *r, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    rd_kafka_message_headers(m, &h);
    char v[64];
    copybuf *b = &r->lanes[0].buf[T_DEADLETTERS];
    copybuf_int(b, m->partition);
    copybuf_int(b, m->offset);
    copybuf_text(b, h && sq_header_get(h, "error", v, sizeof v) == SQ_OK ? v : "unknown");
    header_field(b, h, "error_detail");
    header_field(b, h, "source_topic");
    long long sp = h && sq_header_get(h, "source_partition", v, sizeof v) == SQ_OK ? atoll(v) : -1;
    copybuf_int(b, sp);
    long long so = h && sq_header_get(h, "source_offset", v, sizeof v) == SQ_OK ? atoll(v) : -1;
    copybuf_int(b, so);
    header_field(b, h, "service");
    if (m->key)
        copybuf_bytea(b, m->key, m->key_len);
    else
        copybuf_null(b);
    copybuf_bytea(b, m->payload, m->len);
    copybuf_time(b, sq_message_time_us(m));
    copybuf_end_row(b);
    return SQ_OK;
}

int recorder_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    recorder *r = arg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (strcmp(topic, r->topics.tickets) == 0)
        return on_ticket_event(r, m, reason, rlen, detail, dlen);
    if (strcmp(topic, r->topics.reports) == 0)
        return on_report(r, m, reason, rlen, detail, dlen);
    if (strcmp(topic, r->topics.alarms) == 0)
        return on_alarm(r, m, reason, rlen, detail, dlen);
    return on_deadletter(r, m);
}

/* ----------------------------------------------------------------- writing */

/* COPY the buffer in; a unique violation sets *duplicate. */
static int copy_in(PGconn *conn, const char *sql, const copybuf *b, bool *duplicate, char *err, size_t errlen)
{
    *duplicate = false;
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        sq_fail(err, errlen, SQ_RETRY, "%s", PQerrorMessage(conn));
        PQclear(res);
        return SQ_RETRY;
    }
    PQclear(res);
    int rc = PQputCopyData(conn, b->data, (int)b->len) == 1 && PQputCopyEnd(conn, NULL) == 1 ? SQ_OK : SQ_RETRY;
    while ((res = PQgetResult(conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            *duplicate = state && strcmp(state, "23505") == 0;
            rc = sq_pg_classify(res, conn);
            sq_fail(err, errlen, rc, "%s", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    return rc;
}

/* Writes one lane's rows in one transaction; the outcome is left in the lane. */
static void *lane_flush(void *arg)
{
    lane *ln = arg;
    const recorder *r = ln->r;
    char *err = ln->err;
    size_t errlen = sizeof ln->err;
    int64_t t0 = sq_mono_us();
    ln->staged = 0;
    memset(ln->took, 0, sizeof ln->took);
    int rc = sq_pg_connect(ln->pg, err, errlen);
    if (rc != SQ_OK)
        goto out;
    PGconn *conn = sq_pg_conn(ln->pg);
    if (PQbackendPID(conn) != ln->backend_pid) {
        if ((rc = sq_pg_exec(ln->pg, "SET client_min_messages = warning", 0, NULL, NULL, err, errlen)) != SQ_OK)
            goto fail;
        ln->backend_pid = PQbackendPID(conn);
    }
    if ((rc = sq_pg_begin(ln->pg, err, errlen)) != SQ_OK)
        goto fail;
    PGresult *res = PQexec(conn, staging_ddl);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = sq_pg_classify(res, conn);
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
    }
    PQclear(res);
    if (rc != SQ_OK)
        goto fail;
    ln->begin_us = sq_mono_us() - t0;
    bool new_staged = false;
    for (int i = 0; i < T_COUNT; i++) {
        if (!ln->buf[i].rows)
            continue;
        int64_t a = sq_mono_us();
        bool dup = false;
        if (direct_name[i]) {
            if ((rc = sq_pg_exec(ln->pg, "SAVEPOINT direct", 0, NULL, NULL, err, errlen)) != SQ_OK)
                goto fail;
            rc = copy_in(conn, r->copy_direct[i], &ln->buf[i], &dup, err, errlen);
            if (rc == SQ_OK) {
                ln->took[i] = sq_mono_us() - a;
                continue;
            }
            if (!dup || (rc = sq_pg_exec(ln->pg, "ROLLBACK TO SAVEPOINT direct", 0, NULL, NULL, err, errlen)) != SQ_OK)
                goto fail;
            ln->staged++;
        }
        if (i == T_TICKETS && new_staged &&
            (rc = sq_pg_exec(ln->pg, "DELETE FROM s_tickets", 0, NULL, NULL, err, errlen)) != SQ_OK)
            goto fail; /* the new tickets were staged there a moment ago */
        new_staged |= i == T_NEW_TICKETS;
        if ((rc = copy_in(conn, r->copy_staged[i], &ln->buf[i], &dup, err, errlen)) != SQ_OK)
            goto fail;
        if ((rc = sq_pg_exec(ln->pg, apply_sql[i], 0, NULL, NULL, err, errlen)) != SQ_OK)
            goto fail;
        ln->took[i] = sq_mono_us() - a;
    }
    int64_t t2 = sq_mono_us();
    if ((rc = sq_pg_commit(ln->pg, err, errlen)) != SQ_OK)
        goto fail;
    ln->commit_us = sq_mono_us() - t2;
    goto out;
fail:
    sq_pg_rollback(ln->pg);
out:
    ln->rc = rc;
    return NULL;
}

int recorder_flush(void *arg)
{
    recorder *r = arg;
    size_t rows = 0;
    lane *busy[MAX_LANES];
    int nbusy = 0;
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        sort_ticket_rows(ln);
        ln->rows = 0;
        for (int i = 0; i < T_COUNT; i++) {
            ln->rows += ln->buf[i].rows;
            if (ln->buf[i].overflow) {
                log_error("recorder.batch_too_large", "table=%d", i);
                recorder_discard(r);
                return SQ_RETRY;
            }
        }
        rows += ln->rows;
        if (ln->rows)
            busy[nbusy++] = ln;
    }
    if (rows == 0)
        return SQ_OK;
    int64_t t0 = sq_mono_us();
    /* every lane but the first in a thread of its own; the first in this one */
    pthread_t th[MAX_LANES];
    bool started[MAX_LANES];
    for (int k = 1; k < nbusy; k++)
        started[k] = pthread_create(&th[k], NULL, lane_flush, busy[k]) == 0;
    lane_flush(busy[0]);
    for (int k = 1; k < nbusy; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            lane_flush(busy[k]);
    }
    int rc = SQ_OK;
    for (int k = 0; k < nbusy; k++) {
        lane *ln = busy[k];
        if (ln->rc != SQ_OK) {
            log_warn("recorder.flush_failed", "lane=%td rows=%zu error=\"%s\"", ln - r->lanes, ln->rows, ln->err);
            rc = SQ_RETRY;
            continue;
        }
        sq_metric_add(r->m_staged, (uint64_t)ln->staged);
        log_debug("recorder.flushed", "lane=%td rows=%zu new_tickets=%zu tickets=%zu staged=%d begin_ms=%.1f"
                  " events_ms=%.1f new_tickets_ms=%.1f tickets_ms=%.1f counters_ms=%.1f inputs_ms=%.1f commit_ms=%.1f",
                  ln - r->lanes, ln->rows, ln->buf[T_NEW_TICKETS].rows, ln->buf[T_TICKETS].rows, ln->staged,
                  ln->begin_us / 1e3, ln->took[T_EVENTS] / 1e3, ln->took[T_NEW_TICKETS] / 1e3,
                  ln->took[T_TICKETS] / 1e3, ln->took[T_COUNTERS] / 1e3,
                  (ln->took[T_REPORTS] + ln->took[T_ALARMS] + ln->took[T_DEADLETTERS]) / 1e3, ln->commit_us / 1e3);
    }
    /* a lane that committed while another failed is written again with the batch: every write is idempotent */
    if (rc != SQ_OK)
        return SQ_RETRY;
    sq_metric_add(r->m_rows, rows);
    for (int l = 0; l < r->nlanes; l++)
        sq_metric_add(r->m_events, r->lanes[l].buf[T_EVENTS].rows);
    sq_metric_observe(r->m_tx, (double)(sq_mono_us() - t0) / 1e6);
    recorder_discard(r);
    return SQ_OK;
}
