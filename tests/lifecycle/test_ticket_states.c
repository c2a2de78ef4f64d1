/*
 * The pure lifecycle decisions, part two: clocks from the tier and exactly-at-deadline, every (state,
 * action) pair of the state machine, actor checks, plan deadlines, evidence, arrive distance,
 * pause/resume, feedback and reopen, snapshots and counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "rules.h"
#include "ticket.h"
#include "util.h"

#include "rules_fixture.h"

/* ------------------------------------------------------------ state machine */

static sq_ticket make(const char *tier, const char *category, sq_status st, int64_t created)
{
    sq_ticket t;
    memset(&t, 0, sizeof t);
    snprintf(t.ticket_id, sizeof t.ticket_id, "t");
    snprintf(t.tier, sizeof t.tier, "%s", tier);
    snprintf(t.category, sizeof t.category, "%s", category);
    snprintf(t.assignee_id, sizeof t.assignee_id, "s1");
    snprintf(t.reporter_id, sizeof t.reporter_id, "wx");
    assert_int_equal(sq_ticket_start_clocks(&t, rules, created), SQ_OK);
    t.status = st;
    if (st == SQ_ST_PAUSED)
        sq_ticket_clock(&t, "resolve")->paused_since_us = created;
    return t;
}

static void clocks_start_with_tier(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("urgent", "elevator", SQ_ST_ASSIGNED, c);
    assert_int_equal(t.nclocks, 3);
    assert_int_equal(sq_ticket_clock(&t, "respond")->due_us, c + 15 * MIN);
    assert_int_equal(sq_ticket_clock(&t, "report")->due_us, c + 60 * MIN);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, c + 24 * HOUR);
    t = make("difficult", "dispute", SQ_ST_ASSIGNED, c);
    assert_int_equal(sq_ticket_clock(&t, "plan")->due_us, c + 4 * HOUR);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, c + 15 * DAY);
    assert_null(sq_ticket_clock(&t, "respond"));
    t = make("general", "sanitation", SQ_ST_ASSIGNED, c);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, c + 4 * HOUR);
    sq_ticket bad = t;
    snprintf(bad.tier, sizeof bad.tier, "nosuch");
    assert_int_equal(sq_ticket_start_clocks(&bad, rules, c), SQ_INVALID);
}

typedef struct {
    sq_status from;
    sq_action act;
    const char *want; /* event name, or "!reason" for a rejection */
    sq_status to;
} transition;

