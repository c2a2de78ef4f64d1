/*
 * Clocks on working time, end to end through the pure code: a rules file whose medium tier runs on
 * deploy/calendars/office-hours.cal (Mon–Fri 09:00–18:00) and whose difficult tier runs on the 2026
 * Chinese working calendar; deadlines at ticket creation, a pause across the night and the weekend, a
 * plan deadline, and the SLA ladder's instants (warning, breach, levels 2 and 3) on the same calendar.
 * All times are Asia/Shanghai local; 2026-11-27 is a Friday.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ladder.h"
#include "rules.h"
#include "ticket.h"
#include "util.h"

static sq_rules *rules;
static char rules_path[] = "/tmp/shequ-rules-XXXXXX";

static int64_t at(const char *local)
{
    char s[40];
    int64_t us;
    snprintf(s, sizeof s, "%s+08:00", local);
    if (sq_parse_rfc3339(s, &us) != SQ_OK)
        fail_msg("bad time %s", s);
    return us;
}

static void assert_local(int64_t got, const char *want)
{
    char buf[40];
    sq_fmt_shanghai(got, buf, sizeof buf);
    if (strncmp(buf, want, strlen(want)) != 0)
        fail_msg("got %s, want %s", buf, want);
}

static int setup(void **state)
{
    char src[512];
    if (getenv("SHEQU_SOURCE_DIR"))
        snprintf(src, sizeof src, "%s", getenv("SHEQU_SOURCE_DIR"));
    else /* this file is <src>/tests/sla/test_working_time.c */
        snprintf(src, sizeof src, "%.*s", (int)(strlen(__FILE__) - strlen("/tests/sla/test_working_time.c")), __FILE__);
    int fd = mkstemp(rules_path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "category noise medium 噪音 Noise\n"
               "category dispute difficult 纠纷 Dispute\n"
               "clock medium respond 4h accept\n"
               "clock medium resolve 24h resolve\n"
               "clock difficult plan 4h plan\n"
               "clock difficult resolve plan:15d resolve\n"
               "calendar medium %s/deploy/calendars/office-hours.cal\n"
               "calendar difficult %s/deploy/calendars/cn-workdays-2026.cal\n",
            src, src);
    fclose(f);
    char err[512];
    rules = sq_rules_load(rules_path, err, sizeof err);
    if (!rules)
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    sq_rules_free(rules);
    unlink(rules_path);
    return 0;
}

static sq_ticket ticket(const char *tier, int64_t created)
{
    sq_ticket t = { .status = SQ_ST_ASSIGNED };
    snprintf(t.tier, sizeof t.tier, "%s", tier);
    assert_int_equal(sq_ticket_start_clocks(&t, rules, created), SQ_OK);
    return t;
}

static void deadlines_run_on_working_time(void **state)
{
    /* Friday 16:00 + 4 working hours: 2 on Friday, 2 on Monday */
    sq_ticket t = ticket("medium", at("2026-11-27T16:00:00"));
    assert_local(sq_ticket_clock(&t, "respond")->due_us, "2026-11-30T11:00:00");
    /* 24 working hours = 2 days and 6 hours of 9-hour days */
    assert_local(sq_ticket_clock(&t, "resolve")->due_us, "2026-12-02T13:00:00");
    /* reported at night: the clock starts at the next opening */
    t = ticket("medium", at("2026-11-30T23:30:00"));
    assert_local(sq_ticket_clock(&t, "respond")->due_us, "2026-12-01T13:00:00");
    /* exactly at closing: nothing left of the day */
    t = ticket("medium", at("2026-11-30T18:00:00"));
    assert_local(sq_ticket_clock(&t, "respond")->due_us, "2026-12-01T13:00:00");
    /* the difficult tier's plan clock skips the National Day holiday (Oct 1-7) and works the make-up
     * Saturday Oct 10: Sept 30 17:00 + 4 h → 1 h on Sept 30, 3 h on Thursday Oct 8 */
    t = ticket("difficult", at("2026-09-30T17:00:00"));
    assert_local(sq_ticket_clock(&t, "plan")->due_us, "2026-10-08T12:00:00");
}

