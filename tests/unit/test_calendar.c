/*
 * Working calendars: the boundaries of a working day (before opening, at
 * opening, in the lunch break, at closing), weekends, holiday ranges and
 * make-up working days of the real deploy/calendars/cn-workdays-2026.cal,
 * exactly-at-deadline, d == 0, wall time, elapsed against a minute-by-minute
 * reference, the inverse and monotonicity properties on pseudo-random inputs,
 * long durations, and load errors naming file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "util.h"

#define MIN (60 * SQ_US_PER_S)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define WORKDAY (7 * HOUR + 30 * MIN)   /* 09:00-12:00 + 13:30-18:00 */

static sq_calendar *cn;

/* ---------------------------------------------------------------- helpers */

/* "2026-01-05 09:00" in Asia/Shanghai. */
static int64_t at(const char *local)
{
    char buf[64];
    int64_t us;
    snprintf(buf, sizeof buf, "%.10sT%.5s:00+08:00", local, local + 11);
    assert_int_equal(sq_parse_rfc3339(buf, &us), SQ_OK);
    return us;
}

/* Compares as Shanghai text so a failure shows both instants readably. */
static void assert_at(int64_t got, const char *want)
{
    char a[64], b[64];
    sq_fmt_shanghai(got, a, sizeof a);
    sq_fmt_shanghai(at(want), b, sizeof b);
    assert_string_equal(a, b);
}

static sq_calendar *load_text(const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
    char tmpl[] = "/tmp/sq_cal_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    err[0] = '\0';
    sq_calendar *c = sq_calendar_load(tmpl, err, errlen);
    unlink(tmpl);
    snprintf(path, pathlen, "%s", tmpl);
    return c;
}

static void calendar_path(char *out, size_t outlen, const char *file)
{
    const char *src = getenv("SHEQU_SOURCE_DIR");
    if (src && *src) {
        snprintf(out, outlen, "%s/deploy/calendars/%s", src, file);
        return;
    }
    const char *slash = strrchr(__FILE__, '/');   /* tests/unit/test_calendar.c → ../../deploy */
    int dirlen = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, outlen, "%.*s/../../deploy/calendars/%s", dirlen, slash ? __FILE__ : ".", file);
}

static int load_cn(void **state)
{
    char path[1024], err[512];
    calendar_path(path, sizeof path, "cn-workdays-2026.cal");
    cn = sq_calendar_load(path, err, sizeof err);
    if (!cn)
        fprintf(stderr, "%s\n", err);
    return cn ? 0 : -1;
}

static int free_cn(void **state)
{
    sq_calendar_free(cn);
    return 0;
}

/* Reference: is the minute starting at `us` worked under cn-workdays-2026? Written from the notice. */
static bool ref_worked(int64_t us)
{
    static const char *const off[] = { "2026-01-01", "2026-01-02", "2026-01-03", "2026-02-15", "2026-02-16",
                                       "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21",
                                       "2026-02-22", "2026-02-23", "2026-04-04", "2026-04-05", "2026-04-06",
                                       "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
                                       "2026-06-19", "2026-06-20", "2026-06-21", "2026-09-25", "2026-09-26",
                                       "2026-09-27", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04",
                                       "2026-10-05", "2026-10-06", "2026-10-07" };
    static const char *const on[] = { "2026-01-04", "2026-02-14", "2026-02-28",
                                      "2026-05-09", "2026-09-20", "2026-10-10" };
    char text[64];
    sq_fmt_shanghai(us, text, sizeof text);
    int64_t day = sq_shanghai_day(us), minute = (us + SQ_TZ_SHANGHAI_US - day * DAY) / MIN;
    bool workday = ((day % 7) + 7 + 3) % 7 < 5;   /* 1970-01-01 was a Thursday */
    for (size_t i = 0; i < SQ_ARRAY_LEN(off); i++)
        if (strncmp(text, off[i], 10) == 0)
            workday = false;
    for (size_t i = 0; i < SQ_ARRAY_LEN(on); i++)
        if (strncmp(text, on[i], 10) == 0)
            workday = true;
    return workday && ((minute >= 9 * 60 && minute < 12 * 60) || (minute >= 13 * 60 + 30 && minute < 18 * 60));
}

static uint64_t rng = 20260101;

static uint64_t next_rand(void)   /* xorshift64*: deterministic across platforms */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static int64_t rand_below(int64_t n) { return (int64_t)(next_rand() % (uint64_t)n); }

