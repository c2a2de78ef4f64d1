/*
 * workflow.c — the decisions of workflow.h wired to the bus.
 */
#include "workflow.h"
#include "map.h"
#include "shequ/v1/feedback.pb-c.h"
#include "shequ/v1/property.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    sq_ticket t;
    int64_t offset;   /* last tickets.v1 offset applied */
    int pending_own;  /* our events produced but not yet seen back on the log */
} entry;

struct workflow {
    const sq_rules *rules;   /* *rules_owned, read again at every handle and tick (a reload frees the old) */
    sq_directory *dir;
    const sq_emitter *em;    /* &emitter */
    sq_emitter emitter;      /* the service's, writing to this model's partition */
    const sq_streamclock *clock;
    int64_t since_us;        /* when this model was made: an unknown ticket's hold starts no earlier */
    workflow_options o;
    sq_map *tickets;
    sq_map *seen;
    size_t sweep_cursor;
    const char *rules_path;
    sq_rules **rules_owned;
    sq_metric *m_applied, *m_rejected;
};

workflow *workflow_new(const sq_rules *rules, sq_directory *dir, const sq_emitter *em, const workflow_options *o,
                       int32_t partition, const sq_streamclock *clock)
{
    workflow *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->rules = rules;
    w->dir = dir;
    w->emitter = *em;
    w->emitter.fixed_partition = true;
    w->emitter.partition = partition;
    w->em = &w->emitter;
    w->clock = clock;
    w->since_us = sq_now_us();
    w->o = *o;
    w->tickets = sq_map_new(1024);
    w->seen = sq_map_new(4096);
    w->m_applied = sq_metric_counter("shequ_actions_applied_total", NULL, "staff actions and ratings applied");
    w->m_rejected = sq_metric_counter("shequ_actions_rejected_total", NULL, "staff actions and ratings rejected");
    return w;
}


void workflow_free(workflow *w)
{
    if (!w)
        return;
    sq_map_clear(w->tickets, free);
    sq_map_free(w->tickets);
    sq_map_free(w->seen);
    free(w);
}

size_t workflow_ticket_count(const workflow *w) { return sq_map_len(w->tickets); }

void workflow_watch_rules(workflow *w, const char *path, sq_rules **owned)
{
    w->rules_path = path;
    w->rules_owned = owned;
}

void workflow_apply_log(void *arg, const Shequ__V1__TicketEvent *ev, int32_t partition, int64_t offset)
{
    workflow *w = arg;
    if (ev->cause_event_id && *ev->cause_event_id)
        sq_map_put(w->seen, ev->cause_event_id, (void *)1);
    if (!ev->ticket_id || !*ev->ticket_id)
        return;
    entry *e = sq_map_get(w->tickets, ev->ticket_id);
    if (!e && !ev->state)
        return;
    if (!e) {
        e = calloc(1, sizeof *e);
        e->offset = -1;
        sq_map_put(w->tickets, ev->ticket_id, e);
    }
    if (offset <= e->offset)
        return;
    e->offset = offset;
    bool own = ev->header && ev->header->source && strcmp(ev->header->source, w->em->service) == 0;
    if (own && e->pending_own > 0) {
        e->pending_own--; /* our local state is already at least this new */
        return;
    }
    if (ev->state)
        sq_ticket_take_snapshot(&e->t, ev->state);
    else
        sq_ticket_apply_counters(&e->t, ev);
}

static int emit(workflow *w, entry *e, Shequ__V1__TicketEvent *ev, bool with_state, const char *type,
                const char *actor, const char *cause, int64_t at, char id[SQ_UUID_LEN])
{
    int rc = sq_emit_ticket_event(w->em, ev, &e->t, with_state, type, actor, cause, at, id);
    if (rc == SQ_OK) {
        e->pending_own++;
        sq_map_put(w->seen, cause, (void *)1);
    }
    return rc;
}

static int emit_rejection(workflow *w, entry *e, const char *action, const char *reason, const char *detail,
                          const char *actor, Shequ__V1__RecipientKind kind, const char *cause, int64_t at)
{
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Rejected rj = SHEQU__V1__REJECTED__INIT;
    rj.action = (char *)action;
    rj.reason = (char *)reason;
    rj.detail = (char *)detail;
    rj.cause_event_id = (char *)cause;
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_REJECTED;
    ev.rejected = &rj;
    char id[SQ_UUID_LEN];
    int rc = emit(w, e, &ev, false, "rejected", actor, cause, at, id);
    if (rc == SQ_OK)
        sq_emit_notification(w->em, &e->t, kind, actor, "rejected", id, reason, 0, NULL, 0);
    sq_metric_add(w->m_rejected, 1);
    log_info("action.rejected", "ticket=%s action=%s actor=%s reason=%s", e->t.ticket_id, action, actor, reason);
    return rc;
}