static void every_state_action_pair(void **state)
{
    const sq_status O = SQ_ST_UNKNOWN; /* "stays" */
    transition table[] = {
        { SQ_ST_ASSIGNED, SQ_ACT_ACCEPT, "responded", SQ_ST_IN_PROGRESS },
        { SQ_ST_ASSIGNED, SQ_ACT_ARRIVE, "responded", SQ_ST_IN_PROGRESS },
        { SQ_ST_ASSIGNED, SQ_ACT_CONTACT, "responded", SQ_ST_IN_PROGRESS },
        { SQ_ST_ASSIGNED, SQ_ACT_REPORT, "reported", O },
        { SQ_ST_ASSIGNED, SQ_ACT_PLAN, "planned", SQ_ST_IN_PROGRESS },
        { SQ_ST_ASSIGNED, SQ_ACT_PAUSE, "!invalid_state", O },
        { SQ_ST_ASSIGNED, SQ_ACT_RESUME, "!invalid_state", O },
        { SQ_ST_ASSIGNED, SQ_ACT_RESOLVE, "resolved", SQ_ST_RESOLVED },
        { SQ_ST_ASSIGNED, SQ_ACT_TRANSFER, "transferred", O },
        { SQ_ST_ASSIGNED, SQ_ACT_CANCEL, "!not_supervisor", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_ACCEPT, "!invalid_state", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_ARRIVE, "responded", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_CONTACT, "responded", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_REPORT, "reported", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_PLAN, "planned", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_PAUSE, "paused", SQ_ST_PAUSED },
        { SQ_ST_IN_PROGRESS, SQ_ACT_RESUME, "!invalid_state", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_RESOLVE, "resolved", SQ_ST_RESOLVED },
        { SQ_ST_IN_PROGRESS, SQ_ACT_TRANSFER, "transferred", O },
        { SQ_ST_IN_PROGRESS, SQ_ACT_CANCEL, "!not_supervisor", O },
        { SQ_ST_PAUSED, SQ_ACT_ACCEPT, "!invalid_state", O },
        { SQ_ST_PAUSED, SQ_ACT_ARRIVE, "!invalid_state", O },
        { SQ_ST_PAUSED, SQ_ACT_CONTACT, "!invalid_state", O },
        { SQ_ST_PAUSED, SQ_ACT_REPORT, "reported", O },
        { SQ_ST_PAUSED, SQ_ACT_PLAN, "!invalid_state", O },
        { SQ_ST_PAUSED, SQ_ACT_PAUSE, "!invalid_state", O },
        { SQ_ST_PAUSED, SQ_ACT_RESUME, "resumed", SQ_ST_IN_PROGRESS },
        { SQ_ST_PAUSED, SQ_ACT_RESOLVE, "resolved", SQ_ST_RESOLVED },
        { SQ_ST_PAUSED, SQ_ACT_TRANSFER, "transferred", O },
        { SQ_ST_PAUSED, SQ_ACT_CANCEL, "!not_supervisor", O },
    };
    int64_t c = 1700000000LL * SQ_US_PER_S;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sq_ticket t = make("medium", "water_leak", table[i].from, c);
        sq_action_input in = { .action = table[i].act, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + MIN,
                               .deadline_us = c + DAY, .to = "s2", .to_known = true, .nphotos = 1 };
        sq_action_result res;
        sq_ticket_apply_action(&t, rules, &in, &res);
        if (table[i].want[0] == '!') {
            if (!res.rejected || strcmp(res.reason, table[i].want + 1) != 0)
                fail_msg("%s × %s: want rejection %s, got %s/%s", sq_status_name(table[i].from),
                         sq_action_name(table[i].act), table[i].want + 1, res.rejected ? "rejected" : "applied", res.reason);
            assert_int_equal(t.status, table[i].from);
        } else {
            if (res.rejected || strcmp(res.event, table[i].want) != 0)
                fail_msg("%s × %s: want %s, got %s (%s)", sq_status_name(table[i].from), sq_action_name(table[i].act),
                         table[i].want, res.event, res.reason);
            assert_int_equal(t.status, table[i].to == O ? table[i].from : table[i].to);
        }
    }
    /* terminal states refuse everything */
    sq_status terminal[] = { SQ_ST_RESOLVED, SQ_ST_CLOSED, SQ_ST_MERGED, SQ_ST_CANCELLED };
    for (size_t s = 0; s < 4; s++)
        for (int a = SQ_ACT_ACCEPT; a <= SQ_ACT_CANCEL; a++) {
            sq_ticket t = make("medium", "water_leak", terminal[s], c);
            sq_action_input in = { .action = (sq_action)a, .actor = SQ_ACTOR_SUPERVISOR, .now_us = c + MIN,
                                   .deadline_us = c + DAY, .to = "s2", .to_known = true, .nphotos = 1, .note = "x" };
            sq_action_result res;
            sq_ticket_apply_action(&t, rules, &in, &res);
            assert_true(res.rejected);
            assert_string_equal(res.reason, "invalid_state");
            assert_int_equal(t.status, terminal[s]);
        }
}