/* ------------------------------------------------------- working-day edges */

static void before_and_at_opening(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-01-05 08:00"), HOUR), "2026-01-05 10:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 00:00"), 1), "2026-01-05 09:00");
    assert_int_equal(sq_calendar_add(cn, at("2026-01-05 08:00"), 1), at("2026-01-05 09:00") + 1);
    assert_at(sq_calendar_add(cn, at("2026-01-05 09:00"), HOUR), "2026-01-05 10:00");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 00:00"), at("2026-01-05 09:00")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 08:00"), at("2026-01-05 10:00")), HOUR);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 09:00"), at("2026-01-05 10:00")), HOUR);
}

static void lunch_break(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-01-05 12:30"), 30 * MIN), "2026-01-05 14:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 11:30"), HOUR), "2026-01-05 14:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 11:30"), 30 * MIN), "2026-01-05 12:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 12:00"), 1 * MIN), "2026-01-05 13:31");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 12:00"), at("2026-01-05 13:30")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 12:15"), at("2026-01-05 13:00")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 11:00"), at("2026-01-05 14:00")), 90 * MIN);
}

static void end_of_day(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-01-05 17:00"), HOUR), "2026-01-05 18:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 18:00"), MIN), "2026-01-06 09:01");
    assert_at(sq_calendar_add(cn, at("2026-01-05 17:59"), 2 * MIN), "2026-01-06 09:01");
    assert_at(sq_calendar_add(cn, at("2026-01-05 23:59"), HOUR), "2026-01-06 10:00");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 18:00"), at("2026-01-06 09:00")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 17:00"), at("2026-01-06 10:00")), 2 * HOUR);
}

static void deadline_exactly_at_closing(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-01-05 09:00"), 3 * HOUR), "2026-01-05 12:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 09:00"), WORKDAY), "2026-01-05 18:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 09:00"), 2 * WORKDAY), "2026-01-06 18:00");
    assert_at(sq_calendar_add(cn, at("2026-01-05 08:00"), 5 * WORKDAY), "2026-01-09 18:00");   /* a Friday */
    assert_at(sq_calendar_add(cn, at("2026-01-05 08:00"), 5 * WORKDAY + 1), "2026-01-12 09:00");
    assert_at(sq_calendar_add(cn, at("2026-02-13 09:00"), 2 * WORKDAY), "2026-02-14 18:00"); /* make-up Sat */
    assert_at(sq_calendar_add(cn, at("2026-01-30 17:00"), 4 * HOUR), "2026-02-02 12:00");    /* README */
}

static void zero_duration(void **state)
{
    const char *starts[] = { "2026-01-05 08:00", "2026-01-05 09:00", "2026-01-05 12:30", "2026-01-05 18:00",
                             "2026-01-10 11:00", "2026-02-18 10:00" };
    for (size_t i = 0; i < SQ_ARRAY_LEN(starts); i++) {
        assert_int_equal(sq_calendar_add(cn, at(starts[i]), 0), at(starts[i]));
        assert_int_equal(sq_calendar_add(cn, at(starts[i]) + 7, 0), at(starts[i]) + 7);
        assert_int_equal(sq_calendar_elapsed(cn, at(starts[i]), at(starts[i])), 0);
    }
}

/* ------------------------------------------------- weekends and holidays */

static void weekend(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-01-09 17:00"), 2 * HOUR), "2026-01-12 10:00");
    assert_at(sq_calendar_add(cn, at("2026-01-10 11:00"), HOUR), "2026-01-12 10:00");
    assert_at(sq_calendar_add(cn, at("2026-01-11 23:59"), HOUR), "2026-01-12 10:00");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-09 17:00"), at("2026-01-12 10:00")), 2 * HOUR);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-10 00:00"), at("2026-01-12 00:00")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-05 00:00"), at("2026-01-12 00:00")), 5 * WORKDAY);
}