static sq_actor_kind actor_kind(workflow *w, const sq_ticket *t, const char *actor_id)
{
    sq_directory_refresh(w->dir, 5000);
    const sq_staff *s = sq_directory_staff(w->dir, actor_id);
    if (!s && sq_directory_refresh(w->dir, 1000) == SQ_OK) /* maybe added a moment ago */
        s = sq_directory_staff(w->dir, actor_id);
    if (!s)
        return SQ_ACTOR_UNKNOWN;
    if (strcmp(t->assignee_id, actor_id) == 0)
        return SQ_ACTOR_ASSIGNEE;
    if (s->role == SQ_ROLE_MANAGER && strcmp(s->company_id, t->company_id) == 0)
        return SQ_ACTOR_MANAGER;
    if (s->role == SQ_ROLE_SUPERVISOR && strcmp(s->community_id, t->community_id) == 0)
        return SQ_ACTOR_SUPERVISOR;
    const sq_community *c = sq_directory_community(w->dir, t->community_id);
    if (s->role == SQ_ROLE_STREET && c && strcmp(s->street_id, c->street_id) == 0)
        return SQ_ACTOR_SUPERVISOR;
    return SQ_ACTOR_OTHER_STAFF;
}

/* Looks the ticket up; an unknown one is retried while it may still be racing triage's `created`. */
static int find_ticket(workflow *w, const rd_kafka_message_t *m, const char *ticket_id, entry **out, char *reason,
                       size_t rlen, char *detail, size_t dlen)
{
    *out = sq_map_get(w->tickets, ticket_id);
    if (*out)
        return SQ_OK;
    int64_t ts = rd_kafka_message_timestamp(m, NULL) * 1000;
    if (ts < w->since_us)
        ts = w->since_us; /* caught up after downtime: triage may be catching up too */
    if (sq_now_us() - ts > w->o.unknown_ticket_hold_us)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "unknown_ticket"), "ticket '%.64s' is not known",
                       ticket_id);
    return sq_fail(detail, dlen, SQ_RETRY, "ticket %.64s not seen yet", ticket_id);
}

