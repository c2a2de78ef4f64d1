/*
 * writer.c — the SQL, the lanes' transactions, and the flush that makes a batch durable.
 */
#include "recorder_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    " snapshot_url, accepted_at, dropped_fields",
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
    " device_time, snapshot_url, accepted_at, dropped_fields) SELECT DISTINCT ON (event_id) event_id, alarm_id, device_id,"
    " community_id, type, state, level, building, unit, device_time, snapshot_url, accepted_at, dropped_fields FROM s_alarms"
    " ON CONFLICT (event_id) DO NOTHING",

    [T_DEADLETTERS] = "INSERT INTO shequ.deadletters (dl_partition, dl_offset, reason, detail, source_topic, source_partition,"
    " source_offset, service, msg_key, payload, dead_at) SELECT DISTINCT ON (dl_partition, dl_offset) dl_partition,"
    " dl_offset, reason, detail, source_topic, source_partition, source_offset, service, msg_key, payload, dead_at"
    " FROM s_deadletters ON CONFLICT (dl_partition, dl_offset) DO NOTHING",
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
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < T_COUNT; i++)
                copybuf_init(&ln->side[k].buf[i], BUF_MAX);
            ln->side[k].newest = sq_map_new(8192);
        }
        ln->fill = &ln->side[0];
        ln->out = &ln->side[1];
    }
    r->m_rows = sq_metric_counter("shequ_recorder_rows_total", NULL, "rows written to PostgreSQL");
    r->m_events = sq_metric_counter("shequ_recorder_ticket_events_total", NULL,
                                    "ticket events in committed batches (a redelivered one counts again)");
    r->m_tx = sq_metric_histogram("shequ_recorder_commit_seconds", NULL, "time to write and commit one batch");
    r->m_staged = sq_metric_counter("shequ_recorder_staged_copies_total", NULL,
                                    "batches of a table that met rows already recorded and went through staging");
    return r;
}

static void join_writers(recorder *r);

void recorder_free(recorder *r)
{
    if (!r)
        return;
    join_writers(r);
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < T_COUNT; i++)
                copybuf_free(&ln->side[k].buf[i]);
            sq_map_free(ln->side[k].newest);
            free(ln->side[k].rows_at);
        }
        sq_pg_free(ln->pg);
    }
    free(r->lanes);
    free(r);
}

static void lanebuf_reset(lanebuf *lb)
{
    for (int i = 0; i < T_COUNT; i++)
        copybuf_reset(&lb->buf[i]);
    sq_map_clear(lb->newest, NULL);
    lb->nrows_at = 0;
}

/* Waits for the lanes' writers of a flush still running (their outcome is left in the lanes). */
static void join_writers(recorder *r)
{
    for (int l = 0; l < r->nlanes; l++)
        if (r->lanes[l].writing) {
            pthread_join(r->lanes[l].thread, NULL);
            r->lanes[l].writing = false;
        }
    if (r->state == WRITING)
        r->state = WRITTEN;
}

void recorder_discard(void *arg)
{
    recorder *r = arg;
    join_writers(r);
    for (int l = 0; l < r->nlanes; l++) {
        lanebuf_reset(&r->lanes[l].side[0]);
        lanebuf_reset(&r->lanes[l].side[1]);
    }
    r->state = IDLE;
}

/* Drops the dead ticket rows and moves those of tickets created in this batch to T_NEW_TICKETS, keeping the
 * others in order. */