static void holiday_ranges(void **state)
{
    /* Spring Festival: 15-23 Feb off, Saturday 14 Feb worked. */
    assert_at(sq_calendar_add(cn, at("2026-02-14 17:00"), 2 * HOUR), "2026-02-24 10:00");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-02-14 18:00"), at("2026-02-24 09:00")), 0);
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-02-16 10:00"), at("2026-02-16 11:00")), 0);
    /* National Day: 1-7 Oct off. */
    assert_at(sq_calendar_add(cn, at("2026-09-30 17:00"), 2 * HOUR), "2026-10-08 10:00");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-09-30 17:00"), at("2026-10-08 10:00")), 2 * HOUR);
    /* New Year spans the year boundary: Wednesday 31 Dec 2025 → Sunday 4 Jan 2026 (worked). */
    assert_at(sq_calendar_add(cn, at("2025-12-31 17:00"), 2 * HOUR), "2026-01-04 10:00");
    /* Single-weekday holidays: Qingming Monday 6 Apr, Dragon Boat Friday 19 Jun, Mid-Autumn Friday 25 Sep. */
    assert_at(sq_calendar_add(cn, at("2026-04-03 17:30"), HOUR), "2026-04-07 09:30");
    assert_at(sq_calendar_add(cn, at("2026-06-18 17:30"), HOUR), "2026-06-22 09:30");
    assert_at(sq_calendar_add(cn, at("2026-09-24 17:30"), HOUR), "2026-09-28 09:30");
    /* Labour Day: 1-5 May off; Saturday 9 May worked. */
    assert_at(sq_calendar_add(cn, at("2026-04-30 17:30"), HOUR), "2026-05-06 09:30");
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-04-27 00:00"), at("2026-05-11 00:00")), 8 * WORKDAY);   /* 4 + 3 + Sat 9 May */
}

static void makeup_days_worked(void **state)
{
    assert_at(sq_calendar_add(cn, at("2026-02-13 17:00"), 2 * HOUR), "2026-02-14 10:00");
    assert_at(sq_calendar_add(cn, at("2026-09-19 10:00"), HOUR), "2026-09-20 10:00");   /* a Sunday */
    assert_at(sq_calendar_add(cn, at("2026-10-09 18:00"), HOUR), "2026-10-10 10:00");   /* a Saturday */
    const char *days[] = { "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10" };
    for (size_t i = 0; i < SQ_ARRAY_LEN(days); i++) {
        char from[32], to[32];
        snprintf(from, sizeof from, "%s 00:00", days[i]);
        snprintf(to, sizeof to, "%s 23:59", days[i]);
        assert_int_equal(sq_calendar_elapsed(cn, at(from), at(to)), WORKDAY);
        snprintf(from, sizeof from, "%s 12:00", days[i]);
        assert_int_equal(sq_calendar_elapsed(cn, at(from), at(to)), 4 * HOUR + 30 * MIN);
    }
    /* An ordinary Saturday is not worked. */
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-02-07 00:00"), at("2026-02-08 00:00")), 0);
}

static void whole_year(void **state)
{
    /* 261 weekdays - 19 weekday holidays + 6 make-up days = 248 working days. */
    assert_int_equal(sq_calendar_elapsed(cn, at("2026-01-01 00:00"), at("2027-01-01 00:00")), 248 * WORKDAY);
    assert_at(sq_calendar_add(cn, at("2026-01-01 00:00"), 248 * WORKDAY), "2026-12-31 18:00");
    /* After the last listed date the calendar is a plain week: 300 days = 60 weeks. */
    assert_at(sq_calendar_add(cn, at("2027-01-04 09:00"), 300 * WORKDAY), "2028-02-25 18:00");
    assert_at(sq_calendar_add(cn, at("2027-01-04 09:00"), 300 * WORKDAY + 1), "2028-02-28 09:00");
    /* From long before the first listed date. */
    int64_t t = sq_calendar_add(cn, at("1990-01-01 09:00"), 200 * 52 * 5 * WORKDAY);
    assert_int_equal(sq_calendar_elapsed(cn, at("1990-01-01 09:00"), t), 200 * 52 * 5 * WORKDAY);
    /* Past anything an int64 can hold: saturates instead of overflowing. */
    assert_int_equal(sq_calendar_add(cn, at("2026-01-05 09:00"), INT64_MAX), INT64_MAX);
    assert_true(sq_calendar_elapsed(cn, INT64_MIN, INT64_MAX) > 0);
    assert_true(sq_calendar_elapsed(cn, at("2026-01-05 09:00"), INT64_MAX) > 0);
    assert_int_equal(sq_calendar_add(cn, INT64_MIN, 0), INT64_MIN);
    int64_t lo = sq_calendar_add(cn, INT64_MIN, WORKDAY), hi = sq_calendar_add(cn, INT64_MAX - 30 * DAY, HOUR);
    assert_int_equal(sq_calendar_elapsed(cn, INT64_MIN, lo), WORKDAY);
    assert_int_equal(sq_calendar_elapsed(cn, INT64_MAX - 30 * DAY, hi), HOUR);
}