static int handle_action(workflow *w, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__PropertyEvent *p = shequ__v1__property_event__unpack(NULL, m->len, m->payload);
    if (!p)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a PropertyEvent");
    int rc = SQ_OK;
    const char *missing = !p->header || !*p->header->event_id ? "header.event_id"
                          : !*p->ticket_id                     ? "ticket_id"
                          : !*p->actor_id                      ? "actor_id"
                                                               : NULL;
    entry *e = NULL;
    if (missing) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "%s is empty", missing);
        goto out;
    }
    if (p->action <= SHEQU__V1__ACTION__ACTION_UNSPECIFIED || p->action > SHEQU__V1__ACTION__ACTION_CANCEL) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "unknown_action"), "action %d", (int)p->action);
        goto out;
    }
    const char *cause = p->header->event_id;
    if (sq_map_get(w->seen, cause))
        goto out;
    if ((rc = find_ticket(w, m, p->ticket_id, &e, reason, rlen, detail, dlen)) != SQ_OK)
        goto out;
    int64_t at = sq_message_time_us(m);
    sq_action_input in = { .action = (sq_action)p->action, .now_us = at, .deadline_us = p->deadline_us,
                           .to = p->to, .nphotos = (int)p->n_photos, .note = p->note };
    in.actor = actor_kind(w, &e->t, p->actor_id);
    if (p->to && *p->to) {
        const sq_staff *to = sq_directory_staff(w->dir, p->to);
        if (!to && sq_directory_refresh(w->dir, 1000) == SQ_OK)
            to = sq_directory_staff(w->dir, p->to);
        in.to_known = to && (!e->t.company_id[0] || strcmp(to->company_id, e->t.company_id) == 0);
    }
    if (p->location) {
        in.has_location = true;
        in.lat = p->location->lat;
        in.lon = p->location->lon;
    }
    sq_ticket before = e->t;
    sq_action_result res;
    sq_ticket_apply_action(&e->t, w->rules, &in, &res);
    if (res.rejected) {
        rc = emit_rejection(w, e, sq_action_name(in.action), res.reason, res.detail, p->actor_id,
                            SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, cause, at);
        goto out;
    }
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Responded rs = SHEQU__V1__RESPONDED__INIT;
    Shequ__V1__Reported rp = SHEQU__V1__REPORTED__INIT;
    Shequ__V1__Planned pl = SHEQU__V1__PLANNED__INIT;
    Shequ__V1__Paused pa = SHEQU__V1__PAUSED__INIT;
    Shequ__V1__Resumed re = SHEQU__V1__RESUMED__INIT;
    Shequ__V1__Resolved rv = SHEQU__V1__RESOLVED__INIT;
    Shequ__V1__Transferred tr = SHEQU__V1__TRANSFERRED__INIT;
    Shequ__V1__Cancelled cn = SHEQU__V1__CANCELLED__INIT;
    switch (in.action) {
    case SQ_ACT_ACCEPT:
    case SQ_ACT_ARRIVE:
    case SQ_ACT_CONTACT:
        rs.action = (char *)sq_action_name(in.action);
        rs.location_flagged = res.location_flagged;
        rs.distance_m = res.distance_m;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESPONDED;
        ev.responded = &rs;
        break;
    case SQ_ACT_REPORT:
        rp.note = p->note;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_REPORTED;
        ev.reported = &rp;
        break;
    case SQ_ACT_PLAN:
        pl.deadline_us = p->deadline_us;
        pl.measures = p->note;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_PLANNED;
        ev.planned = &pl;
        break;
    case SQ_ACT_PAUSE:
        pa.reason = p->note;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_PAUSED;
        ev.paused = &pa;
        break;
    case SQ_ACT_RESUME: {
        sq_tclock *c = sq_ticket_clock(&before, "resolve");
        re.paused_for_us = c && c->paused_since_us ? at - c->paused_since_us : 0;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESUMED;
        ev.resumed = &re;
        break;
    }
    case SQ_ACT_RESOLVE:
        rv.note = p->note;
        rv.n_photos = p->n_photos;
        rv.photos = p->photos;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESOLVED;
        ev.resolved = &rv;
        break;
    case SQ_ACT_TRANSFER:
        tr.from_id = before.assignee_id;
        tr.to_id = p->to;
        tr.note = p->note;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_TRANSFERRED;
        ev.transferred = &tr;
        break;
    case SQ_ACT_CANCEL:
        cn.reason = p->note;
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CANCELLED;
        ev.cancelled = &cn;
        break;
    default:
        break;
    }
    char id[SQ_UUID_LEN];
    rc = emit(w, e, &ev, true, res.event, p->actor_id, cause, at, id);
    if (rc != SQ_OK) {
        e->t = before;
        goto out;
    }
    sq_metric_add(w->m_applied, 1);
    const sq_emitter *em = w->em;
    Shequ__V1__RecipientKind resident = SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT;
    if (in.action == SQ_ACT_RESOLVE && e->t.reporter_id[0])
        sq_emit_notification(em, &e->t, resident, e->t.reporter_id, "resolved", id, NULL, 0, NULL, 0);
    else if (in.action == SQ_ACT_CANCEL && e->t.reporter_id[0])
        sq_emit_notification(em, &e->t, resident, e->t.reporter_id, "cancelled", id, p->note, 0, NULL, 0);
    else if (in.action == SQ_ACT_TRANSFER)
        sq_emit_notification(em, &e->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, p->to, "transferred", id,
                             NULL, 0, NULL, 0);
    log_info("action.applied", "ticket=%s action=%s actor=%s status=%s", e->t.ticket_id, sq_action_name(in.action),
             p->actor_id, sq_status_name(e->t.status));
out:
    shequ__v1__property_event__free_unpacked(p, NULL);
    return rc;
}

