/*
 * status.c — the ticket-status cache behind GET /v1/reports/{id} and Open311.
 *
 * A thread restores the cache with sq_statelog_restore (statelog.h): the events of every live ticket
 * from the compacted changelog, then the tail of tickets.v1, on every partition; it then follows
 * tickets.v1 live from where the restore ended (explicit offsets, nothing committed). So start-up costs
 * what is live, not the length of the log, and every instance of the gateway holds the same cache.
 *
 * Tickets are found by the report they came from (origin_id of a report-sourced ticket), following a
 * merge to the surviving ticket. A ticket the cache does not hold — finished before the changelog let
 * it go, or dropped from memory status.keep_final_s after it became final — is answered from
 * PostgreSQL (shequ.reports names the report's community, which makes the ticket id; shequ.tickets and
 * shequ.ticket_events hold its status and history, as the recorder wrote them). Without pg.dsn the cache
 * keeps every ticket it saw while running, and tickets the changelog let go are not known.
 */
#include "gateway.h"
#include "map.h"
#include "pg.h"
#include "shequ/v1/ticket.pb-c.h"
#include "statelog.h"
#include "ticket.h"
#include "ticketlog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 48
#define MERGE_HOPS 4

typedef struct step {
    char type[32];
    int64_t at;
} step;

typedef struct tstatus {
    char ticket_id[SQ_TICKET_ID_MAX], origin_id[64], community_id[64], source[12], category[32], tier[16],
        assignee_id[64], merged_into[SQ_TICKET_ID_MAX];
    int status;
    int64_t created_us, updated_us, respond_due_us, resolve_due_us;
    step *history;
    int nhistory, caphistory; /* grown as events come (most tickets have a handful), at most HISTORY_MAX */
} tstatus;

struct gw_status {
    gateway *g;
    pthread_t thread;
    pthread_mutex_t mu;
    sq_map *tickets;   /* ticket_id → tstatus (owned) */
    sq_map *by_report; /* report_id → tstatus (borrowed from tickets) */
    size_t sweep_cursor;
    pthread_mutex_t pgmu; /* one connection for the rare lookups the cache cannot answer */
    sq_pg *pg;
    _Atomic bool run;
    _Atomic bool caught_up;
};

static void tstatus_free(void *v)
{
    free(((tstatus *)v)->history);
    free(v);
}

static void add_step(tstatus *t, const char *type, int64_t at)
{
    if (t->nhistory == t->caphistory && t->caphistory < HISTORY_MAX) {
        int cap = t->caphistory ? t->caphistory * 2 : 4;
        cap = cap > HISTORY_MAX ? HISTORY_MAX : cap;
        step *h = realloc(t->history, (size_t)cap * sizeof *h);
        if (h) {
            t->history = h;
            t->caphistory = cap;
        }
    }
    if (t->nhistory < t->caphistory) {
        snprintf(t->history[t->nhistory].type, sizeof t->history[t->nhistory].type, "%s", type);
        t->history[t->nhistory].at = at;
        t->nhistory++;
    }
}

/* Caller holds the lock. */
static void apply_locked(gw_status *s, const Shequ__V1__TicketEvent *e)
{
    tstatus *t = sq_map_get(s->tickets, e->ticket_id);
    if (!t && e->state) {
        t = calloc(1, sizeof *t);
        snprintf(t->ticket_id, sizeof t->ticket_id, "%s", e->ticket_id);
        sq_map_put(s->tickets, e->ticket_id, t);
    }
    if (!t)
        return;
    if (e->state) {
        const Shequ__V1__TicketState *st = e->state;
        snprintf(t->origin_id, sizeof t->origin_id, "%s", st->origin_id);
        snprintf(t->community_id, sizeof t->community_id, "%s", st->community_id);
        snprintf(t->source, sizeof t->source, "%s", st->source);
        snprintf(t->category, sizeof t->category, "%s", st->category);
        snprintf(t->tier, sizeof t->tier, "%s", st->tier);
        snprintf(t->assignee_id, sizeof t->assignee_id, "%s", st->assignee_id);
        snprintf(t->merged_into, sizeof t->merged_into, "%s", st->merged_into);
        t->status = st->status;
        t->created_us = st->created_at_us;
        t->updated_us = st->updated_at_us;
        for (size_t i = 0; i < st->n_clocks; i++) {
            if (strcmp(st->clocks[i]->name, "respond") == 0 || strcmp(st->clocks[i]->name, "plan") == 0)
                t->respond_due_us = st->clocks[i]->due_at_us;
            else if (strcmp(st->clocks[i]->name, "resolve") == 0)
                t->resolve_due_us = st->clocks[i]->due_at_us;
        }
        /* only a report's own ticket answers for the report: an alarm id may be any string */
        if (t->origin_id[0] && strcmp(t->source, "report") == 0)
            sq_map_put(s->by_report, t->origin_id, t);
    }
    add_step(t, sq_ticket_event_type(e), e->header ? e->header->occurred_at_us : 0);
}

