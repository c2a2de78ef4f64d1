/*
 * The pure lifecycle decisions, part one: the rules file and its errors, classification (categories,
 * Chinese keywords, alarm types), clocks per tier, assignment, the merge window edge and repeat counting
 * across the 30-day edge. The state machine is in test_ticket_states.c.
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

/* ------------------------------------------------------------------ rules */

static void default_table_is_design_table(void **state)
{
    struct { const char *code, *tier; bool evidence; } want[] = {
        { "sanitation", "general" }, { "greenery", "general" }, { "parking", "general" }, { "other", "general" },
        { "facility_damage", "medium", true }, { "water_leak", "medium", true }, { "noise", "medium" },
        { "high_throw", "medium" }, { "security", "medium" }, { "ebike_charging", "urgent", true },
        { "elevator", "urgent", true }, { "fire_hazard", "urgent", true }, { "dispute", "difficult" },
        { "illegal_construction", "difficult", true }, { "building_quality", "difficult" },
    };
    const sq_category *const *all;
    assert_int_equal(sq_rules_categories(rules, &all), 15);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const sq_category *c = sq_rules_category(rules, want[i].code);
        assert_non_null(c);
        assert_string_equal(c->tier, want[i].tier);
        assert_int_equal(c->evidence_required, want[i].evidence);
        assert_string_equal(all[i]->code, want[i].code); /* file order */
    }
    assert_string_equal(sq_rules_category(rules, "elevator")->name_zh, "电梯故障");
    assert_string_equal(sq_rules_category(rules, "elevator")->name_en, "Elevator fault");
    assert_null(sq_rules_category(rules, "Elevator"));
    assert_null(sq_rules_category(rules, ""));
    assert_null(sq_rules_category(rules, NULL));
}

