/* Ladder parsing and fire times: pauses, exactly-at-deadline, plan deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "ladder.h"
#include "util.h"

#define H (3600 * SQ_US_PER_S)

static void parse(void **state)
{
    sla_ladders l;
    char err[200];
    assert_int_equal(sla_ladders_parse("default=0.8,1,2,3;urgent=0.5,1,1.5,2", &l, err, sizeof err), SQ_OK);
    assert_int_equal(l.n, 2);
    assert_true(sla_ladder_for(&l, "urgent")->ratio[0] == 0.5);
    assert_true(sla_ladder_for(&l, "medium")->ratio[3] == 3); /* falls back to default */
    assert_int_equal(sla_ladders_parse("urgent=0.5,1,1.5,2", &l, err, sizeof err), SQ_INVALID);
    assert_non_null(strstr(err, "default"));
    assert_int_equal(sla_ladders_parse("default=0.8,1,2", &l, err, sizeof err), SQ_INVALID);
    assert_int_equal(sla_ladders_parse("default=0.8,1,0.9,3", &l, err, sizeof err), SQ_INVALID); /* not increasing */
    assert_int_equal(sla_ladders_parse("default=0.8,x,2,3", &l, err, sizeof err), SQ_INVALID);
    assert_int_equal(sla_ladders_parse("nonsense", &l, err, sizeof err), SQ_INVALID);
}

static void fire_times(void **state)
{
    int64_t start = 1000 * H, due = start + 4 * H;
    assert_int_equal(sla_fire_at(NULL, 0.8, start, due, 0, 0), start + (int64_t)(3.2 * H));
    assert_int_equal(sla_fire_at(NULL, 1, start, due, 0, 0), due); /* exactly at the deadline */
    assert_int_equal(sla_fire_at(NULL, 2, start, due, 0, 0), start + 8 * H);
    assert_int_equal(sla_fire_at(NULL, 3, start, due, 0, 0), start + 12 * H);
    /* paused: nothing fires; after a 2 h pause the deadline moved 2 h and so did every threshold */
    assert_int_equal(sla_fire_at(NULL, 1, start, due, 0, start + H), INT64_MAX);
    assert_int_equal(sla_fire_at(NULL, 1, start, due + 2 * H, 2 * H, 0), due + 2 * H);
    assert_int_equal(sla_fire_at(NULL, 0.8, start, due + 2 * H, 2 * H, 0), start + 2 * H + (int64_t)(3.2 * H));
    /* a plan's agreed deadline: the clock is measured against it */
    assert_int_equal(sla_fire_at(NULL, 2, start, start + 5 * SQ_US_PER_S, 0, 0), start + 10 * SQ_US_PER_S);
    /* a deadline before the start fires at once */
    assert_int_equal(sla_fire_at(NULL, 0.8, start, start - 1, 0, 0), start);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(parse), cmocka_unit_test(fire_times) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