static void actors_and_cancel(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_actor_kind who[] = { SQ_ACTOR_UNKNOWN, SQ_ACTOR_OTHER_STAFF, SQ_ACTOR_MANAGER, SQ_ACTOR_SUPERVISOR };
    const char *want[] = { "unknown_actor", "not_assignee", NULL, NULL };
    for (int i = 0; i < 4; i++) {
        sq_ticket t = make("general", "sanitation", SQ_ST_ASSIGNED, c);
        sq_action_input in = { .action = SQ_ACT_ACCEPT, .actor = who[i], .now_us = c };
        sq_action_result res;
        sq_ticket_apply_action(&t, rules, &in, &res);
        if (want[i]) {
            assert_true(res.rejected);
            assert_string_equal(res.reason, want[i]);
        } else {
            assert_false(res.rejected);
        }
    }
    sq_ticket t = make("general", "sanitation", SQ_ST_IN_PROGRESS, c);
    sq_action_input in = { .action = SQ_ACT_CANCEL, .actor = SQ_ACTOR_SUPERVISOR, .now_us = c };
    sq_action_result res;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "reason_missing");
    in.note = "居民撤回";
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.rejected);
    assert_int_equal(t.status, SQ_ST_CANCELLED);
    assert_int_equal(t.closed_us, c);
    t = make("general", "sanitation", SQ_ST_ASSIGNED, c);
    in = (sq_action_input){ .action = SQ_ACT_CANCEL, .actor = SQ_ACTOR_MANAGER, .now_us = c, .note = "x" };
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "not_supervisor");
}

static void plan_deadlines_and_evidence(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("difficult", "dispute", SQ_ST_ASSIGNED, c);
    sq_action_input in = { .action = SQ_ACT_PLAN, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + HOUR };
    sq_action_result res;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "deadline_missing");
    in.deadline_us = c + HOUR; /* exactly now is not in the future */
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "deadline_past");
    in.deadline_us = c + 7 * DAY;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.rejected);
    assert_true(res.first_response);
    assert_int_equal(t.responded_us, c + HOUR);
    assert_int_equal(sq_ticket_clock(&t, "plan")->stopped_us, c + HOUR);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, c + 7 * DAY); /* the agreed deadline */
    /* evidence: elevator needs a photo, noise does not */
    t = make("urgent", "elevator", SQ_ST_IN_PROGRESS, c);
    in = (sq_action_input){ .action = SQ_ACT_RESOLVE, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + MIN };
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "evidence_required");
    t = make("medium", "noise", SQ_ST_IN_PROGRESS, c);
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.rejected);
    /* transfer */
    t = make("medium", "noise", SQ_ST_ASSIGNED, c);
    in = (sq_action_input){ .action = SQ_ACT_TRANSFER, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c };
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "target_missing");
    in.to = "ghost";
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "unknown_target");
    in.to = "s1";
    in.to_known = true;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.reason, "same_assignee");
    in.to = "s2";
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.rejected);
    assert_string_equal(t.assignee_id, "s2");
    assert_int_equal(sq_ticket_clock(&t, "respond")->due_us, c + 4 * HOUR); /* transfers keep the clocks */
}

static void first_response_stops_the_right_clocks(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("urgent", "elevator", SQ_ST_ASSIGNED, c);
    sq_action_input in = { .action = SQ_ACT_CONTACT, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + 15 * MIN };
    sq_action_result res;
    sq_ticket_apply_action(&t, rules, &in, &res); /* urgent: contact is not a response */
    assert_false(res.rejected);
    assert_false(res.first_response);
    assert_int_equal(sq_ticket_clock(&t, "respond")->stopped_us, 0);
    in.action = SQ_ACT_ARRIVE; /* exactly at the deadline: on time */
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_true(res.first_response);
    assert_int_equal(t.responded_us, sq_ticket_clock(&t, "respond")->due_us);
    assert_int_equal(sq_ticket_clock(&t, "report")->stopped_us, 0);
    in.action = SQ_ACT_REPORT;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_int_equal(sq_ticket_clock(&t, "report")->stopped_us, c + 15 * MIN);
    /* resolving without a response counts as the response */
    t = make("general", "sanitation", SQ_ST_ASSIGNED, c);
    in = (sq_action_input){ .action = SQ_ACT_RESOLVE, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + HOUR };
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_true(res.first_response);
    assert_int_equal(t.responded_us, c + HOUR);
    assert_int_equal(t.resolved_us, c + HOUR);
}

