/*
 * sla.c — clocks, the timer heap, and the emitted events.
 */
#include "sla.h"
#include "map.h"
#include "shequ/v1/ticket.pb-c.h"
#include "ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sclock {
    char name[16];
    int64_t started, due, stopped, paused_since, paused_total;
    unsigned emitted; /* bit per step */
} sclock;

typedef struct sticket {
    char ticket_id[SQ_TICKET_ID_MAX], community_id[64], company_id[64], assignee_id[64], reporter_id[64], tier[16];
    int32_t partition;
    bool open;
    bool final; /* closed, cancelled or merged: freed by the next gc */
    int64_t offset; /* last snapshot applied: an older one delivered again is ignored */
    sclock clocks[SQ_MAX_CLOCKS];
    int nclocks;
    unsigned generation;
    uint8_t *state; /* the newest snapshot, packed (a fraction of an sq_ticket): unpacked only to fire */
    size_t nstate;
} sticket;

typedef struct timer {
    int64_t at;
    sticket *t;
    unsigned generation;
    int clock, step;
} timer;

struct sla {
    sla_ladders ladders;
    const sq_rules *rules; /* the tiers' working calendars */
    sq_directory *dir;
    const sq_emitter *em;    /* &emitter */
    sq_emitter emitter;      /* the service's, writing to this model's partition */
    const sq_streamclock *clock;
    const char *tickets_topic;
    sq_map *tickets;
    timer *heap;
    size_t nheap, capheap;
    int64_t last_gc_us;
    size_t finals;
    sq_metric *m_fired[SLA_STEPS], *m_lateness, *m_clocks;
};

static const char *step_kind[SLA_STEPS] = { "sla_warning", "escalated", "escalated", "escalated" };

/* ------------------------------------------------------------------- heap */

static void heap_push(sla *s, timer t)
{
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1024;
        s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
    }
    size_t i = s->nheap++;
    while (i > 0 && s->heap[(i - 1) / 2].at > t.at) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = t;
}

static timer heap_pop(sla *s)
{
    timer top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && s->heap[c + 1].at < s->heap[c].at)
            c++;
        if (s->heap[c].at >= last.at)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

/* Schedules the next step of every running clock of t (older timers of t become stale). */
static void schedule(sla *s, sticket *t)
{
    t->generation++;
    if (!t->open)
        return;
    const sla_ladder *l = sla_ladder_for(&s->ladders, t->tier);
    const sq_tier_rule *tier = s->rules ? sq_rules_tier(s->rules, t->tier) : NULL;
    const sq_calendar *cal = tier ? tier->cal : NULL;
    for (int c = 0; c < t->nclocks; c++) {
        sclock *k = &t->clocks[c];
        if (k->stopped || !k->due)
            continue;
        for (int step = 0; step < SLA_STEPS; step++) {
            if (k->emitted & (1u << step))
                continue;
            int64_t at = sla_fire_at(cal, l->ratio[step], k->started, k->due, k->paused_total, k->paused_since);
            if (at != INT64_MAX)
                heap_push(s, (timer){ at, t, t->generation, c, step });
            break; /* one pending step per clock; the next is scheduled when it fires */
        }
    }
}

/* ------------------------------------------------------------------- state */

sla *sla_new(const sla_ladders *ladders, const sq_rules *rules, sq_directory *dir, const sq_emitter *em,
             const char *tickets_topic, int32_t partition, const sq_streamclock *clock)
{
    sla *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ladders = *ladders;
    s->rules = rules;
    s->dir = dir;
    s->emitter = *em;
    s->emitter.fixed_partition = true;
    s->emitter.partition = partition;
    s->em = &s->emitter;
    s->clock = clock;
    s->tickets_topic = tickets_topic;
    s->tickets = sq_map_new(4096);
    static const char *labels[SLA_STEPS] = { "step=\"warning\"", "step=\"level1\"", "step=\"level2\"", "step=\"level3\"" };
    for (int i = 0; i < SLA_STEPS; i++)
        s->m_fired[i] = sq_metric_counter("shequ_sla_fired_total", labels[i], "SLA thresholds crossed");
    s->m_lateness = sq_metric_histogram("shequ_sla_lateness_seconds", NULL, "emitted_at - due_at of SLA events");
    s->m_clocks = sq_metric_gauge("shequ_sla_open_tickets", NULL, "tickets with clocks held in memory");
    return s;
}

static void sticket_free(void *v)
{
    sticket *t = v;
    free(t->state);
    free(t);
}

void sla_free(sla *s)
{
    if (!s)
        return;
    sq_map_clear(s->tickets, sticket_free);
    sq_map_free(s->tickets);
    free(s->heap);
    free(s);
}

size_t sla_clock_count(const sla *s) { return sq_map_len(s->tickets); }

static sclock *clock_named(sticket *t, const char *name)
{
    for (int i = 0; i < t->nclocks; i++)
        if (strcmp(t->clocks[i].name, name) == 0)
            return &t->clocks[i];
    return NULL;
}