static void wall_time(void **state)
{
    int64_t s = at("2026-02-14 17:00");
    assert_int_equal(sq_calendar_add(NULL, s, 3 * HOUR), s + 3 * HOUR);
    assert_int_equal(sq_calendar_add(NULL, s, 0), s);
    assert_int_equal(sq_calendar_add(NULL, s, 10 * DAY), s + 10 * DAY);
    assert_int_equal(sq_calendar_elapsed(NULL, s, s + 5 * DAY), 5 * DAY);
    assert_int_equal(sq_calendar_elapsed(NULL, s + 5 * DAY, s), 0);
    assert_string_equal(sq_calendar_name(NULL), "wall");
    assert_string_equal(sq_calendar_name(cn), "cn-workdays-2026");
    sq_calendar_free(NULL);
}

/* ------------------------------------------------------------- properties */

static void elapsed_matches_reference(void **state)
{
    for (int i = 0; i < 150; i++) {
        int64_t from = at("2025-12-25 00:00") + rand_below(380) * DAY + rand_below(24 * 60) * MIN;
        int64_t to = from + rand_below(6 * 24 * 60) * MIN, want = 0;
        for (int64_t m = from; m < to; m += MIN)
            want += ref_worked(m) ? MIN : 0;
        assert_int_equal(sq_calendar_elapsed(cn, from, to), want);
    }
}

static void add_inverts_elapsed(void **state)
{
    int64_t base = at("2025-12-01 00:00");
    for (int i = 0; i < 3000; i++) {
        int64_t s = base + rand_below(400 * DAY);
        if (i % 3 == 0)   /* on a minute, to hit openings and closings exactly */
            s -= (s - base) % (30 * MIN);
        int64_t d = i % 5 == 0 ? rand_below(300) * WORKDAY : i % 5 == 1 ? rand_below(40) * 30 * MIN
                                                                       : rand_below(300 * WORKDAY);
        int64_t t = sq_calendar_add(cn, s, d);
        assert_true(t >= s);
        assert_int_equal(sq_calendar_elapsed(cn, s, t), d);
        if (d > 0)   /* earliest such instant */
            assert_int_equal(sq_calendar_elapsed(cn, s, t - 1), d - 1);
        int64_t d2 = d + rand_below(10 * HOUR), s2 = s + rand_below(3 * DAY);
        assert_true(sq_calendar_add(cn, s, d2) >= t);    /* monotone in d */
        assert_true(sq_calendar_add(cn, s2, d) >= t);    /* monotone in s */
    }
}

static void round_the_clock_is_wall_time(void **state)
{
    char path[64], err[512];
    sq_calendar *c = load_text("hours mon-sun 00:00-24:00\n", path, sizeof path, err, sizeof err);
    assert_non_null(c);
    for (int i = 0; i < 500; i++) {
        int64_t s = at("2026-01-01 00:00") + rand_below(400 * DAY), d = rand_below(30 * DAY);
        if (i % 2)
            s -= s % DAY;
        assert_int_equal(sq_calendar_add(c, s, d), s + d);
        assert_int_equal(sq_calendar_elapsed(c, s, s + d), d);
    }
    sq_calendar_free(c);
}

/* ----------------------------------------------------------------- loading */