static void apply(gw_status *s, const Shequ__V1__TicketEvent *e)
{
    pthread_mutex_lock(&s->mu);
    apply_locked(s, e);
    pthread_mutex_unlock(&s->mu);
}

static void restore_apply(void *ctx, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset)
{
    if (e->ticket_id && *e->ticket_id)
        apply(ctx, e);
}

static bool final_status(int st) { return st == SQ_ST_CLOSED || st == SQ_ST_CANCELLED || st == SQ_ST_MERGED; }

typedef struct {
    gw_status *s;
    int64_t before_us;
} sweep_ctx;

/* Drops a ticket final since before_us: PostgreSQL answers for it from now on. */
static int sweep_one(void *ctx, const char *key, void *value)
{
    sweep_ctx *c = ctx;
    tstatus *t = value;
    if (!final_status(t->status) || t->updated_us >= c->before_us)
        return 0;
    if (t->origin_id[0] && sq_map_get(c->s->by_report, t->origin_id) == t)
        sq_map_del(c->s->by_report, t->origin_id);
    tstatus_free(t);
    return 1;
}

static rd_kafka_t *live_consumer(gw_status *s, const sq_restore_part *parts, int n)
{
    char e[256], group[96];
    snprintf(group, sizeof group, "%s.status", s->g->common->service);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", s->g->common->kafka_brokers, e, sizeof e);
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof e); /* assigned, never subscribed nor committed */
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", e, sizeof e);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        log_error("status.consumer_failed", "error=\"%s\"", e);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, s->g->topic_tickets, parts[i].partition)->offset = parts[i].next;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static void *reader(void *arg)
{
    gw_status *s = arg;
    const sq_common_config *cfg = s->g->common;
    int nparts = 0;
    while (atomic_load(&s->run) && nparts <= 0) {
        nparts = sq_topic_partition_count(cfg, s->g->topic_tickets);
        if (nparts <= 0)
            sq_sleep_ms(500);
    }
    if (nparts <= 0)
        return NULL;
    sq_restore_part *parts = calloc((size_t)nparts, sizeof *parts);
    long applied = -1;
    int64_t t0 = sq_mono_us();
    while (atomic_load(&s->run) && applied < 0) {
        for (int p = 0; p < nparts; p++)
            parts[p] = (sq_restore_part){ .partition = p };
        pthread_mutex_lock(&s->mu);
        sq_map_clear(s->by_report, NULL);
        sq_map_clear(s->tickets, tstatus_free);
        pthread_mutex_unlock(&s->mu);
        char err[256] = "";
        applied = sq_statelog_restore(cfg, s->g->topic_changelog, s->g->topic_tickets, parts, nparts, true,
                                      restore_apply, s, err, sizeof err);
        if (applied < 0) {
            log_warn("status.restore_failed", "error=\"%s\" (retrying)", err);
            sq_sleep_ms(1000);
        }
    }
    rd_kafka_t *rk = applied >= 0 ? live_consumer(s, parts, nparts) : NULL;
    if (rk) {
        long from_changelog = 0, from_log = 0;
        for (int p = 0; p < nparts; p++) {
            from_changelog += parts[p].from_changelog;
            from_log += parts[p].from_log;
        }
        pthread_mutex_lock(&s->mu);
        size_t held = sq_map_len(s->tickets);
        pthread_mutex_unlock(&s->mu);
        log_info("status.caught_up", "tickets=%zu partitions=%d from_changelog=%ld from_log=%ld ms=%lld", held, nparts,
                 from_changelog, from_log, (long long)((sq_mono_us() - t0) / 1000));
        atomic_store(&s->caught_up, true);
    }
    free(parts);
    int64_t next_sweep_us = 0;
    while (rk && atomic_load(&s->run)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            if (!m->err) {
                Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
                if (ev && ev->ticket_id && *ev->ticket_id)
                    apply(s, ev);
                if (ev)
                    shequ__v1__ticket_event__free_unpacked(ev, NULL);
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                log_warn("status.consume_error", "error=\"%s\"", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        if (s->pg && s->g->cfg.status_keep_final_s > 0 && sq_mono_us() >= next_sweep_us) {
            next_sweep_us = sq_mono_us() + 100 * 1000; /* a 600th of the map every 100 ms: all of it each minute */
            sweep_ctx c = { s, sq_now_us() - s->g->cfg.status_keep_final_s * SQ_US_PER_S };
            pthread_mutex_lock(&s->mu);
            sq_map_sweep(s->tickets, &s->sweep_cursor, 600, sweep_one, &c);
            pthread_mutex_unlock(&s->mu);
        }
    }
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return NULL;
}

gw_status *gw_status_start(gateway *g)
{
    gw_status *s = calloc(1, sizeof *s);
    s->g = g;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->pgmu, NULL);
    s->tickets = sq_map_new(4096);
    s->by_report = sq_map_new(4096);
    if (g->common->pg_dsn && *g->common->pg_dsn)
        s->pg = sq_pg_new(g->common->pg_dsn, 2, 2000, "gateway-status");
    else
        log_warn("status.no_database", "pg.dsn is not set: tickets the changelog let go are not known");
    atomic_store(&s->run, true);
    pthread_create(&s->thread, NULL, reader, s);
    return s;
}

void gw_status_stop(gw_status *s)
{
    if (!s)
        return;
    atomic_store(&s->run, false);
    pthread_join(s->thread, NULL);
    sq_map_clear(s->by_report, NULL);
    sq_map_free(s->by_report);
    sq_map_clear(s->tickets, tstatus_free);
    sq_map_free(s->tickets);
    sq_pg_free(s->pg);
    free(s);
}

bool gw_status_ready(gw_status *s) { return atomic_load(&s->caught_up); }

/* ------------------------------------------------------------ lookups */

/* A copy the caller owns (its history too), made under the lock. */
static void copy_out(tstatus *out, const tstatus *t)
{
    *out = *t;
    out->history = NULL;
    out->caphistory = out->nhistory = 0;
    if (t->nhistory && (out->history = malloc((size_t)t->nhistory * sizeof *out->history))) {
        memcpy(out->history, t->history, (size_t)t->nhistory * sizeof *out->history);
        out->nhistory = out->caphistory = t->nhistory;
    }
}

static int64_t pg_us(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int pg_status(const char *name)
{
    for (int st = SQ_ST_ASSIGNED; st <= SQ_ST_CANCELLED; st++)
        if (strcmp(sq_status_name((sq_status)st), name) == 0)
            return st;
    return SQ_ST_UNKNOWN;
}

#define PG_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* The community of a report, as the recorder archived it. Caller holds pgmu. */
static int pg_report_community(gw_status *s, const char *report_id, char *out, size_t outlen)
{
    static const char sql[] = "SELECT community_id FROM shequ.reports WHERE report_id = $1";
    const char *p[] = { report_id };
    PGresult *r;
    char err[256];
    if (sq_pg_exec(s->pg, sql, 1, p, &r, err, sizeof err) != SQ_OK) {
        log_warn("status.db_failed", "report=%s error=\"%s\"", report_id, err);
        return SQ_RETRY;
    }
    int rc = PQntuples(r) == 1 ? SQ_OK : SQ_NOTFOUND;
    if (rc == SQ_OK)
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* One ticket's row and history from PostgreSQL into out. Caller holds pgmu. */
static int pg_ticket(gw_status *s, const char *ticket_id, tstatus *out)
{
    static const char sql[] = "SELECT status, tier, category, coalesce(assignee_id, ''), coalesce(merged_into, ''), "
                              "community_id, " PG_US("created_at") ", " PG_US("updated_at") ", "
                              PG_US("coalesce(respond_due, plan_due)") ", " PG_US("resolve_due")
                              " FROM shequ.tickets WHERE ticket_id = $1";
    static const char events[] = "SELECT type, " PG_US("occurred_at") " FROM shequ.ticket_events WHERE ticket_id = $1"
                                 " ORDER BY occurred_at, log_partition, log_offset, event_id LIMIT 48";
    const char *p[] = { ticket_id };
    PGresult *r;
    char err[256];
    if (sq_pg_exec(s->pg, sql, 1, p, &r, err, sizeof err) != SQ_OK) {
        log_warn("status.db_failed", "ticket=%s error=\"%s\"", ticket_id, err);
        return SQ_RETRY;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return SQ_NOTFOUND;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->ticket_id, sizeof out->ticket_id, "%s", ticket_id);
    out->status = pg_status(PQgetvalue(r, 0, 0));
    snprintf(out->tier, sizeof out->tier, "%s", PQgetvalue(r, 0, 1));
    snprintf(out->category, sizeof out->category, "%s", PQgetvalue(r, 0, 2));
    snprintf(out->assignee_id, sizeof out->assignee_id, "%s", PQgetvalue(r, 0, 3));
    snprintf(out->merged_into, sizeof out->merged_into, "%s", PQgetvalue(r, 0, 4));
    snprintf(out->community_id, sizeof out->community_id, "%s", PQgetvalue(r, 0, 5));
    snprintf(out->source, sizeof out->source, "report");
    out->created_us = pg_us(r, 0, 6);
    out->updated_us = pg_us(r, 0, 7);
    out->respond_due_us = pg_us(r, 0, 8);
    out->resolve_due_us = pg_us(r, 0, 9);
    PQclear(r);
    if (sq_pg_exec(s->pg, events, 1, p, &r, err, sizeof err) != SQ_OK) {
        log_warn("status.db_failed", "ticket=%s error=\"%s\"", ticket_id, err);
        return SQ_RETRY;
    }
    for (int i = 0; i < PQntuples(r); i++)
        add_step(out, PQgetvalue(r, i, 0), pg_us(r, i, 1));
    PQclear(r);
    return SQ_OK;
}

/*
 * The ticket a report became, following merges to the surviving ticket, into out (the caller frees
 * out->history): from the cache, else from PostgreSQL. SQ_OK, SQ_NOTFOUND (not known yet) or SQ_RETRY
 * (the cache does not hold it and PostgreSQL does not answer).
 */
static int ticket_of_report(gw_status *s, const char *report_id, tstatus *out)
{
    char id[SQ_TICKET_ID_MAX] = "";
    pthread_mutex_lock(&s->mu);
    tstatus *t = sq_map_get(s->by_report, report_id);
    for (int hop = 0; t && t->merged_into[0] && hop < MERGE_HOPS; hop++) {
        tstatus *into = sq_map_get(s->tickets, t->merged_into);
        if (!into) {
            snprintf(id, sizeof id, "%s", t->merged_into); /* the survivor left the cache */
            t = NULL;
            break;
        }
        t = into;
    }
    if (t)
        copy_out(out, t);
    pthread_mutex_unlock(&s->mu);
    if (t)
        return SQ_OK;
    if (!s->pg)
        return SQ_NOTFOUND;
    pthread_mutex_lock(&s->pgmu);
    int rc = SQ_OK;
    if (!id[0]) {
        char community[80];
        rc = pg_report_community(s, report_id, community, sizeof community);
        if (rc == SQ_OK)
            sq_ticket_id_make(id, community, report_id);
    }
    memset(out, 0, sizeof *out);
    for (int hop = 0; rc == SQ_OK && hop <= MERGE_HOPS; hop++) {
        free(out->history);
        rc = pg_ticket(s, id, out);
        if (rc != SQ_OK || !out->merged_into[0])
            break;
        snprintf(id, sizeof id, "%s", out->merged_into);
        /* the survivor may be live: the cache knows it better than the database */
        pthread_mutex_lock(&s->mu);
        tstatus *live = sq_map_get(s->tickets, id);
        if (live) {
            free(out->history);
            copy_out(out, live);
        }
        pthread_mutex_unlock(&s->mu);
        if (live)
            break;
    }
    pthread_mutex_unlock(&s->pgmu);
    if (rc != SQ_OK) {
        free(out->history);
        out->history = NULL;
    }
    return rc;
}

static const char *status_text(int st)
{
    return sq_status_name((sq_status)st);
}

static json_t *time_or_null(int64_t us)
{
    char buf[40];
    return us ? json_string(sq_fmt_shanghai(us, buf, sizeof buf)) : json_null();
}

int gw_status_report(gw_status *s, const char *report_id, json_t **out)
{
    tstatus t;
    int rc = ticket_of_report(s, report_id, &t);
    if (rc != SQ_OK)
        return rc;
    json_t *hist = json_array();
    char buf[40];
    for (int i = 0; i < t.nhistory; i++)
        json_array_append_new(hist, json_pack("{s:s,s:s}", "type", t.history[i].type, "at",
                                              sq_fmt_shanghai(t.history[i].at, buf, sizeof buf)));
    *out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o,s:o}", "report_id", report_id, "ticket_id",
                     t.ticket_id, "status", status_text(t.status), "tier", t.tier, "category", t.category,
                     "assignee_id", t.assignee_id[0] ? t.assignee_id : NULL, "created_at", time_or_null(t.created_us),
                     "respond_due", time_or_null(t.respond_due_us), "resolve_due", time_or_null(t.resolve_due_us),
                     "expected_at", time_or_null(t.resolve_due_us), "history", hist);
    free(t.history);
    return SQ_OK;
}

/* FixMyStreet's extended statuses over Open311's open/closed. */
static const char *fms_status(int st)
{
    switch (st) {
    case SQ_ST_ASSIGNED: return "action_scheduled";
    case SQ_ST_IN_PROGRESS: return "in_progress";
    case SQ_ST_PAUSED: return "investigating";
    case SQ_ST_RESOLVED: return "fixed";
    case SQ_ST_CLOSED: return "closed";
    case SQ_ST_CANCELLED: return "not_responsible";
    case SQ_ST_MERGED: return "duplicate";
    default: return "open";
    }
}

static json_t *open311_json(const tstatus *t, const char *request_id)
{
    bool open = sq_status_open((sq_status)t->status);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "service_request_id", request_id, "status",
                     open ? "open" : "closed", "extended_status", fms_status(t->status), "service_code", t->category,
                     "requested_datetime", time_or_null(t->created_us), "updated_datetime", time_or_null(t->updated_us),
                     "expected_datetime", time_or_null(t->resolve_due_us), "agency_responsible", t->assignee_id);
}