static void pause_moves_the_deadline_by_working_time(void **state)
{
    sq_ticket t = ticket("medium", at("2026-11-27T10:00:00"));
    assert_local(sq_ticket_clock(&t, "resolve")->due_us, "2026-12-01T16:00:00");
    sq_action_input in = { .action = SQ_ACT_ACCEPT, .actor = SQ_ACTOR_ASSIGNEE, .now_us = at("2026-11-27T10:30:00") };
    sq_action_result out;
    sq_ticket_apply_action(&t, rules, &in, &out);
    assert_false(out.rejected);
    /* paused Friday 17:00 → Monday 10:00: 2 working hours (Fri 17-18, Mon 9-10), not 65 wall hours */
    in = (sq_action_input){ .action = SQ_ACT_PAUSE, .actor = SQ_ACTOR_ASSIGNEE, .now_us = at("2026-11-27T17:00:00") };
    sq_ticket_apply_action(&t, rules, &in, &out);
    assert_false(out.rejected);
    in = (sq_action_input){ .action = SQ_ACT_RESUME, .actor = SQ_ACTOR_ASSIGNEE, .now_us = at("2026-11-30T10:00:00") };
    sq_ticket_apply_action(&t, rules, &in, &out);
    assert_false(out.rejected);
    sq_tclock *c = sq_ticket_clock(&t, "resolve");
    assert_local(c->due_us, "2026-12-01T18:00:00");
    assert_int_equal(c->paused_total_us, 2 * 3600 * SQ_US_PER_S);
}

static void ladder_fires_on_working_time(void **state)
{
    const sq_calendar *cal = sq_rules_tier(rules, "medium")->cal;
    int64_t start = at("2026-11-27T17:00:00"), due = at("2026-11-30T12:00:00"); /* 4 working hours */
    assert_local(sla_fire_at(cal, 0.8, start, due, 0, 0), "2026-11-30T11:12:00");
    assert_int_equal(sla_fire_at(cal, 1.0, start, due, 0, 0), due);  /* the breach is the deadline, exactly */
    assert_local(sla_fire_at(cal, 2.0, start, due, 0, 0), "2026-11-30T16:00:00");
    assert_local(sla_fire_at(cal, 3.0, start, due, 0, 0), "2026-12-01T11:00:00");
    /* a deadline outside working hours (an agreed plan date on Saturday) is still 100 % */
    int64_t sat = at("2026-11-28T10:00:00");
    assert_int_equal(sla_fire_at(cal, 1.0, start, sat, 0, 0), sat);
    assert_int_equal(sla_fire_at(cal, 1.0, start, due, 0, start + 1), INT64_MAX); /* paused: nothing fires */
    /* wall time (no calendar) is unchanged: 0.8 of 67 wall hours */
    assert_int_equal(sla_fire_at(NULL, 0.8, start, due, 0, 0), start + (int64_t)(0.8 * (double)(due - start) + 0.5));
}

static void a_missing_calendar_is_named(void **state)
{
    char path[] = "/tmp/shequ-rules-bad-XXXXXX", err[512];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "category noise medium 噪音 Noise\nclock medium respond 4h accept\ncalendar medium nowhere.cal\n");
    fclose(f);
    assert_null(sq_rules_load(path, err, sizeof err));
    assert_non_null(strstr(err, "calendar of tier 'medium'"));
    assert_non_null(strstr(err, "nowhere.cal"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deadlines_run_on_working_time),
        cmocka_unit_test(pause_moves_the_deadline_by_working_time),
        cmocka_unit_test(ladder_fires_on_working_time),
        cmocka_unit_test(a_missing_calendar_is_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
