/*
 * triage_model.c — triage's memory: the indexes over tickets, rebuilt by replaying tickets.v1
 * (triage_apply_log), the input ids already answered, and what the minute's tick forgets.
 */
#include "triage_model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void place_key(char *out, size_t n, const char *community, const char *building, const char *category)
{
    const char *parts[] = { community, building, category };
    sq_join(out, n, '|', parts, 3);
}

void device_key(char *out, size_t n, const char *device_id, const char *type)
{
    const char *parts[] = { device_id, type };
    sq_join(out, n, '|', parts, 2);
}

static void load_add(triage *tr, const char *key, int delta)
{
    intptr_t v = (intptr_t)sq_map_get(tr->load, key) + delta;
    if (v > 0)
        sq_map_put(tr->load, key, (void *)v);
    else
        sq_map_del(tr->load, key);
}

static void load_key(char *out, size_t n, const char *community, const char *staff)
{
    const char *parts[] = { community, staff };
    sq_join(out, n, '|', parts, 2);
}

int load_of(triage *tr, const char *community, const char *staff)
{
    char key[136];
    load_key(key, sizeof key, community, staff);
    return (int)(intptr_t)sq_map_get(tr->load, key);
}

/* Replaces an entry's ticket, keeping the indexes and the staff load right. */
void entry_set(triage *tr, entry *e, const sq_ticket *nt)
{
    /* the load follows what the entry was counted for, not its status: callers change e->t in place */
    if (e->load_key[0])
        load_add(tr, e->load_key, -1);
    e->load_key[0] = '\0';
    int rc = e->t.reporter_count, oc = e->t.occurrence_count, lvl = e->t.escalation_level;
    e->t = *nt;
    sq_ticket_merge_counters(&e->t, rc, oc, lvl);
    bool open = sq_status_open(e->t.status);
    if (open && e->t.assignee_id[0]) {
        load_key(e->load_key, sizeof e->load_key, e->t.community_id, e->t.assignee_id);
        load_add(tr, e->load_key, 1);
    }
    char key[256];
    if (e->t.building[0] || e->t.category[0]) {
        place_key(key, sizeof key, e->t.community_id, e->t.building, e->t.category);
        entry *cur = sq_map_get(tr->by_place, key);
        if (open && e->t.status != SQ_ST_MERGED && (!cur || cur->t.created_us <= e->t.created_us))
            sq_map_put(tr->by_place, key, e);
        else if (!open && cur == e)
            sq_map_del(tr->by_place, key);
    }
    if (e->t.device_id[0]) {
        device_key(key, sizeof key, e->t.device_id, e->t.alarm_type);
        if (e->t.status == SQ_ST_CLOSED || e->t.status == SQ_ST_CANCELLED || e->t.status == SQ_ST_MERGED) {
            if (sq_map_get(tr->by_device, key) == e)
                sq_map_del(tr->by_device, key);
        } else {
            sq_map_put(tr->by_device, key, e);
        }
    }
}

entry *entry_get(triage *tr, const char *ticket_id, bool create)
{
    entry *e = sq_map_get(tr->tickets, ticket_id);
    if (!e && create) {
        e = calloc(1, sizeof *e);
        e->offset = -1;
        sq_map_put(tr->tickets, ticket_id, e);
    }
    return e;
}

void repeat_note(triage *tr, const sq_ticket *t)
{
    if (!t->building[0])
        return;
    char key[256];
    place_key(key, sizeof key, t->community_id, t->building, t->category);
    repeat_list *l = sq_map_get(tr->repeats, key);
    if (!l) {
        l = calloc(1, sizeof *l);
        sq_map_put(tr->repeats, key, l);
    }
    for (int i = 0; i < l->n; i++)
        if (l->times[i] == t->created_us)
            return;
    if (l->n == MAX_REPEATS) {
        memmove(l->times, l->times + 1, (MAX_REPEATS - 1) * sizeof l->times[0]);
        l->n--;
    }
    l->times[l->n++] = t->created_us;
}

triage *triage_new(const sq_rules *rules, sq_directory *dir, const sq_emitter *em, const triage_topics *topics,
                   int32_t partition, const sq_streamclock *clock)
{
    triage *tr = calloc(1, sizeof *tr);
    if (!tr)
        return NULL;
    tr->rules = rules;
    tr->dir = dir;
    tr->emitter = *em;
    tr->emitter.fixed_partition = true;
    tr->emitter.partition = partition;
    tr->em = &tr->emitter;
    tr->partition = partition;
    tr->clock = clock;
    tr->topics = *topics;
    tr->tickets = sq_map_new(1024);
    tr->by_place = sq_map_new(1024);
    tr->by_device = sq_map_new(1024);
    tr->repeats = sq_map_new(1024);
    tr->load = sq_map_new(256);
    tr->seen = sq_map_new(4096);
    tr->seen_window_us = 3600 * SQ_US_PER_S;
    tr->m_created = sq_metric_counter("shequ_tickets_created_total", NULL, "tickets created");
    tr->m_merged = sq_metric_counter("shequ_tickets_merged_total", NULL, "reports and alarms merged into an open ticket");
    tr->m_occurrence = sq_metric_counter("shequ_alarm_occurrences_total", NULL, "repeat alarms added to an open ticket");
    return tr;
}

