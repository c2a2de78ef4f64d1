/*
 * triage.c — the decisions of triage.h wired to the bus: classify, merge, assign and emit.
 */
#include "assign.h"
#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "triage_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- emitting */

static int emit(triage *tr, Shequ__V1__TicketEvent *ev, entry *e, bool with_state, const char *type,
                const char *actor, const char *cause, int64_t at, char id[SQ_UUID_LEN])
{
    int rc = sq_emit_ticket_event(tr->em, ev, &e->t, with_state, type, actor, cause, at, id);
    if (rc == SQ_OK)
        seen_note(tr, cause, sq_now_us());
    return rc;
}

static void summarize(sq_ticket *t, const sq_category *cat)
{
    if (t->building[0] && t->unit[0])
        snprintf(t->summary, sizeof t->summary, "%s %s栋%s单元", cat->name_zh, t->building, t->unit);
    else if (t->building[0])
        snprintf(t->summary, sizeof t->summary, "%s %s栋", cat->name_zh, t->building);
    else
        snprintf(t->summary, sizeof t->summary, "%s", cat->name_zh);
}

/* Picks the assignee: eligible staff with fewest open tickets, else the manager (flagged). */
static void assign(triage *tr, sq_ticket *t, int *open_load)
{
    sq_directory_refresh(tr->dir, 5000);
    const sq_community *c = sq_directory_community(tr->dir, t->community_id);
    if (!c && sq_directory_refresh(tr->dir, 1000) == SQ_OK) /* maybe added a moment ago */
        c = sq_directory_community(tr->dir, t->community_id);
    t->fallback = true;
    t->assignee_id[0] = '\0';
    *open_load = 0;
    if (!c) {
        log_warn("assign.unknown_community", "ticket=%s community=%s", t->ticket_id, t->community_id);
        return;
    }
    sq_strlcpy_utf8(t->company_id, c->company_id, sizeof t->company_id);
    const sq_staff *const *staff;
    int n = sq_directory_company_staff(tr->dir, c->company_id, &staff);
    int few[64]; /* a company's staff, as a rule: no allocation per ticket */
    int *open = n <= 64 ? few : calloc((size_t)n, sizeof *open);
    if (!open) {
        log_warn("assign.no_memory", "ticket=%s staff=%d", t->ticket_id, n);
        return;
    }
    for (int i = 0; i < n; i++)
        open[i] = load_of(tr, t->community_id, staff[i]->staff_id);
    /* ties: by the ticket id's hash, the same on every instance and after any restore */
    int pick = sq_assign_choose(staff, n, open, t->category, (unsigned)sq_fnv1a(t->ticket_id, strlen(t->ticket_id)));
    if (pick >= 0) {
        sq_strlcpy_utf8(t->assignee_id, staff[pick]->staff_id, sizeof t->assignee_id);
        t->fallback = false;
        *open_load = open[pick];
        if (open != few)
            free(open);
        return;
    }
    if (open != few)
        free(open);
    const sq_staff *m = sq_directory_manager(tr->dir, c->company_id);
    if (m) {
        sq_strlcpy_utf8(t->assignee_id, m->staff_id, sizeof t->assignee_id);
        *open_load = load_of(tr, t->community_id, m->staff_id);
    }
    log_warn("assign.fallback", "ticket=%s company=%s category=%s manager=%s", t->ticket_id, c->company_id,
             t->category, m ? m->staff_id : "none");
}

static const char *supervisor_of(triage *tr, const char *community)
{
    const sq_staff *s = sq_directory_supervisor(tr->dir, community);
    return s ? s->community_id : community; /* supervisors are addressed by community */
}

