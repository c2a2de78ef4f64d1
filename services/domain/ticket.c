/*
 * ticket.c — the ticket state machine and its clocks. Pure functions.
 */
#include "ticket.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *status_names[] = { "unknown", "assigned", "in_progress", "paused", "resolved",
                                      "closed", "merged", "cancelled" };
static const char *action_names[] = { "none", "accept", "arrive", "contact", "report", "plan",
                                      "pause", "resume", "resolve", "transfer", "cancel" };

const char *sq_status_name(sq_status s) { return (unsigned)s <= SQ_ST_CANCELLED ? status_names[s] : "unknown"; }
const char *sq_action_name(sq_action a) { return (unsigned)a <= SQ_ACT_CANCEL ? action_names[a] : "none"; }
bool sq_status_open(sq_status s) { return s == SQ_ST_ASSIGNED || s == SQ_ST_IN_PROGRESS || s == SQ_ST_PAUSED; }

sq_tclock *sq_ticket_clock(sq_ticket *t, const char *name)
{
    for (int i = 0; i < t->nclocks; i++)
        if (strcmp(t->clocks[i].name, name) == 0)
            return &t->clocks[i];
    return NULL;
}

int sq_ticket_start_clocks(sq_ticket *t, const sq_rules *rules, int64_t created_us)
{
    const sq_tier_rule *tier = sq_rules_tier(rules, t->tier);
    if (!tier)
        return SQ_INVALID;
    t->nclocks = 0;
    for (int i = 0; i < tier->nclocks; i++) {
        sq_tclock *c = &t->clocks[t->nclocks++];
        memset(c, 0, sizeof *c);
        sq_strlcpy_utf8(c->name, tier->clocks[i].name, sizeof c->name);
        c->target_us = tier->clocks[i].target_us;
        c->started_us = created_us;
        c->due_us = sq_calendar_add(tier->cal, created_us, c->target_us);
    }
    t->created_us = t->updated_us = created_us;
    return SQ_OK;
}

/* The working calendar of the ticket's tier, or NULL for wall time. */
static const sq_calendar *tier_calendar(const sq_rules *rules, const sq_ticket *t)
{
    const sq_tier_rule *tier = sq_rules_tier(rules, t->tier);
    return tier ? tier->cal : NULL;
}

/* Ends a pause of c at now: the deadline moves by the clock time (working time on a calendar) it took. */
static void unpause(sq_tclock *c, const sq_calendar *cal, int64_t now)
{
    int64_t skipped = sq_calendar_elapsed(cal, c->paused_since_us, now);
    c->paused_total_us += skipped;
    c->due_us = sq_calendar_add(cal, c->due_us, skipped);
    c->paused_since_us = 0;
}

static const sq_clock_rule *clock_rule(const sq_rules *rules, const sq_ticket *t, const char *name)
{
    const sq_tier_rule *tier = sq_rules_tier(rules, t->tier);
    for (int i = 0; tier && i < tier->nclocks; i++)
        if (strcmp(tier->clocks[i].name, name) == 0)
            return &tier->clocks[i];
    return NULL;
}

static bool stops_on(const sq_clock_rule *r, const char *event)
{
    for (int i = 0; r && i < r->nstops; i++)
        if (strcmp(r->stops[i], event) == 0)
            return true;
    return false;
}

/* Stops every running clock whose rule names this event; returns true if a respond or plan clock stopped. */
static bool stop_clocks(sq_ticket *t, const sq_rules *rules, const char *event, int64_t now)
{
    bool response = false;
    for (int i = 0; i < t->nclocks; i++) {
        sq_tclock *c = &t->clocks[i];
        if (c->stopped_us || !stops_on(clock_rule(rules, t, c->name), event))
            continue;
        if (c->paused_since_us)
            unpause(c, tier_calendar(rules, t), now);
        c->stopped_us = now;
        if (strcmp(c->name, "respond") == 0 || strcmp(c->name, "plan") == 0)
            response = true;
    }
    return response;
}

double sq_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371000.0, d2r = M_PI / 180.0;
    double dlat = (lat2 - lat1) * d2r, dlon = (lon2 - lon1) * d2r;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * d2r) * cos(lat2 * d2r) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * atan2(sqrt(a), sqrt(1 - a));
}

static void reject(sq_action_result *out, const char *reason, const char *detail)
{
    out->rejected = true;
    snprintf(out->reason, sizeof out->reason, "%s", reason);
    snprintf(out->detail, sizeof out->detail, "%s", detail);
}

static void pause_resolve(sq_ticket *t, const sq_rules *rules, int64_t now, bool pause)
{
    sq_tclock *c = sq_ticket_clock(t, "resolve");
    if (!c || c->stopped_us)
        return;
    if (pause && !c->paused_since_us)
        c->paused_since_us = now;
    else if (!pause && c->paused_since_us)
        unpause(c, tier_calendar(rules, t), now);
}