static void sort_ticket_rows(lanebuf *ln)
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
        if (w != start) /* rows before it were dropped or moved */
            memmove(b->data + w, b->data + start, end - start);
        w += end - start;
        kept++;
    }
    b->len = w;
    b->rows = kept;
    ln->nrows_at = 0;
}

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
        if (!ln->out->buf[i].rows)
            continue;
        int64_t a = sq_mono_us();
        bool dup = false;
        if (direct_name[i]) {
            if ((rc = sq_pg_exec(ln->pg, "SAVEPOINT direct", 0, NULL, NULL, err, errlen)) != SQ_OK)
                goto fail;
            rc = copy_in(conn, r->copy_direct[i], &ln->out->buf[i], &dup, err, errlen);
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
        if ((rc = copy_in(conn, r->copy_staged[i], &ln->out->buf[i], &dup, err, errlen)) != SQ_OK)
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

int recorder_flush_start(void *arg)
{
    recorder *r = arg;
    if (r->state == WRITING) { /* the loop waits for the end of a flush before starting the next */
        log_error("recorder.flush_overlap", "a flush started while the last was not collected");
        return SQ_RETRY;
    }
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        lanebuf *t = ln->out;
        ln->out = ln->fill;
        ln->fill = t;
        sort_ticket_rows(ln->out);
        ln->rows = 0;
        for (int i = 0; i < T_COUNT; i++) {
            ln->rows += ln->out->buf[i].rows;
            if (ln->out->buf[i].overflow) {
                log_error("recorder.batch_too_large", "table=%d", i);
                return SQ_RETRY;
            }
        }
    }
    r->flush_started_us = sq_mono_us();
    r->state = WRITING;
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        ln->rc = SQ_OK;
        if (ln->rows)
            ln->writing = pthread_create(&ln->thread, NULL, lane_flush, ln) == 0;
        if (ln->rows && !ln->writing)
            ln->rc = sq_fail(ln->err, sizeof ln->err, SQ_RETRY, "could not start the lane's writer");
    }
    return SQ_OK;
}

/* Collects the lanes' outcomes once every writer has ended. */
static int collect(recorder *r)
{
    int rc = SQ_OK;
    size_t rows = 0;
    for (int l = 0; l < r->nlanes; l++) {
        lane *ln = &r->lanes[l];
        rows += ln->rows;
        if (!ln->rows)
            continue;
        if (ln->rc != SQ_OK) {
            log_warn("recorder.flush_failed", "lane=%d rows=%zu error=\"%s\"", l, ln->rows, ln->err);
            rc = SQ_RETRY;
            continue;
        }
        sq_metric_add(r->m_staged, (uint64_t)ln->staged);
        log_debug("recorder.flushed", "lane=%d rows=%zu new_tickets=%zu tickets=%zu staged=%d begin_ms=%.1f"
                  " events_ms=%.1f new_tickets_ms=%.1f tickets_ms=%.1f counters_ms=%.1f inputs_ms=%.1f commit_ms=%.1f",
                  l, ln->rows, ln->out->buf[T_NEW_TICKETS].rows, ln->out->buf[T_TICKETS].rows, ln->staged,
                  ln->begin_us / 1e3, ln->took[T_EVENTS] / 1e3, ln->took[T_NEW_TICKETS] / 1e3,
                  ln->took[T_TICKETS] / 1e3, ln->took[T_COUNTERS] / 1e3,
                  (ln->took[T_REPORTS] + ln->took[T_ALARMS] + ln->took[T_DEADLETTERS]) / 1e3, ln->commit_us / 1e3);
    }
    /* a lane that committed while another failed is written again with the batch: every write is idempotent */
    if (rc == SQ_OK) {
        sq_metric_add(r->m_rows, rows);
        for (int l = 0; l < r->nlanes; l++)
            sq_metric_add(r->m_events, r->lanes[l].out->buf[T_EVENTS].rows);
        sq_metric_observe(r->m_tx, (double)(sq_mono_us() - r->flush_started_us) / 1e6);
    }
    for (int l = 0; l < r->nlanes; l++)
        lanebuf_reset(r->lanes[l].out);
    return rc;
}

int recorder_flush_done(void *arg, int wait_ms)
{
    recorder *r = arg;
    if (r->state == WRITING) {
        int64_t until = sq_mono_us() + (int64_t)wait_ms * 1000;
        for (int l = 0; l < r->nlanes; l++) {
            lane *ln = &r->lanes[l];
            long left = wait_ms > 0 ? (long)((until - sq_mono_us()) / 1000) : 0;
            if (ln->writing && sq_thread_join_ms(ln->thread, left > 0 ? left : 0) != SQ_OK)
                return SQ_PENDING;
            ln->writing = false;
        }
        r->written_rc = collect(r);
        r->state = WRITTEN;
    }
    return r->state == WRITTEN ? r->written_rc : SQ_OK;
}