/* Creates a new ticket: created + assigned events and the notifications. */
static int create_ticket(triage *tr, entry *e, const sq_category *cat, const char *cause, int64_t at,
                         const char *description)
{
    sq_ticket *t = &e->t;
    summarize(t, cat);
    sq_ticket_start_clocks(t, tr->rules, at);
    const sq_settings *s = sq_rules_settings(tr->rules);
    char key[256];
    place_key(key, sizeof key, t->community_id, t->building, t->category);
    repeat_list *rl = t->building[0] ? sq_map_get(tr->repeats, key) : NULL;
    int repeats = 1 + (rl ? sq_repeat_count(rl->times, rl->n, at, s->repeat_window_us) : 0);
    t->repeat = t->building[0] && repeats >= s->repeat_threshold;
    int load;
    assign(tr, t, &load);
    t->status = SQ_ST_ASSIGNED;
    t->reporter_count = t->reporter_count ? t->reporter_count : (t->source[0] == 'r');
    char created_id[SQ_UUID_LEN], assigned_id[SQ_UUID_LEN];
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Created cr = SHEQU__V1__CREATED__INIT;
    cr.origin_id = t->origin_id;
    cr.source = t->source;
    cr.category = t->category;
    cr.tier = t->tier;
    cr.repeat = t->repeat;
    cr.repeat_count = repeats;
    cr.description = (char *)(description ? description : "");
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CREATED;
    ev.created = &cr;
    int rc = sq_emit_ticket_event(tr->em, &ev, t, true, "created", "triage", cause, at, created_id);
    Shequ__V1__Assigned as = SHEQU__V1__ASSIGNED__INIT;
    as.assignee_id = t->assignee_id;
    as.company_id = t->company_id;
    as.fallback = t->fallback;
    as.open_load = load;
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED;
    ev.assigned = &as;
    if (rc == SQ_OK)
        rc = emit(tr, &ev, e, true, "assigned", "triage", cause, at, assigned_id);
    if (rc != SQ_OK)
        return rc;
    entry_set(tr, e, t);
    repeat_note(tr, t);
    sq_metric_add(tr->m_created, 1);
    const sq_emitter *em = tr->em;
    sq_emit_notification(em, t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, t->assignee_id,
                         t->fallback ? "assigned_fallback" : "assigned", assigned_id, NULL, 0, e->phone, e->phone_len);
    if (t->reporter_id[0])
        sq_emit_notification(em, t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT, t->reporter_id, "assigned",
                             assigned_id, NULL, 0, NULL, 0);
    if (strcmp(t->tier, "urgent") == 0)
        sq_emit_notification(em, t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_SUPERVISOR,
                             supervisor_of(tr, t->community_id), "urgent", created_id, NULL, 0, NULL, 0);
    if (t->repeat)
        sq_emit_notification(em, t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_SUPERVISOR,
                             supervisor_of(tr, t->community_id), "repeat", created_id, "repeat", repeats, NULL, 0);
    log_info("ticket.created", "ticket=%s tier=%s category=%s assignee=%s%s%s", t->ticket_id, t->tier, t->category,
             t->assignee_id, t->fallback ? " fallback=true" : "", t->repeat ? " repeat=true" : "");
    return SQ_OK;
}

/* An open ticket for the same place and category within the merge window, or NULL. */
static entry *merge_target(triage *tr, const sq_ticket *t, int64_t at)
{
    if (!t->building[0])
        return NULL;
    char key[256];
    place_key(key, sizeof key, t->community_id, t->building, t->category);
    entry *e = sq_map_get(tr->by_place, key);
    if (e && sq_status_open(e->t.status) &&
        sq_merge_within(e->t.created_us, at, sq_rules_settings(tr->rules)->merge_window_us))
        return e;
    return NULL;
}

/* ------------------------------------------------------------------ inputs */

static void copy_str(char *dst, size_t n, const char *src) { sq_strlcpy_utf8(dst, src ? src : "", n); }
#define COPY(dst, src) copy_str(dst, sizeof dst, src)