static void arrive_far_away_is_flagged(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("medium", "noise", SQ_ST_ASSIGNED, c);
    t.has_location = true;
    t.lat = 30.6286;
    t.lon = 104.0587;
    sq_action_input in = { .action = SQ_ACT_ARRIVE, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c, .has_location = true,
                           .lat = 30.6290, .lon = 104.0590 };
    sq_action_result res;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.location_flagged);
    assert_true(res.distance_m > 40 && res.distance_m < 60);
    t = make("medium", "noise", SQ_ST_ASSIGNED, c);
    t.has_location = true;
    t.lat = 30.6286;
    t.lon = 104.0587;
    in.lat = 30.6586; /* about 3.3 km north */
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_false(res.rejected);
    assert_true(res.location_flagged);
    assert_true(res.distance_m > 3000 && res.distance_m < 3700);
}

static void pause_resume_extends_deadline(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("medium", "noise", SQ_ST_IN_PROGRESS, c);
    int64_t due = sq_ticket_clock(&t, "resolve")->due_us;
    sq_action_input in = { .action = SQ_ACT_PAUSE, .actor = SQ_ACTOR_ASSIGNEE, .now_us = c + HOUR };
    sq_action_result res;
    sq_ticket_apply_action(&t, rules, &in, &res);
    in.action = SQ_ACT_RESUME;
    in.now_us = c + 3 * HOUR;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_string_equal(res.event, "resumed");
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, due + 2 * HOUR);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->paused_total_us, 2 * HOUR);
    /* resolving while paused counts the pause too */
    in.action = SQ_ACT_PAUSE;
    in.now_us = c + 4 * HOUR;
    sq_ticket_apply_action(&t, rules, &in, &res);
    in.action = SQ_ACT_RESOLVE;
    in.now_us = c + 5 * HOUR;
    sq_ticket_apply_action(&t, rules, &in, &res);
    assert_int_equal(t.status, SQ_ST_RESOLVED);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->due_us, due + 3 * HOUR);
    assert_int_equal(sq_ticket_clock(&t, "resolve")->paused_since_us, 0);
}

static void feedback_and_reopen(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_feedback_result f;
    sq_ticket t = make("medium", "noise", SQ_ST_IN_PROGRESS, c);
    sq_ticket_apply_feedback(&t, "wx", 1, false, true, c, &f);
    assert_string_equal(f.reason, "not_resolved");
    t.status = SQ_ST_RESOLVED;
    t.resolved_us = c + HOUR;
    sq_tclock *rc = sq_ticket_clock(&t, "resolve");
    rc->stopped_us = c + HOUR;
    sq_ticket_apply_feedback(&t, "someone-else", 1, false, true, c, &f);
    assert_string_equal(f.reason, "not_reporter");
    sq_ticket_apply_feedback(&t, "wx", 7, false, true, c, &f);
    assert_string_equal(f.reason, "invalid_rating");
    sq_ticket copy = t;
    sq_ticket_apply_feedback(&copy, "wx", 2, false, true, c + 2 * HOUR, &f);
    assert_true(f.closed);
    assert_int_equal(copy.status, SQ_ST_CLOSED);
    assert_int_equal(copy.rating, 2);
    sq_ticket_apply_feedback(&copy, "wx", 1, false, true, c, &f);
    assert_string_equal(f.reason, "already_closed");
    copy = t;
    sq_ticket_apply_feedback(&copy, "wx", 3, false, true, c + 2 * HOUR, &f); /* unsatisfied reopens */
    assert_true(f.reopened);
    assert_int_equal(copy.status, SQ_ST_ASSIGNED);
    assert_int_equal(copy.reopen_count, 1);
    assert_int_equal(copy.resolved_us, 0);
    assert_int_equal(sq_ticket_clock(&copy, "resolve")->stopped_us, 0);
    assert_int_equal(sq_ticket_clock(&copy, "resolve")->due_us, rc->due_us); /* the original deadline */
    copy = t;
    sq_ticket_apply_feedback(&copy, "wx", 3, false, false, c, &f); /* configured not to reopen */
    assert_true(f.closed);
    copy = t;
    sq_ticket_apply_feedback(&copy, "wx", 1, true, false, c, &f); /* satisfied but asks to reopen */
    assert_true(f.reopened);
}