static void other_files_load(void **state)
{
    char path[1024], err[512];
    calendar_path(path, sizeof path, "office-hours.cal");
    sq_calendar *c = sq_calendar_load(path, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(sq_calendar_name(c), "office-hours");
    assert_at(sq_calendar_add(c, at("2026-02-16 09:00"), 9 * HOUR), "2026-02-16 18:00");   /* no holidays */
    assert_at(sq_calendar_add(c, at("2026-02-13 17:00"), 2 * HOUR), "2026-02-16 10:00");
    sq_calendar_free(c);

    /* The format's corners: comma lists, day ranges, comments, touching ranges, default name. */
    c = load_text("# test\n\nhours mon,wed-thu 08:00-12:00 12:00-13:00   # touching\n"
                  "hours sat 22:00-24:00\nholiday 2026-01-07\nholiday 2026-01-07 2026-01-07\n"
                  "workday 2026-01-11\n",
                  path, sizeof path, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(sq_calendar_name(c), strrchr(path, '/') + 1);
    assert_int_equal(sq_calendar_elapsed(c, at("2026-01-05 00:00"), at("2026-01-12 00:00")),
                     5 * HOUR + 5 * HOUR + 2 * HOUR + 5 * HOUR);   /* mon, thu, sat, make-up sun */
    assert_at(sq_calendar_add(c, at("2026-01-10 23:00"), 2 * HOUR), "2026-01-11 09:00");
    sq_calendar_free(c);
}

static void no_working_time(void **state)
{
    char path[64], err[512];
    sq_calendar *c = load_text("name nothing at all\nworkday 2026-01-10\n", path, sizeof path, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(sq_calendar_name(c), "nothing at all");
    int64_t s = at("2026-01-05 09:00");
    assert_int_equal(sq_calendar_add(c, s, 1), INT64_MAX);
    assert_int_equal(sq_calendar_add(c, s, 0), s);
    assert_int_equal(sq_calendar_elapsed(c, s, s + 30 * DAY), 0);
    sq_calendar_free(c);
}

static void load_errors_name_the_line(void **state)
{
    static const struct {
        const char *text;
        int line;
        const char *why;
    } cases[] = {
        { "name x\nhours mon-fri 09:00-25:00\n", 2, "bad time range '09:00-25:00'" },
        { "hours mon 9:00-12:00\n", 1, "bad time range" },
        { "hours mon 12:00-09:00\n", 1, "bad time range" },
        { "hours mon 24:00-24:00\n", 1, "bad time range" },
        { "hours mon 09:60-10:00\n", 1, "bad time range" },
        { "# c\n\nhours mon 09:00-12:00 11:00-13:00\n", 3, "overlaps" },
        { "hours mon 13:00-14:00 09:00-12:00\n", 1, "overlaps" },
        { "hours mon-fri 09:00-12:00\nhours fri 13:00-14:00\n", 2, "hours for fri already given on line 1" },
        { "hours fri-mon 09:00-12:00\n", 1, "expected: hours" },
        { "hours monday 09:00-12:00\n", 1, "expected: hours" },
        { "hours mon\n", 1, "expected: hours" },
        { "hours mon-fri 09:00-18:00\nopen sat\n", 2, "unknown directive 'open'" },
        { "holiday 2026-02-15 2026-02-23\nworkday 2026-02-14\nworkday 2026-02-20\n", 3,
          "2026-02-20 is both a holiday and a workday" },
        { "workday 2026-10-10\nholiday 2026-10-01 2026-10-10\n", 2, "2026-10-10 is both" },
        { "holiday 2026-02-30\n", 1, "expected: holiday <YYYY-MM-DD>" },
        { "holiday 2026-2-3\n", 1, "expected: holiday" },
        { "workday 2026-01-01 2026-01-02 2026-01-03\n", 1, "expected: workday" },
        { "holiday 2026-02-23 2026-02-15\n", 1, "bad range" },
        { "holiday 2026-01-01 2027-12-31\n", 1, "bad range" },
        { "name\n", 1, "expected: name" },
    };
    for (size_t i = 0; i < SQ_ARRAY_LEN(cases); i++) {
        char path[64], err[512], want[128];
        sq_calendar *c = load_text(cases[i].text, path, sizeof path, err, sizeof err);
        if (c)
            fail_msg("case %zu loaded: %s", i, cases[i].text);
        snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
        if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].why))
            fail_msg("case %zu: got \"%s\", want \"%s...%s\"", i, err, want, cases[i].why);
    }
    char err[512];
    assert_null(sq_calendar_load("/nonexistent/x.cal", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.cal"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(before_and_at_opening),
        cmocka_unit_test(lunch_break),
        cmocka_unit_test(end_of_day),
        cmocka_unit_test(deadline_exactly_at_closing),
        cmocka_unit_test(zero_duration),
        cmocka_unit_test(weekend),
        cmocka_unit_test(holiday_ranges),
        cmocka_unit_test(makeup_days_worked),
        cmocka_unit_test(whole_year),
        cmocka_unit_test(wall_time),
        cmocka_unit_test(elapsed_matches_reference),
        cmocka_unit_test(add_inverts_elapsed),
        cmocka_unit_test(round_the_clock_is_wall_time),
        cmocka_unit_test(other_files_load),
        cmocka_unit_test(no_working_time),
        cmocka_unit_test(load_errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, load_cn, free_cn);
}