void sq_ticket_apply_action(sq_ticket *t, const sq_rules *rules, const sq_action_input *in, sq_action_result *out)
{
    memset(out, 0, sizeof *out);
    sq_status s = t->status;
    int64_t now = in->now_us;
    bool open = sq_status_open(s);
    if (!open) {
        char d[160];
        snprintf(d, sizeof d, "cannot %s a ticket that is %s", sq_action_name(in->action), sq_status_name(s));
        return reject(out, "invalid_state", d);
    }
    if (in->actor == SQ_ACTOR_UNKNOWN)
        return reject(out, "unknown_actor", "the actor is not in the directory");
    if (in->action == SQ_ACT_CANCEL) {
        if (in->actor != SQ_ACTOR_SUPERVISOR)
            return reject(out, "not_supervisor", "only a supervisor of the community may cancel");
        if (!in->note || !*in->note)
            return reject(out, "reason_missing", "cancel needs a reason in note");
        t->status = SQ_ST_CANCELLED;
        t->closed_us = now;
        snprintf(out->event, sizeof out->event, "cancelled");
        t->updated_us = now;
        return;
    }
    if (in->actor == SQ_ACTOR_OTHER_STAFF)
        return reject(out, "not_assignee", "only the assignee, the company's manager or the supervisor may act");
    switch (in->action) {
    case SQ_ACT_ACCEPT:
        if (s != SQ_ST_ASSIGNED)
            return reject(out, "invalid_state", "accept needs an assigned ticket");
        break;
    case SQ_ACT_ARRIVE:
    case SQ_ACT_CONTACT:
    case SQ_ACT_REPORT:
        if (s == SQ_ST_PAUSED && in->action != SQ_ACT_REPORT)
            return reject(out, "invalid_state", "the ticket is paused: resume it first");
        break;
    case SQ_ACT_PLAN:
        if (in->deadline_us <= 0)
            return reject(out, "deadline_missing", "plan needs a deadline");
        if (in->deadline_us <= now)
            return reject(out, "deadline_past", "the plan's deadline must be in the future");
        if (s == SQ_ST_PAUSED)
            return reject(out, "invalid_state", "the ticket is paused: resume it first");
        break;
    case SQ_ACT_PAUSE:
        if (s != SQ_ST_IN_PROGRESS)
            return reject(out, "invalid_state", "only a ticket in progress can be paused");
        break;
    case SQ_ACT_RESUME:
        if (s != SQ_ST_PAUSED)
            return reject(out, "invalid_state", "only a paused ticket can be resumed");
        break;
    case SQ_ACT_RESOLVE: {
        const sq_category *cat = sq_rules_category(rules, t->category);
        if (cat && cat->evidence_required && in->nphotos == 0)
            return reject(out, "evidence_required", "this category needs a photo with resolve");
        break;
    }
    case SQ_ACT_TRANSFER:
        if (!in->to || !*in->to)
            return reject(out, "target_missing", "transfer needs 'to'");
        if (!in->to_known)
            return reject(out, "unknown_target", "the transfer target is not in the directory");
        if (strcmp(in->to, t->assignee_id) == 0)
            return reject(out, "same_assignee", "the ticket is already assigned to them");
        break;
    default:
        return reject(out, "unknown_action", "unknown action");
    }

    const char *name = sq_action_name(in->action);
    switch (in->action) {
    case SQ_ACT_ACCEPT:
    case SQ_ACT_ARRIVE:
    case SQ_ACT_CONTACT:
        snprintf(out->event, sizeof out->event, "responded");
        t->status = SQ_ST_IN_PROGRESS;
        if (in->action == SQ_ACT_ARRIVE && in->has_location && t->has_location) {
            out->distance_m = sq_distance_m(in->lat, in->lon, t->lat, t->lon);
            out->location_flagged = out->distance_m > sq_rules_settings(rules)->arrive_max_m;
        }
        break;
    case SQ_ACT_REPORT:
        snprintf(out->event, sizeof out->event, "reported");
        break;
    case SQ_ACT_PLAN:
        snprintf(out->event, sizeof out->event, "planned");
        t->status = SQ_ST_IN_PROGRESS;
        for (int i = 0; i < t->nclocks; i++) {
            const sq_clock_rule *r = clock_rule(rules, t, t->clocks[i].name);
            if (r && r->from_plan && !t->clocks[i].stopped_us)
                t->clocks[i].due_us = sq_calendar_add(tier_calendar(rules, t), in->deadline_us,
                                                      t->clocks[i].paused_total_us);
        }
        break;
    case SQ_ACT_PAUSE:
        snprintf(out->event, sizeof out->event, "paused");
        t->status = SQ_ST_PAUSED;
        pause_resolve(t, rules, now, true);
        break;
    case SQ_ACT_RESUME:
        snprintf(out->event, sizeof out->event, "resumed");
        t->status = SQ_ST_IN_PROGRESS;
        pause_resolve(t, rules, now, false);
        break;
    case SQ_ACT_RESOLVE:
        snprintf(out->event, sizeof out->event, "resolved");
        pause_resolve(t, rules, now, false);
        t->status = SQ_ST_RESOLVED;
        t->resolved_us = now;
        break;
    case SQ_ACT_TRANSFER:
        snprintf(out->event, sizeof out->event, "transferred");
        snprintf(t->assignee_id, sizeof t->assignee_id, "%s", in->to);
        break;
    default:
        break;
    }
    bool response = stop_clocks(t, rules, name, now);
    if (in->action == SQ_ACT_RESOLVE && !t->responded_us) /* resolving answers the resident too */
        response |= stop_clocks(t, rules, "accept", now) | stop_clocks(t, rules, "plan", now);
    if (response && !t->responded_us) {
        t->responded_us = now;
        out->first_response = true;
    }
    t->updated_us = now;
}