static int handle_feedback(workflow *w, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__ResidentFeedback *f = shequ__v1__resident_feedback__unpack(NULL, m->len, m->payload);
    if (!f)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a ResidentFeedback");
    int rc = SQ_OK;
    entry *e = NULL;
    const char *missing = !f->header || !*f->header->event_id ? "header.event_id"
                          : !*f->ticket_id                     ? "ticket_id"
                          : !*f->reporter_id                   ? "reporter_id"
                          : f->rating == 0                     ? "rating"
                                                               : NULL;
    if (missing) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "%s is empty", missing);
        goto out;
    }
    const char *cause = f->header->event_id;
    if (sq_map_get(w->seen, cause))
        goto out;
    if ((rc = find_ticket(w, m, f->ticket_id, &e, reason, rlen, detail, dlen)) != SQ_OK)
        goto out;
    int64_t at = sq_message_time_us(m);
    sq_ticket before = e->t;
    sq_feedback_result res;
    sq_ticket_apply_feedback(&e->t, f->reporter_id, (int)f->rating, f->reopen, w->o.reopen_on_unsatisfied, at, &res);
    if (res.rejected) {
        rc = emit_rejection(w, e, "feedback", res.reason, "", f->reporter_id,
                            SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT, cause, at);
        goto out;
    }
    sq_ticket after = e->t;
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Rated ra = SHEQU__V1__RATED__INIT;
    ra.rating = f->rating;
    ra.comment = f->comment;
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RATED;
    ev.rated = &ra;
    e->t = before; /* the rating as such, on the resolved ticket */
    e->t.rating = (int)f->rating;
    char id[SQ_UUID_LEN];
    rc = emit(w, e, &ev, true, "rated", f->reporter_id, cause, at, id);
    e->t = after;
    Shequ__V1__Reopened ro = SHEQU__V1__REOPENED__INIT;
    Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
    if (res.reopened) {
        ro.reason = f->reopen ? "requested" : "unsatisfied";
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_REOPENED;
        ev.reopened = &ro;
    } else {
        cl.reason = "rated";
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED;
        ev.closed = &cl;
    }
    if (rc == SQ_OK)
        rc = emit(w, e, &ev, true, res.reopened ? "reopened" : "closed", f->reporter_id, cause, at, id);
    if (rc != SQ_OK) {
        e->t = before;
        goto out;
    }
    sq_metric_add(w->m_applied, 1);
    sq_emit_notification(w->em, &e->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT, f->reporter_id,
                         res.reopened ? "reopened" : "closed", id, NULL, 0, NULL, 0);
    if (res.reopened)
        sq_emit_notification(w->em, &e->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, e->t.assignee_id,
                             "reopened", id, ro.reason, 0, NULL, 0);
    log_info("feedback.applied", "ticket=%s rating=%d status=%s", e->t.ticket_id, (int)f->rating,
             sq_status_name(e->t.status));
out:
    shequ__v1__resident_feedback__free_unpacked(f, NULL);
    return rc;
}

int workflow_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    workflow *w = arg;
    if (w->rules_owned)
        w->rules = *w->rules_owned;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (strcmp(topic, w->o.tickets_topic) == 0) {
        Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
        if (ev) {
            workflow_apply_log(w, ev, m->partition, m->offset);
            shequ__v1__ticket_event__free_unpacked(ev, NULL);
        }
        return SQ_OK;
    }
    if (strcmp(topic, w->o.actions_topic) == 0)
        return handle_action(w, m, reason, rlen, detail, dlen);
    return handle_feedback(w, m, reason, rlen, detail, dlen);
}

/* Closes resolved tickets nobody rated within close_after; forgets finished tickets after a day. */
static int sweep(void *ctx, const char *key, void *value)
{
    workflow *w = ctx;
    entry *e = value;
    int64_t now = sq_stream_now_us(w->clock), close_after = sq_rules_settings(w->rules)->close_after_us;
    if (e->t.status == SQ_ST_RESOLVED && now - e->t.resolved_us >= close_after) {
        /* in event time: closed when the time ran out, once no rating came before it (stream time) */
        int64_t at = e->t.resolved_us + close_after;
        char cause[160];
        snprintf(cause, sizeof cause, "close-timeout:%s:%lld", e->t.ticket_id, (long long)e->t.resolved_us);
        sq_ticket before = e->t;
        e->t.status = SQ_ST_CLOSED;
        e->t.closed_us = e->t.updated_us = at;
        Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
        Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
        cl.reason = "timeout";
        ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED;
        ev.closed = &cl;
        char id[SQ_UUID_LEN];
        if (emit(w, e, &ev, true, "closed", "workflow", cause, at, id) != SQ_OK)
            e->t = before;
        else if (e->t.reporter_id[0])
            sq_emit_notification(w->em, &e->t, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_RESIDENT, e->t.reporter_id,
                                 "closed", id, "timeout", 0, NULL, 0);
        return 0;
    }
    bool done = e->t.status == SQ_ST_CLOSED || e->t.status == SQ_ST_CANCELLED || e->t.status == SQ_ST_MERGED;
    if (done && now - e->t.updated_us > 86400 * SQ_US_PER_S) {
        free(e);
        return 1;
    }
    return 0;
}

void workflow_tick(void *arg)
{
    workflow *w = arg;
    if (w->rules_owned)
        w->rules = *w->rules_owned;
    if (w->rules_path && sq_service_reload_requested()) {
        char err[512];
        sq_rules *fresh = sq_rules_load(w->rules_path, err, sizeof err);
        if (!fresh) {
            log_error("rules.reload_refused", "error=\"%s\" (keeping the rules in force)", err);
        } else {
            sq_rules_free(*w->rules_owned);
            *w->rules_owned = fresh;
            w->rules = fresh;
            log_info("rules.reloaded", "path=%s", w->rules_path);
        }
    }
    sq_map_sweep(w->tickets, &w->sweep_cursor, 100, sweep, w); /* all of it every ~10 s, a slice per tick */
}