static int step_of(const Shequ__V1__TicketEvent *e, const char **clock)
{
    switch (e->body_case) {
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING: *clock = e->sla_warning->clock; return 0;
    case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED:
        *clock = e->escalated->clock;
        return e->escalated->level >= 1 && e->escalated->level <= 3 ? e->escalated->level : -1;
    default: return -1;
    }
}

void sla_apply_log(void *arg, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset)
{
    sla *s = arg;
    if (!e->ticket_id || !*e->ticket_id)
        return;
    sticket *t = sq_map_get(s->tickets, e->ticket_id);
    const char *clock = NULL;
    int step = step_of(e, &clock);
    if (step >= 0) { /* an SLA event already emitted (by us or a predecessor) */
        sclock *k = t ? clock_named(t, clock) : NULL;
        if (k && !(k->emitted & (1u << step))) {
            k->emitted |= 1u << step;
            schedule(s, t); /* the next step of that clock */
        }
        return;
    }
    if (!e->state || (t && offset >= 0 && offset <= t->offset))
        return;
    if (t && offset >= 0)
        t->offset = offset;
    const Shequ__V1__TicketState *st = e->state;
    bool open = st->status == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED ||
                st->status == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS ||
                st->status == SHEQU__V1__TICKET_STATUS__TICKET_STATUS_PAUSED;
    if (!open) {
        if (t) { /* no more timers; a resolved ticket keeps its emitted marks in case it is reopened */
            t->open = false;
            t->generation++;
            if (st->status != SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED && !t->final) {
                t->final = true;
                s->finals++;
            }
        }
        return;
    }
    if (!t) {
        t = calloc(1, sizeof *t);
        t->offset = offset;
        sq_map_put(s->tickets, e->ticket_id, t);
    }
    if (t->final) {
        t->final = false;
        s->finals--;
    }
    snprintf(t->ticket_id, sizeof t->ticket_id, "%s", e->ticket_id);
    snprintf(t->community_id, sizeof t->community_id, "%s", st->community_id);
    snprintf(t->company_id, sizeof t->company_id, "%s", st->company_id);
    snprintf(t->assignee_id, sizeof t->assignee_id, "%s", st->assignee_id);
    snprintf(t->reporter_id, sizeof t->reporter_id, "%s", st->reporter_id);
    snprintf(t->tier, sizeof t->tier, "%s", st->tier);
    size_t n = shequ__v1__ticket_state__get_packed_size(st);
    uint8_t *packed = n <= t->nstate ? t->state : realloc(t->state, n);
    if (packed) {
        t->state = packed;
        t->nstate = shequ__v1__ticket_state__pack(st, packed);
    }
    t->partition = partition;
    t->open = true;
    sclock old[SQ_MAX_CLOCKS];
    int nold = t->nclocks;
    memcpy(old, t->clocks, sizeof old);
    t->nclocks = 0;
    for (size_t i = 0; i < st->n_clocks && i < SQ_MAX_CLOCKS; i++) {
        sclock *k = &t->clocks[t->nclocks++];
        memset(k, 0, sizeof *k);
        snprintf(k->name, sizeof k->name, "%s", st->clocks[i]->name);
        k->started = st->clocks[i]->started_at_us;
        k->due = st->clocks[i]->due_at_us;
        k->stopped = st->clocks[i]->stopped_at_us;
        k->paused_since = st->clocks[i]->paused_since_us;
        k->paused_total = st->clocks[i]->paused_total_us;
        for (int j = 0; j < nold; j++) /* what was emitted stays emitted (reopen keeps the original deadline) */
            if (strcmp(old[j].name, k->name) == 0)
                k->emitted = old[j].emitted;
    }
    schedule(s, t);
}

/* ---------------------------------------------------------------- emitting */

static const char *recipient(sla *s, const sticket *t, int step, Shequ__V1__RecipientKind *kind, char *id, size_t idlen)
{
    const sq_staff *p = NULL;
    *kind = SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF;
    switch (step) {
    case 0:
        snprintf(id, idlen, "%s", t->assignee_id);
        return id;
    case 1:
        p = sq_directory_manager(s->dir, t->company_id);
        break;
    case 2:
        p = sq_directory_supervisor(s->dir, t->community_id);
        *kind = SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_SUPERVISOR;
        snprintf(id, idlen, "%s", t->community_id); /* supervisors/{community}/alerts */
        return p ? p->staff_id : id;
    default: {
        const sq_community *c = sq_directory_community(s->dir, t->community_id);
        p = c ? sq_directory_street_officer(s->dir, c->street_id) : NULL;
        break;
    }
    }
    snprintf(id, idlen, "%s", p ? p->staff_id : "");
    return id;
}

/* The ticket as its newest snapshot had it, for the events and notifications of a firing. */
static bool snapshot_of(const sticket *t, sq_ticket *out)
{
    Shequ__V1__TicketState *st = t->state ? shequ__v1__ticket_state__unpack(NULL, t->nstate, t->state) : NULL;
    if (!st)
        return false;
    sq_ticket_from_state(out, st);
    shequ__v1__ticket_state__free_unpacked(st, NULL);
    return true;
}