void sq_ticket_reopen(sq_ticket *t, int64_t now_us)
{
    t->status = SQ_ST_ASSIGNED;
    t->reopen_count++;
    t->resolved_us = 0;
    t->closed_us = 0;
    sq_tclock *c = sq_ticket_clock(t, "resolve");
    if (c)
        c->stopped_us = 0; /* runs again against its original deadline */
    t->updated_us = now_us;
}

void sq_ticket_apply_feedback(sq_ticket *t, const char *reporter_id, int rating, bool reopen_requested,
                              bool reopen_on_unsatisfied, int64_t now_us, sq_feedback_result *out)
{
    memset(out, 0, sizeof *out);
    if (rating < 1 || rating > 3) {
        out->rejected = true;
        snprintf(out->reason, sizeof out->reason, "invalid_rating");
        return;
    }
    if (t->reporter_id[0] && (!reporter_id || strcmp(reporter_id, t->reporter_id) != 0)) {
        out->rejected = true;
        snprintf(out->reason, sizeof out->reason, "not_reporter");
        return;
    }
    if (t->status != SQ_ST_RESOLVED) {
        out->rejected = true;
        snprintf(out->reason, sizeof out->reason, "%s", t->status == SQ_ST_CLOSED ? "already_closed" : "not_resolved");
        return;
    }
    t->rating = rating;
    t->updated_us = now_us;
    if (reopen_requested || (rating == 3 && reopen_on_unsatisfied)) {
        sq_ticket_reopen(t, now_us);
        out->reopened = true;
    } else {
        t->status = SQ_ST_CLOSED;
        t->closed_us = now_us;
        out->closed = true;
    }
}

void sq_ticket_to_state(const sq_ticket *t, Shequ__V1__TicketState *st, Shequ__V1__Clock clocks[SQ_MAX_CLOCKS],
                        Shequ__V1__Clock *clock_ptrs[SQ_MAX_CLOCKS], Shequ__V1__GeoPoint *loc)
{
    shequ__v1__ticket_state__init(st);
    st->ticket_id = (char *)t->ticket_id;
    st->community_id = (char *)t->community_id;
    st->source = (char *)t->source;
    st->category = (char *)t->category;
    st->tier = (char *)t->tier;
    st->status = (Shequ__V1__TicketStatus)t->status;
    st->assignee_id = (char *)t->assignee_id;
    st->company_id = (char *)t->company_id;
    st->reporter_count = t->reporter_count;
    st->occurrence_count = t->occurrence_count;
    st->repeat = t->repeat;
    st->escalation_level = t->escalation_level;
    st->reopen_count = t->reopen_count;
    st->rating = (Shequ__V1__Rating)t->rating;
    st->building = (char *)t->building;
    st->unit = (char *)t->unit;
    if (t->has_location) {
        shequ__v1__geo_point__init(loc);
        loc->lat = t->lat;
        loc->lon = t->lon;
        st->location = loc;
    }
    for (int i = 0; i < t->nclocks; i++) {
        Shequ__V1__Clock *c = &clocks[i];
        shequ__v1__clock__init(c);
        c->name = (char *)t->clocks[i].name;
        c->target_us = t->clocks[i].target_us;
        c->started_at_us = t->clocks[i].started_us;
        c->due_at_us = t->clocks[i].due_us;
        c->stopped_at_us = t->clocks[i].stopped_us;
        c->paused_since_us = t->clocks[i].paused_since_us;
        c->paused_total_us = t->clocks[i].paused_total_us;
        clock_ptrs[i] = c;
    }
    st->n_clocks = (size_t)t->nclocks;
    st->clocks = clock_ptrs;
    st->created_at_us = t->created_us;
    st->updated_at_us = t->updated_us;
    st->responded_at_us = t->responded_us;
    st->resolved_at_us = t->resolved_us;
    st->closed_at_us = t->closed_us;
    st->device_id = (char *)t->device_id;
    st->alarm_type = (char *)t->alarm_type;
    st->origin_id = (char *)t->origin_id;
    st->reporter_id = (char *)t->reporter_id;
    st->merged_into = (char *)t->merged_into;
    st->unassigned_fallback = t->fallback;
    st->summary = (char *)t->summary;
}