static int handle_report(triage *tr, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__ResidentReport *r = shequ__v1__resident_report__unpack(NULL, m->len, m->payload);
    if (!r)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a ResidentReport");
    int rc = SQ_OK;
    const char *missing = !r->header || !*r->header->event_id ? "header.event_id"
                          : !*r->header->community_id          ? "header.community_id"
                          : !*r->report_id                     ? "report_id"
                          : !*r->reporter_id                   ? "reporter_id"
                          : !*r->category                      ? "category"
                                                               : NULL;
    const sq_category *cat = missing ? NULL : sq_rules_category(tr->rules, r->category);
    if (missing) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "%s is empty", missing);
        goto out;
    }
    if (!cat) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "unknown_category"), "category '%.64s'", r->category);
        goto out;
    }
    const char *cause = r->header->event_id;
    char ticket_id[SQ_TICKET_ID_MAX];
    sq_ticket_id_make(ticket_id, r->header->community_id, r->report_id);
    if (sq_map_get(tr->seen, cause) || sq_map_get(tr->tickets, ticket_id))
        goto out; /* already answered (redelivery or replay) */
    int64_t at = sq_message_time_us(m);
    sq_ticket t = { 0 };
    COPY(t.ticket_id, ticket_id);
    COPY(t.community_id, r->header->community_id);
    COPY(t.source, "report");
    COPY(t.category, cat->code);
    const char *kw = sq_rules_keyword_tier(tr->rules, r->description);
    COPY(t.tier, kw ? kw : cat->tier);
    COPY(t.building, r->building);
    COPY(t.unit, r->unit);
    COPY(t.origin_id, r->report_id);
    COPY(t.reporter_id, r->reporter_id);
    if (r->location) {
        t.has_location = true;
        t.lat = r->location->lat;
        t.lon = r->location->lon;
    }
    t.reporter_count = 1;
    entry *target = merge_target(tr, &t, at);
    if (target) {
        target->t.reporter_count++;
        Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
        Shequ__V1__Merged mg = SHEQU__V1__MERGED__INIT;
        mg.from_ticket_id = t.ticket_id;
        mg.origin_id = t.origin_id;
        mg.reporter_id = t.reporter_id;
        mg.reporter_count = target->t.reporter_count;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_MERGED;
        ev.merged = &mg;
        rc = emit(tr, &ev, target, false, "merged", "triage", cause, at, NULL);
        t.status = SQ_ST_MERGED;
        COPY(t.merged_into, target->t.ticket_id);
        summarize(&t, cat);
        t.created_us = t.updated_us = at;
        entry *ne = entry_get(tr, t.ticket_id, true);
        ne->t = t;
        Shequ__V1__Merged mg2 = SHEQU__V1__MERGED__INIT;
        mg2.into_ticket_id = target->t.ticket_id;
        mg2.origin_id = t.origin_id;
        mg2.reporter_id = t.reporter_id;
        mg2.reporter_count = target->t.reporter_count;
        ev.merged = &mg2;
        char id[SQ_UUID_LEN];
        if (rc == SQ_OK)
            rc = emit(tr, &ev, ne, true, "merged", "triage", cause, at, id);
        if (rc == SQ_OK)
            sq_emit_notification(tr->em, &target->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT, t.reporter_id,
                                 "merged", id, NULL, 0, NULL, 0);
        sq_metric_add(tr->m_merged, 1);
        log_info("ticket.merged", "report=%s into=%s reporters=%d", r->report_id, target->t.ticket_id,
                 target->t.reporter_count);
        goto out;
    }
    entry *e = entry_get(tr, t.ticket_id, true);
    e->t = t;
    e->t.status = SQ_ST_UNKNOWN;
    if (r->phone_sealed.len && r->phone_sealed.len <= sizeof e->phone) {
        memcpy(e->phone, r->phone_sealed.data, r->phone_sealed.len);
        e->phone_len = r->phone_sealed.len;
    }
    sq_ticket nt = t;
    e->t = nt;
    rc = create_ticket(tr, e, cat, cause, at, r->description);
out:
    shequ__v1__resident_report__free_unpacked(r, NULL);
    return rc;
}