static int fire(sla *s, sticket *t, sclock *k, int step, int64_t at)
{
    const sla_ladder *l = sla_ladder_for(&s->ladders, t->tier);
    sq_ticket snap;
    if (!snapshot_of(t, &snap)) {
        log_error("sla.snapshot_lost", "ticket=%s (not fired)", t->ticket_id);
        return SQ_ERR;
    }
    char cause[256], id[SQ_UUID_LEN], to[64];
    snprintf(cause, sizeof cause, "%s/%d/%lld", k->name, step, (long long)k->due);
    Shequ__V1__RecipientKind kind;
    const char *recipient_staff = recipient(s, t, step, &kind, to, sizeof to);
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__SlaWarning w = SHEQU__V1__SLA_WARNING__INIT;
    Shequ__V1__SlaBreached b = SHEQU__V1__SLA_BREACHED__INIT;
    Shequ__V1__Escalated x = SHEQU__V1__ESCALATED__INIT;
    int percent = (int)(l->ratio[step] * 100 + 0.5);
    int rc = SQ_OK;
    if (step == 1) { /* the breach itself, then level 1 */
        b.clock = k->name;
        b.due_at_us = k->due;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED;
        ev.sla_breached = &b;
        rc = sq_emit_ticket_event(s->em, &ev, &snap, false, "sla_breached", "sla", cause, at, id);
        if (rc == SQ_OK && strcmp(k->name, "resolve") == 0 && t->reporter_id[0])
            sq_emit_notification(s->em, &snap, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT,
                                 t->reporter_id, "deadline_missed", id, k->name, 0, NULL, 0);
        if (rc == SQ_OK && t->assignee_id[0])
            sq_emit_notification(s->em, &snap, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF,
                                 t->assignee_id, "sla_breached", id, k->name, 0, NULL, 0);
    }
    if (step == 0) {
        w.clock = k->name;
        w.due_at_us = k->due;
        w.percent = percent;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING;
        ev.sla_warning = &w;
    } else {
        x.clock = k->name;
        x.level = step;
        x.recipient_id = (char *)recipient_staff;
        x.due_at_us = k->due;
        x.percent = percent;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_ESCALATED;
        ev.escalated = &x;
    }
    if (rc == SQ_OK)
        rc = sq_emit_ticket_event(s->em, &ev, &snap, false, step_kind[step], "sla", cause, at, id);
    if (rc == SQ_OK && to[0])
        sq_emit_notification(s->em, &snap, kind, to, step == 0 ? "sla_warning" : "escalated", id, k->name,
                             step, NULL, 0);
    if (rc == SQ_OK) {
        k->emitted |= 1u << step;
        sq_metric_add(s->m_fired[step], 1);
        if (step == 1)
            sq_metric_observe(s->m_lateness, (double)(sq_now_us() - k->due) / 1e6);
        log_info("sla.fired", "ticket=%s clock=%s kind=%s level=%d late_ms=%lld", t->ticket_id, k->name,
                 step_kind[step], step, (long long)((sq_now_us() - at) / 1000));
    }
    return rc;
}

static int free_final(void *ctx, const char *k, void *v)
{
    sticket *t = v;
    if (!t->final)
        return 0;
    sticket_free(t);
    return 1;
}

/* Drops timers of finished tickets, then frees those tickets: no timer points at freed memory. */
static void gc(sla *s)
{
    size_t n = s->nheap;
    timer *old = s->heap;
    s->heap = NULL;
    s->nheap = s->capheap = 0;
    for (size_t i = 0; i < n; i++)
        if (!old[i].t->final && old[i].t->open && old[i].generation == old[i].t->generation)
            heap_push(s, old[i]);
    free(old);
    sq_map_each(s->tickets, free_final, NULL);
    s->finals = 0;
}

void sla_tick(void *arg)
{
    sla *s = arg;
    /* stream time: a deadline passes only once every event before it has been read, so a stop event
     * waiting in the unread log stops the clock first (a step is dated at its moment, tm.at) */
    int64_t now = sq_stream_now_us(s->clock);
    sq_directory_refresh(s->dir, 5000);
    while (s->nheap && s->heap[0].at <= now) {
        timer tm = heap_pop(s);
        if (tm.generation != tm.t->generation || !tm.t->open)
            continue;
        sclock *k = &tm.t->clocks[tm.clock];
        if (k->stopped)
            continue;
        if (k->emitted & (1u << tm.step)) {
            schedule(s, tm.t);
            continue;
        }
        if (fire(s, tm.t, k, tm.step, tm.at) != SQ_OK) {
            tm.at = now + SQ_US_PER_S; /* the bus refused: try again in a second */
            heap_push(s, tm);
            break;
        }
        schedule(s, tm.t);
    }
    if (s->finals > 1000 && sq_mono_us() - s->last_gc_us > 10 * SQ_US_PER_S) {
        gc(s);
        s->last_gc_us = sq_mono_us();
    }
    sq_metric_set(s->m_clocks, (double)sq_map_len(s->tickets));
}

int sla_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (!e)
        return SQ_OK; /* the recorder dead-letters undecodable log events */
    sla_apply_log(arg, e, m->partition, m->offset);
    shequ__v1__ticket_event__free_unpacked(e, NULL);
    return SQ_OK;
}