#define COPY(dst, src) sq_strlcpy_utf8(dst, (src) ? (src) : "", sizeof dst)

void sq_ticket_from_state(sq_ticket *t, const Shequ__V1__TicketState *st)
{
    memset(t, 0, sizeof *t);
    COPY(t->ticket_id, st->ticket_id);
    COPY(t->community_id, st->community_id);
    COPY(t->source, st->source);
    COPY(t->category, st->category);
    COPY(t->tier, st->tier);
    t->status = (sq_status)st->status;
    COPY(t->assignee_id, st->assignee_id);
    COPY(t->company_id, st->company_id);
    t->reporter_count = st->reporter_count;
    t->occurrence_count = st->occurrence_count;
    t->repeat = st->repeat;
    t->escalation_level = st->escalation_level;
    t->reopen_count = st->reopen_count;
    t->rating = st->rating;
    COPY(t->building, st->building);
    COPY(t->unit, st->unit);
    if (st->location) {
        t->has_location = true;
        t->lat = st->location->lat;
        t->lon = st->location->lon;
    }
    for (size_t i = 0; i < st->n_clocks && i < SQ_MAX_CLOCKS; i++) {
        sq_tclock *c = &t->clocks[t->nclocks++];
        COPY(c->name, st->clocks[i]->name);
        c->target_us = st->clocks[i]->target_us;
        c->started_us = st->clocks[i]->started_at_us;
        c->due_us = st->clocks[i]->due_at_us;
        c->stopped_us = st->clocks[i]->stopped_at_us;
        c->paused_since_us = st->clocks[i]->paused_since_us;
        c->paused_total_us = st->clocks[i]->paused_total_us;
    }
    t->created_us = st->created_at_us;
    t->updated_us = st->updated_at_us;
    t->responded_us = st->responded_at_us;
    t->resolved_us = st->resolved_at_us;
    t->closed_us = st->closed_at_us;
    COPY(t->device_id, st->device_id);
    COPY(t->alarm_type, st->alarm_type);
    COPY(t->origin_id, st->origin_id);
    COPY(t->reporter_id, st->reporter_id);
    COPY(t->merged_into, st->merged_into);
    t->fallback = st->unassigned_fallback;
    COPY(t->summary, st->summary);
}

void sq_ticket_merge_counters(sq_ticket *t, int reporters, int occurrences, int level)
{
    if (t->reporter_count < reporters)
        t->reporter_count = reporters;
    if (t->occurrence_count < occurrences)
        t->occurrence_count = occurrences;
    if (t->escalation_level < level)
        t->escalation_level = level;
}

void sq_ticket_apply_counters(sq_ticket *t, const Shequ__V1__TicketEvent *e)
{
    switch (e->body_case) {
    case SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE:
        sq_ticket_merge_counters(t, 0, e->occurrence->occurrence_count, 0);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_MERGED:
        sq_ticket_merge_counters(t, e->merged->reporter_count, 0, 0);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED:
        sq_ticket_merge_counters(t, 0, 0, e->escalated->level);
        break;
    default:
        break;
    }
}

void sq_ticket_take_snapshot(sq_ticket *t, const Shequ__V1__TicketState *st)
{
    int reporters = t->reporter_count, occurrences = t->occurrence_count, level = t->escalation_level;
    sq_ticket_from_state(t, st);
    sq_ticket_merge_counters(t, reporters, occurrences, level);
}

void sq_ticket_id_make(char out[SQ_TICKET_ID_MAX], const char *community_id, const char *origin_id)
{
    char uuid[SQ_UUID_LEN];
    sq_uuid5(uuid, "ticket", origin_id, strlen(origin_id));
    snprintf(out, SQ_TICKET_ID_MAX, "%.64s.%s", community_id, uuid);
}

static bool uuid_shaped(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[36] == '\0';
}

bool sq_ticket_id_community(const char *ticket_id, char *out, size_t outlen)
{
    size_t n = ticket_id ? strlen(ticket_id) : 0;
    if (outlen)
        out[0] = '\0';
    if (n < 38 || n - 37 > 64 || ticket_id[n - 37] != '.' || !uuid_shaped(ticket_id + n - 36) || n - 37 >= outlen)
        return false;
    memcpy(out, ticket_id, n - 37);
    out[n - 37] = '\0';
    return true;
}