void triage_free(triage *tr)
{
    if (!tr)
        return;
    sq_map_clear(tr->tickets, free);
    sq_map_clear(tr->repeats, free);
    sq_map_free(tr->tickets);
    sq_map_free(tr->by_place);
    sq_map_free(tr->by_device);
    sq_map_free(tr->repeats);
    sq_map_free(tr->load);
    sq_map_free(tr->seen);
    free(tr);
}

void triage_set_rules(triage *tr, const sq_rules *rules) { tr->rules = rules; }

void triage_sync_rules(triage *tr)
{
    if (tr->rules_owned)
        tr->rules = *tr->rules_owned;
}

void triage_watch_rules(triage *tr, const char *path, sq_rules **owned)
{
    tr->rules_path = path;
    tr->rules_owned = owned;
}
size_t triage_ticket_count(const triage *tr) { return sq_map_len(tr->tickets); }

/*
 * Input ids answered, kept for seen_window after the newest answer: only the inputs processed but not
 * yet committed when a triage stopped come again, and they come first after its restart. The window
 * runs from the newest answer, not from now, so a triage that was down for hours still knows the
 * inputs of its last moments.
 */
void seen_note(triage *tr, const char *cause, int64_t at_us)
{
    sq_map_put(tr->seen, cause, (void *)(intptr_t)at_us);
    if (at_us > tr->seen_newest_us)
        tr->seen_newest_us = at_us;
}

static int seen_expired(void *ctx, const char *key, void *value)
{
    const triage *tr = ctx;
    return (intptr_t)value < tr->seen_newest_us - tr->seen_window_us;
}

void triage_set_dedupe_window(triage *tr, int64_t window_us) { tr->seen_window_us = window_us; }

void triage_apply_log(void *arg, const Shequ__V1__TicketEvent *ev, int32_t partition, int64_t offset)
{
    triage *tr = arg;
    if (ev->cause_event_id && *ev->cause_event_id)
        seen_note(tr, ev->cause_event_id, ev->header && ev->header->produced_at_us ? ev->header->produced_at_us : 1);
    if (!ev->ticket_id || !*ev->ticket_id)
        return;
    bool known = sq_map_get(tr->tickets, ev->ticket_id) != NULL;
    entry *e = entry_get(tr, ev->ticket_id, ev->state != NULL);
    if (!e || (offset >= 0 && offset <= e->offset))
        return;
    if (offset >= 0)
        e->offset = offset;
    if (ev->state) {
        sq_ticket nt;
        sq_ticket_from_state(&nt, ev->state);
        entry_set(tr, e, &nt);
        /* a created ticket counts in its place's repeat history; so does a finished one whose events the
         * changelog no longer keeps but its last snapshot (it was created, unless it was merged) */
        if (ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED || (!known && e->t.status != SQ_ST_MERGED))
            repeat_note(tr, &e->t);
        return;
    }
    sq_ticket_apply_counters(&e->t, ev);
}

/* Forgets a closed ticket once the reopen window has passed (triage_tick sweeps every ticket about every 10 s). */
static int gc_ticket(void *ctx, const char *key, void *value)
{
    triage *tr = ctx;
    entry *e = value;
    int64_t now = sq_stream_now_us(tr->clock), keep = sq_rules_settings(tr->rules)->alarm_reopen_window_us;
    bool done = e->t.status == SQ_ST_CLOSED || e->t.status == SQ_ST_CANCELLED || e->t.status == SQ_ST_MERGED;
    if (!done || now - e->t.updated_us < keep)
        return 0;
    char k[256];
    device_key(k, sizeof k, e->t.device_id, e->t.alarm_type);
    if (e->t.device_id[0] && sq_map_get(tr->by_device, k) == e)
        sq_map_del(tr->by_device, k);
    free(e);
    return 1;
}

/* Forgets a place's repeat history once its newest ticket is older than the repeat window. */
static int repeat_expired(void *ctx, const char *key, void *value)
{
    const triage *tr = ctx;
    repeat_list *l = value;
    int64_t newest = 0, horizon = sq_stream_now_us(tr->clock) - sq_rules_settings(tr->rules)->repeat_window_us;
    for (int i = 0; i < l->n; i++)
        newest = l->times[i] > newest ? l->times[i] : newest;
    if (newest >= horizon)
        return 0;
    free(l);
    return 1;
}

void triage_tick(void *arg)
{
    triage *tr = arg;
    triage_sync_rules(tr);
    if (tr->rules_path && sq_service_reload_requested()) {
        char err[512];
        sq_rules *fresh = sq_rules_load(tr->rules_path, err, sizeof err);
        if (!fresh) {
            log_error("rules.reload_refused", "error=\"%s\" (keeping the rules in force)", err);
        } else {
            sq_rules_free(*tr->rules_owned);
            *tr->rules_owned = fresh;
            tr->rules = fresh;
            log_info("rules.reloaded", "path=%s", tr->rules_path);
        }
    }
    /* a hundredth of each map per tick (every 100 ms): each is swept every ~10 s, and no tick stops the
     * consumer for a walk over every ticket (that walk was a tail of the gateway → notification latency) */
    sq_map_sweep(tr->tickets, &tr->sweep_tickets, 100, gc_ticket, tr);
    sq_map_sweep(tr->seen, &tr->sweep_seen, 100, seen_expired, tr);
    sq_map_sweep(tr->repeats, &tr->sweep_repeats, 100, repeat_expired, tr);
    sq_directory_refresh(tr->dir, 5000);
}