int gw_status_open311(gw_status *s, const char *report_id, json_t **out)
{
    tstatus t;
    int rc = ticket_of_report(s, report_id, &t);
    if (rc != SQ_OK)
        return rc;
    *out = open311_json(&t, report_id);
    free(t.history);
    return SQ_OK;
}

typedef struct {
    const char *status;
    int64_t from, to;
    int limit;
    json_t *arr;
} list_ctx;

static int list_one(void *ctx, const char *key, void *value)
{
    list_ctx *c = ctx;
    tstatus *t = value;
    if ((int)json_array_size(c->arr) >= c->limit || t->merged_into[0] || strcmp(t->source, "report") != 0)
        return 0;
    bool open = sq_status_open((sq_status)t->status);
    if (c->status && ((strcmp(c->status, "open") == 0) != open))
        return 0;
    if ((c->from && t->created_us < c->from) || (c->to && t->created_us > c->to))
        return 0;
    json_array_append_new(c->arr, open311_json(t, t->origin_id));
    return 0;
}

json_t *gw_status_open311_list(gw_status *s, const char *status, int64_t from_us, int64_t to_us, int limit)
{
    list_ctx c = { status, from_us, to_us, limit, json_array() };
    pthread_mutex_lock(&s->mu);
    sq_map_each(s->tickets, list_one, &c);
    pthread_mutex_unlock(&s->mu);
    return c.arr;
}