static int handle_alarm(triage *tr, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__DeviceAlarm *a = shequ__v1__device_alarm__unpack(NULL, m->len, m->payload);
    if (!a)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a DeviceAlarm");
    int rc = SQ_OK;
    const char *missing = !a->header || !*a->header->event_id ? "header.event_id"
                          : !*a->header->community_id          ? "header.community_id"
                          : !*a->alarm_id                      ? "alarm_id"
                          : !*a->device_id                     ? "device_id"
                          : !*a->type                          ? "type"
                          : a->state == SHEQU__V1__ALARM_STATE__ALARM_STATE_UNSPECIFIED ? "state"
                                                               : NULL;
    const char *tier = NULL;
    const sq_category *cat = missing ? NULL : sq_rules_alarm_category(tr->rules, a->type, &tier);
    if (missing) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "%s is empty", missing);
        goto out;
    }
    if (!cat) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "unknown_alarm_type"), "type '%.64s'", a->type);
        goto out;
    }
    const char *cause = a->header->event_id;
    if (sq_map_get(tr->seen, cause))
        goto out;
    int64_t at = sq_message_time_us(m);
    char key[256];
    device_key(key, sizeof key, a->device_id, a->type);
    entry *e = sq_map_get(tr->by_device, key);
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    char id[SQ_UUID_LEN];
    const sq_settings *s = sq_rules_settings(tr->rules);
    if (a->state == SHEQU__V1__ALARM_STATE__ALARM_STATE_CLEARED) {
        if (!e) {
            log_info("alarm.cleared_without_ticket", "device=%s type=%s", a->device_id, a->type);
            goto out;
        }
        Shequ__V1__DeviceCleared dc = SHEQU__V1__DEVICE_CLEARED__INIT;
        dc.alarm_id = a->alarm_id;
        dc.device_id = a->device_id;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_DEVICE_CLEARED;
        ev.device_cleared = &dc;
        rc = emit(tr, &ev, e, false, "device_cleared", a->device_id, cause, at, id);
        if (rc == SQ_OK && e->t.status == SQ_ST_RESOLVED) { /* the repair is confirmed */
            sq_ticket nt = e->t;
            nt.status = SQ_ST_CLOSED;
            nt.closed_us = nt.updated_us = at;
            e->t = nt;
            Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
            cl.reason = "device_cleared";
            ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED;
            ev.closed = &cl;
            rc = emit(tr, &ev, e, true, "closed", a->device_id, cause, at, id);
            entry_set(tr, e, &nt);
        }
        goto out;
    }
    if (e && e->t.status == SQ_ST_RESOLVED && at - e->t.resolved_us <= s->alarm_reopen_window_us) {
        sq_ticket nt = e->t;
        sq_ticket_reopen(&nt, at);
        e->t = nt;
        Shequ__V1__Reopened ro = SHEQU__V1__REOPENED__INIT;
        ro.reason = "alarm_returned";
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_REOPENED;
        ev.reopened = &ro;
        rc = emit(tr, &ev, e, true, "reopened", a->device_id, cause, at, id);
        entry_set(tr, e, &nt);
        if (rc == SQ_OK)
            sq_emit_notification(tr->em, &e->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, e->t.assignee_id,
                                 "reopened", id, "alarm_returned", 0, NULL, 0);
        goto out;
    }
    if (!e || !sq_status_open(e->t.status)) {
        sq_ticket probe = { 0 };
        COPY(probe.community_id, a->header->community_id);
        COPY(probe.building, a->building);
        COPY(probe.category, cat->code);
        e = merge_target(tr, &probe, at); /* a camera and a resident reporting the same thing */
        if (e && !e->t.device_id[0]) {
            COPY(e->t.device_id, a->device_id);
            COPY(e->t.alarm_type, a->type);
            sq_map_put(tr->by_device, key, e);
        }
    }
    if (e && sq_status_open(e->t.status)) {
        e->t.occurrence_count++;
        Shequ__V1__Occurrence oc = SHEQU__V1__OCCURRENCE__INIT;
        oc.alarm_id = a->alarm_id;
        oc.device_id = a->device_id;
        oc.level = a->level;
        oc.occurrence_count = e->t.occurrence_count;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE;
        ev.occurrence = &oc;
        rc = emit(tr, &ev, e, false, "occurrence", a->device_id, cause, at, id);
        sq_metric_add(tr->m_occurrence, 1);
        goto out;
    }
    char ticket_id[SQ_TICKET_ID_MAX];
    sq_ticket_id_make(ticket_id, a->header->community_id, a->alarm_id);
    if (sq_map_get(tr->tickets, ticket_id))
        goto out;
    e = entry_get(tr, ticket_id, true);
    sq_ticket *t = &e->t;
    COPY(t->ticket_id, ticket_id);
    COPY(t->community_id, a->header->community_id);
    COPY(t->source, "alarm");
    COPY(t->category, cat->code);
    COPY(t->tier, tier);
    COPY(t->building, a->building);
    COPY(t->unit, a->unit);
    COPY(t->origin_id, a->alarm_id);
    COPY(t->device_id, a->device_id);
    COPY(t->alarm_type, a->type);
    t->occurrence_count = 1;
    rc = create_ticket(tr, e, cat, cause, at, a->type);
out:
    shequ__v1__device_alarm__free_unpacked(a, NULL);
    return rc;
}

int triage_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    triage *tr = arg;
    triage_sync_rules(tr);
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (strcmp(topic, tr->topics.tickets) == 0) {
        Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
        if (ev) { /* an undecodable log event is the recorder's to report, not ours */
            triage_apply_log(tr, ev, m->partition, m->offset);
            shequ__v1__ticket_event__free_unpacked(ev, NULL);
        }
        return SQ_OK;
    }
    if (strcmp(topic, tr->topics.reports) == 0)
        return handle_report(tr, m, reason, rlen, detail, dlen);
    return handle_alarm(tr, m, reason, rlen, detail, dlen);
}
