/*
 * status.c — the ticket-status cache behind GET /v1/reports/{id} and Open311:
 * a thread reads tickets.v1 (every partition, from the start, then live) and
 * keeps the latest snapshot and the history of every ticket in memory.
 * Rebuilt from the log on every start; never written anywhere.
 */
#include "gateway.h"
#include "map.h"
#include "shequ/v1/ticket.pb-c.h"
#include "ticket.h"
#include "ticketlog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 48

typedef struct tstatus {
    char ticket_id[40], origin_id[64], community_id[64], category[32], tier[16], assignee_id[64], merged_into[40];
    int status;
    int64_t created_us, updated_us, respond_due_us, resolve_due_us;
    struct step { const char *type; int64_t at; } *history; /* type: sq_ticket_event_type's static names */
    int nhistory, caphistory; /* grown as events come (most tickets have a handful), at most HISTORY_MAX */
} tstatus;

struct gw_status {
    gateway *g;
    pthread_t thread;
    pthread_mutex_t mu;
    sq_map *tickets;
    _Atomic bool run;
    _Atomic bool caught_up;
};

static void apply(gw_status *s, const Shequ__V1__TicketEvent *e)
{
    pthread_mutex_lock(&s->mu);
    tstatus *t = sq_map_get(s->tickets, e->ticket_id);
    if (!t && e->state) {
        t = calloc(1, sizeof *t);
        snprintf(t->ticket_id, sizeof t->ticket_id, "%s", e->ticket_id);
        sq_map_put(s->tickets, e->ticket_id, t);
    }
    if (t) {
        if (e->state) {
            const Shequ__V1__TicketState *st = e->state;
            snprintf(t->origin_id, sizeof t->origin_id, "%s", st->origin_id);
            snprintf(t->community_id, sizeof t->community_id, "%s", st->community_id);
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
        }
        if (t->nhistory == t->caphistory && t->caphistory < HISTORY_MAX) {
            int cap = t->caphistory ? t->caphistory * 2 : 4;
            cap = cap > HISTORY_MAX ? HISTORY_MAX : cap;
            struct step *h = realloc(t->history, (size_t)cap * sizeof *h);
            if (h) {
                t->history = h;
                t->caphistory = cap;
            }
        }
        if (t->nhistory < t->caphistory) {
            t->history[t->nhistory].type = sq_ticket_event_type(e);
            t->history[t->nhistory].at = e->header ? e->header->occurred_at_us : 0;
            t->nhistory++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void *reader(void *arg)
{
    gw_status *s = arg;
    char e[256], group[96];
    snprintf(group, sizeof group, "%s.status", s->g->common->service);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", s->g->common->kafka_brokers, e, sizeof e);
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof e);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    int nparts = 0;
    while (atomic_load(&s->run) && nparts == 0) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, s->g->topic_tickets, NULL);
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                nparts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(t);
        if (!nparts)
            sq_sleep_ms(500);
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int64_t *ends = calloc((size_t)nparts + 1, sizeof *ends);
    int pending = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_query_watermark_offsets(rk, s->g->topic_tickets, p, &lo, &hi, 5000);
        ends[p] = hi;
        pending += hi > lo;
        rd_kafka_topic_partition_list_add(l, s->g->topic_tickets, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (pending == 0)
        atomic_store(&s->caught_up, true);
    while (atomic_load(&s->run)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
            if (ev && ev->ticket_id && *ev->ticket_id)
                apply(s, ev);
            if (ev)
                shequ__v1__ticket_event__free_unpacked(ev, NULL);
            if (m->partition < nparts && ends[m->partition] > 0 && m->offset + 1 >= ends[m->partition]) {
                ends[m->partition] = 0;
                if (--pending == 0) {
                    atomic_store(&s->caught_up, true);
                    log_info("status.caught_up", "tickets=%zu", sq_map_len(s->tickets));
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(ends);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

gw_status *gw_status_start(gateway *g)
{
    gw_status *s = calloc(1, sizeof *s);
    s->g = g;
    pthread_mutex_init(&s->mu, NULL);
    s->tickets = sq_map_new(4096);
    atomic_store(&s->run, true);
    pthread_create(&s->thread, NULL, reader, s);
    return s;
}

static void tstatus_free(void *v)
{
    free(((tstatus *)v)->history);
    free(v);
}

void gw_status_stop(gw_status *s)
{
    if (!s)
        return;
    atomic_store(&s->run, false);
    pthread_join(s->thread, NULL);
    sq_map_clear(s->tickets, tstatus_free);
    sq_map_free(s->tickets);
    free(s);
}

bool gw_status_ready(gw_status *s) { return atomic_load(&s->caught_up); }

static const char *status_text(int st)
{
    return sq_status_name((sq_status)st);
}

static json_t *time_or_null(int64_t us)
{
    char buf[40];
    return us ? json_string(sq_fmt_shanghai(us, buf, sizeof buf)) : json_null();
}

/* The report's ticket, following a merge to the surviving ticket. Caller holds the lock. */
static tstatus *ticket_of_report(gw_status *s, const char *report_id)
{
    char id[SQ_UUID_LEN];
    sq_uuid5(id, "ticket", report_id, strlen(report_id));
    tstatus *t = sq_map_get(s->tickets, id);
    if (t && t->merged_into[0]) {
        tstatus *into = sq_map_get(s->tickets, t->merged_into);
        if (into)
            t = into;
    }
    return t;
}

json_t *gw_status_report(gw_status *s, const char *report_id)
{
    pthread_mutex_lock(&s->mu);
    tstatus *t = ticket_of_report(s, report_id);
    json_t *out = NULL;
    if (t) {
        json_t *hist = json_array();
        char buf[40];
        for (int i = 0; i < t->nhistory; i++)
            json_array_append_new(hist, json_pack("{s:s,s:s}", "type", t->history[i].type, "at",
                                                  sq_fmt_shanghai(t->history[i].at, buf, sizeof buf)));
        out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o,s:o}", "report_id", report_id, "ticket_id",
                        t->ticket_id, "status", status_text(t->status), "tier", t->tier, "category", t->category,
                        "assignee_id", t->assignee_id[0] ? t->assignee_id : NULL, "created_at",
                        time_or_null(t->created_us), "respond_due", time_or_null(t->respond_due_us), "resolve_due",
                        time_or_null(t->resolve_due_us), "expected_at", time_or_null(t->resolve_due_us), "history",
                        hist);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
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

json_t *gw_status_open311(gw_status *s, const char *report_id)
{
    pthread_mutex_lock(&s->mu);
    tstatus *t = ticket_of_report(s, report_id);
    json_t *out = t ? open311_json(t, report_id) : NULL;
    pthread_mutex_unlock(&s->mu);
    return out;
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
    if ((int)json_array_size(c->arr) >= c->limit || t->merged_into[0] || strncmp(t->origin_id, "r", 0) != 0)
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