static void snapshot_round_trip(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("urgent", "elevator", SQ_ST_PAUSED, c);
    t.reporter_count = 2;
    t.occurrence_count = 3;
    t.has_location = true;
    t.lat = 1.5;
    snprintf(t.summary, sizeof t.summary, "电梯故障 2栋1单元");
    Shequ__V1__TicketState st;
    Shequ__V1__Clock clocks[SQ_MAX_CLOCKS], *ptrs[SQ_MAX_CLOCKS];
    Shequ__V1__GeoPoint loc;
    sq_ticket_to_state(&t, &st, clocks, ptrs, &loc);
    uint8_t buf[2048];
    size_t n = shequ__v1__ticket_state__pack(&st, buf);
    Shequ__V1__TicketState *u = shequ__v1__ticket_state__unpack(NULL, n, buf);
    sq_ticket back;
    sq_ticket_from_state(&back, u);
    shequ__v1__ticket_state__free_unpacked(u, NULL);
    assert_memory_equal(&back.clocks, &t.clocks, sizeof t.clocks);
    assert_int_equal(back.status, SQ_ST_PAUSED);
    assert_int_equal(back.reporter_count, 2);
    assert_int_equal(back.occurrence_count, 3);
    assert_string_equal(back.summary, t.summary);
    assert_true(back.has_location && back.lat == 1.5);
}

static void counters_only_grow(void **state)
{
    int64_t c = 1700000000LL * SQ_US_PER_S;
    sq_ticket t = make("medium", "noise", SQ_ST_IN_PROGRESS, c);
    t.reporter_count = 3;
    t.occurrence_count = 2;
    t.escalation_level = 1;
    /* an older snapshot from the other writer lowers nothing */
    sq_ticket old = make("medium", "noise", SQ_ST_ASSIGNED, c);
    old.reporter_count = 1;
    Shequ__V1__TicketState st;
    Shequ__V1__Clock clocks[SQ_MAX_CLOCKS], *ptrs[SQ_MAX_CLOCKS];
    Shequ__V1__GeoPoint loc;
    sq_ticket_to_state(&old, &st, clocks, ptrs, &loc);
    sq_ticket_take_snapshot(&t, &st);
    assert_int_equal(t.status, SQ_ST_ASSIGNED); /* the snapshot's own fields win */
    assert_int_equal(t.reporter_count, 3);
    assert_int_equal(t.occurrence_count, 2);
    assert_int_equal(t.escalation_level, 1);
    Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Occurrence oc = SHEQU__V1__OCCURRENCE__INIT;
    oc.occurrence_count = 5;
    e.body_case = SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE;
    e.occurrence = &oc;
    sq_ticket_apply_counters(&t, &e);
    assert_int_equal(t.occurrence_count, 5);
    Shequ__V1__Escalated x = SHEQU__V1__ESCALATED__INIT;
    x.level = 0; /* never lower */
    e.body_case = SHEQU__V1__TICKET_EVENT__BODY_ESCALATED;
    e.escalated = &x;
    sq_ticket_apply_counters(&t, &e);
    assert_int_equal(t.escalation_level, 1);
    Shequ__V1__Merged mg = SHEQU__V1__MERGED__INIT;
    mg.reporter_count = 4;
    e.body_case = SHEQU__V1__TICKET_EVENT__BODY_MERGED;
    e.merged = &mg;
    sq_ticket_apply_counters(&t, &e);
    assert_int_equal(t.reporter_count, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clocks_start_with_tier),
        cmocka_unit_test(every_state_action_pair),
        cmocka_unit_test(actors_and_cancel),
        cmocka_unit_test(plan_deadlines_and_evidence),
        cmocka_unit_test(first_response_stops_the_right_clocks),
        cmocka_unit_test(arrive_far_away_is_flagged),
        cmocka_unit_test(pause_resume_extends_deadline),
        cmocka_unit_test(feedback_and_reopen),
        cmocka_unit_test(snapshot_round_trip),
        cmocka_unit_test(counters_only_grow),
    };
    return cmocka_run_group_tests(tests, load_rules, free_rules);
}