static void alarm_types_map_to_categories(void **state)
{
    struct { const char *type, *category; } want[] = {
        { "elevator_entrapment", "elevator" }, { "elevator_fault", "elevator" }, { "smoke", "fire_hazard" },
        { "ebike_charging", "ebike_charging" }, { "high_throw", "high_throw" }, { "water_leak", "water_leak" },
        { "gate_tailgating", "security" }, { "device_offline", "facility_damage" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *tier = NULL;
        const sq_category *c = sq_rules_alarm_category(rules, want[i].type, &tier);
        assert_non_null(c);
        assert_string_equal(c->code, want[i].category);
        assert_string_equal(tier, c->tier);
        assert_true(sq_rules_alarm_type_known(rules, want[i].type));
    }
    assert_false(sq_rules_alarm_type_known(rules, "earthquake"));
}

static void urgent_keywords_in_chinese_text(void **state)
{
    const char *urgent[] = { "有人被困在电梯里", "楼道起火了", "厨房着火", "配电箱冒烟", "闻到燃气味", "墙上插座漏电",
                             "小孩触电", "被困" };
    for (size_t i = 0; i < sizeof urgent / sizeof urgent[0]; i++) {
        const char *t = sq_rules_keyword_tier(rules, urgent[i]);
        assert_non_null(t);
        assert_string_equal(t, "urgent");
    }
    const char *calm[] = { "垃圾没有清运", "困难", "火车站", "冒险", "", "elevator stuck" };
    for (size_t i = 0; i < sizeof calm / sizeof calm[0]; i++)
        assert_null(sq_rules_keyword_tier(rules, calm[i]));
    assert_null(sq_rules_keyword_tier(rules, NULL));
}

static void tier_clocks(void **state)
{
    const sq_tier_rule *u = sq_rules_tier(rules, "urgent"), *d = sq_rules_tier(rules, "difficult");
    assert_int_equal(u->nclocks, 3);
    assert_int_equal(u->clocks[0].target_us, 15 * MIN);
    assert_int_equal(u->clocks[1].target_us, 60 * MIN);
    assert_int_equal(u->clocks[2].target_us, 24 * HOUR);
    assert_int_equal(sq_rules_tier(rules, "general")->clocks[1].target_us, 4 * HOUR);
    assert_int_equal(sq_rules_tier(rules, "medium")->clocks[1].target_us, 24 * HOUR);
    assert_string_equal(d->clocks[0].name, "plan");
    assert_true(d->clocks[1].from_plan);
    assert_int_equal(d->clocks[1].target_us, 15 * DAY);
    const sq_settings *s = sq_rules_settings(rules);
    assert_int_equal(s->merge_window_us, 30 * MIN);
    assert_int_equal(s->repeat_window_us, 30 * DAY);
    assert_int_equal(s->repeat_threshold, 3);
}

static void bad_rules_name_the_line(void **state)
{
    struct { const char *text, *want; } cases[] = {
        { "category a general A A\nclock general respond 4h accept\nbogus line\n", ":3: unknown directive" },
        { "category a general A A\nclock general respond 4x accept\n", ":2: bad target" },
        { "category a nosuchtier A A\nclock general respond 4h accept\n", "has no clocks" },
        { "category a general A A\ncategory a general B B\nclock general respond 4h accept\n", ":2: category 'a' defined twice" },
        { "category a general A\n", ":1: expected: category" },
        { "category a general A A\nclock general respond 4h accept\nalarm x nocat\n", "unknown category 'nocat'" },
        { "category a general A A\nclock general respond 4h accept\nset merge_window soon\n", ":3: bad duration" },
        { "category a general A A\nclock general respond 4h accept\nset colour blue\n", ":3: bad number" },
        { "category a general A A\nclock general respond 4h accept\nkeyword nosuch 火\n", "unknown tier 'nosuch'" },
        { "# nothing\n", "no categories" },
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        sq_rules *r = load_text(cases[i].text, err, sizeof err);
        assert_null(r);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
    }
    assert_null(sq_rules_load("/nonexistent.rules", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent.rules"));
}

static void durations(void **state)
{
    int64_t us;
    assert_int_equal(sq_parse_duration("15m", &us), SQ_OK);
    assert_int_equal(us, 15 * MIN);
    assert_int_equal(sq_parse_duration("1.5h", &us), SQ_OK);
    assert_int_equal(us, 90 * MIN);
    assert_int_equal(sq_parse_duration("30s", &us), SQ_OK);
    assert_int_equal(sq_parse_duration("15", &us), SQ_INVALID);
    assert_int_equal(sq_parse_duration("15mm", &us), SQ_INVALID);
    assert_int_equal(sq_parse_duration("-1h", &us), SQ_INVALID);
    assert_int_equal(sq_parse_duration("h", &us), SQ_INVALID);
}

/* ------------------------------------------------------- assign, merge, repeat */

static void assignment(void **state)
{
    const char *elevator[] = { "elevator" }, *all[] = { "*" }, *none[] = { "noise" };
    sq_staff a = { .staff_id = "a", .role = SQ_ROLE_STAFF, .on_duty = true, .skills = elevator, .nskills = 1 };
    sq_staff b = { .staff_id = "b", .role = SQ_ROLE_STAFF, .on_duty = true, .skills = all, .nskills = 1 };
    sq_staff c = { .staff_id = "c", .role = SQ_ROLE_STAFF, .on_duty = false, .skills = all, .nskills = 1 };
    sq_staff m = { .staff_id = "m", .role = SQ_ROLE_MANAGER, .on_duty = true, .skills = all, .nskills = 1 };
    sq_staff d = { .staff_id = "d", .role = SQ_ROLE_STAFF, .on_duty = true, .skills = none, .nskills = 1 };
    const sq_staff *staff[] = { &a, &b, &c, &m, &d };
    int open[] = { 3, 1, 0, 0, 0 };
    assert_int_equal(sq_assign_choose(staff, 5, open, "elevator", 0), 1); /* fewest open among eligible */
    int tie[] = { 2, 2, 0, 0, 0 };
    assert_int_equal(sq_assign_choose(staff, 5, tie, "elevator", 0), 0); /* ties round-robin */
    assert_int_equal(sq_assign_choose(staff, 5, tie, "elevator", 1), 1);
    assert_int_equal(sq_assign_choose(staff, 5, tie, "elevator", 2), 0);
    assert_int_equal(sq_assign_choose(staff, 5, tie, "noise", 0), 4);    /* d has noise and no open tickets */
    const sq_staff *only_off[] = { &c, &m };
    int z[] = { 0, 0 };
    assert_int_equal(sq_assign_choose(only_off, 2, z, "elevator", 0), -1); /* nobody eligible → manager fallback */
    assert_int_equal(sq_assign_choose(staff, 0, open, "elevator", 0), -1);
}

static void merge_window_edges(void **state)
{
    int64_t t0 = 1000 * SQ_US_PER_S, w = 30 * MIN;
    assert_true(sq_merge_within(t0, t0, w));
    assert_true(sq_merge_within(t0, t0 + w, w));      /* exactly at the edge: merged */
    assert_false(sq_merge_within(t0, t0 + w + 1, w));
    assert_false(sq_merge_within(t0, t0 - 1, w));     /* a newcomer older than the ticket */
}

static void repeat_counting_edges(void **state)
{
    int64_t now = 100 * DAY, w = 30 * DAY;
    int64_t times[] = { now - 30 * DAY - 1, now - 30 * DAY, now - DAY, now + 1 };
    assert_int_equal(sq_repeat_count(times, 4, now, w), 2); /* the 30-day edge counts, a day older does not */
    /* the third of a category at a building within the window is a repeat */
    int64_t two[] = { now - 29 * DAY, now - DAY };
    assert_true(1 + sq_repeat_count(two, 2, now, w) >= sq_rules_settings(rules)->repeat_threshold);
    int64_t old[] = { now - 31 * DAY, now - DAY };
    assert_false(1 + sq_repeat_count(old, 2, now, w) >= sq_rules_settings(rules)->repeat_threshold);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_table_is_design_table),
        cmocka_unit_test(alarm_types_map_to_categories),
        cmocka_unit_test(urgent_keywords_in_chinese_text),
        cmocka_unit_test(tier_clocks),
        cmocka_unit_test(bad_rules_name_the_line),
        cmocka_unit_test(durations),
        cmocka_unit_test(assignment),
        cmocka_unit_test(merge_window_edges),
        cmocka_unit_test(repeat_counting_edges),
    };
    return cmocka_run_group_tests(tests, load_rules, free_rules);
}
