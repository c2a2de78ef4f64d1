/*
 * calendar.c — deadline arithmetic on a working calendar.
 *
 * A calendar is a weekly table of working ranges (Asia/Shanghai local time)
 * plus dated exceptions: holidays (no work) and make-up working days (worked
 * with Monday's ranges). Exceptions are kept sorted by local day so that a
 * day's schedule is one binary search away, and the stretches between them
 * are skipped a week at a time: any seven consecutive ordinary days hold
 * exactly one week's worth of working time. The file format is documented in
 * deploy/calendars/README.md; every load error names path:line.
 */
#include "calendar.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_US (86400LL * SQ_US_PER_S)
#define MIN_US (60LL * SQ_US_PER_S)
#define MAX_RANGES 8
#define MAX_SPECIAL 4096
#define MAX_SPAN 366            /* days in one holiday/workday line */
#define FAR_DAY (1LL << 40)     /* beyond any day an int64 instant can name */

typedef struct { int64_t from, to; } span;   /* offsets from local midnight, us */

typedef struct {
    span r[MAX_RANGES];
    int n;
    int64_t total;
    int line;                   /* where it was set, 0 = not yet */
} day_hours;

typedef struct { int64_t day; bool work; } special;   /* local day; make-up workday, else holiday */

struct sq_calendar {
    char name[128];
    day_hours week[7];          /* mon..sun */
    int64_t week_total;
    special sp[MAX_SPECIAL];
    int nsp;
};

static const day_hours no_hours;
static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* ------------------------------------------------------------ schedule */

/* 1970-01-01 was a Thursday; Monday is 0. */
static int weekday(int64_t day) { return (int)(((day % 7) + 7 + 3) % 7); }

/* Index of the first exception on or after day (nsp if none). */
static int lower_bound(const sq_calendar *c, int64_t day)
{
    int lo = 0, hi = c->nsp;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->sp[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t next_special(const sq_calendar *c, int64_t day)
{
    int i = lower_bound(c, day);
    return i < c->nsp ? c->sp[i].day : FAR_DAY;
}

static const day_hours *hours_of(const sq_calendar *c, int64_t day)
{
    int i = lower_bound(c, day);
    if (i < c->nsp && c->sp[i].day == day)
        return c->sp[i].work ? &c->week[0] : &no_hours;
    return &c->week[weekday(day)];
}

/* Working time of one day between local offsets lo and hi. */
static int64_t work_within(const day_hours *h, int64_t lo, int64_t hi)
{
    int64_t sum = 0;
    for (int i = 0; i < h->n; i++) {
        int64_t a = h->r[i].from > lo ? h->r[i].from : lo, b = h->r[i].to < hi ? h->r[i].to : hi;
        sum += b > a ? b - a : 0;
    }
    return sum;
}

/* Working time of the whole days [d0, d1). */
static int64_t work_days(const sq_calendar *c, int64_t d0, int64_t d1)
{
    int64_t sum = 0;
    while (d0 < d1) {
        int64_t ns = next_special(c, d0), plain_end = ns < d1 ? ns : d1;
        int64_t weeks = (plain_end - d0) / 7;
        sum += weeks * c->week_total;
        for (d0 += 7 * weeks; d0 < d1 && (d0 < plain_end || d0 == ns); d0++)
            sum += hours_of(c, d0)->total;
    }
    return sum;
}

/* Instant → (local day, offset from local midnight), without overflow at the int64 ends. */
static void to_local(int64_t us, int64_t *day, int64_t *off)
{
    int64_t r = us % DAY_US + SQ_TZ_SHANGHAI_US, carry = r < 0 ? -1 : r >= DAY_US ? 1 : 0;
    *day = us / DAY_US + carry;
    *off = r - carry * DAY_US;
}

/* The inverse, saturating at the int64 ends. */
static int64_t from_local(int64_t day, int64_t off)
{
    if (day > INT64_MAX / DAY_US || day < INT64_MIN / DAY_US)
        return day > 0 ? INT64_MAX : INT64_MIN;
    int64_t base = day * DAY_US, rest = off - SQ_TZ_SHANGHAI_US;
    if (rest > 0 ? base > INT64_MAX - rest : base < INT64_MIN - rest)
        return rest > 0 ? INT64_MAX : INT64_MIN;
    return base + rest;
}

/* From the start of *day, skip whole days (a week at a time between exceptions) that hold less than
 * *rem of work. Leaves *rem > 0 and *day the day that completes it, or a day >= FAR_DAY. */
static void skip_days(const sq_calendar *c, int64_t *day, int64_t *rem)
{
    for (;; ++*day) {
        int64_t weeks = (next_special(c, *day) - *day) / 7, need = (*rem - 1) / c->week_total;
        weeks = weeks < need ? weeks : need;
        *rem -= weeks * c->week_total;
        *day += 7 * weeks;
        int64_t total = hours_of(c, *day)->total;
        if (total >= *rem || *day >= FAR_DAY)
            return;
        *rem -= total;
    }
}

/* The offset at which rem of work after off is done, given that the day holds it. */
static int64_t finish_within(const day_hours *h, int64_t off, int64_t rem)
{
    for (int i = 0; i < h->n; i++) {
        int64_t from = h->r[i].from > off ? h->r[i].from : off;
        if (h->r[i].to <= from)
            continue;
        if (rem <= h->r[i].to - from)
            return from + rem;   /* == to when it ends exactly at closing */
        rem -= h->r[i].to - from;
    }
    return DAY_US;
}

int64_t sq_calendar_add(const sq_calendar *cal, int64_t start_us, int64_t duration_us)
{
    if (!cal)
        return start_us + duration_us;
    if (duration_us <= 0)
        return start_us;
    if (cal->week_total == 0)
        return INT64_MAX;
    int64_t day, off, rem = duration_us;
    to_local(start_us, &day, &off);
    int64_t first = work_within(hours_of(cal, day), off, DAY_US);
    if (rem > first) {
        rem -= first;
        day++;
        off = 0;
        skip_days(cal, &day, &rem);
    }
    return from_local(day, finish_within(hours_of(cal, day), off, rem));
}

int64_t sq_calendar_elapsed(const sq_calendar *cal, int64_t from_us, int64_t to_us)
{
    if (to_us <= from_us)
        return 0;
    if (!cal)
        return to_us - from_us;
    int64_t d0, o0, d1, o1;
    to_local(from_us, &d0, &o0);
    to_local(to_us, &d1, &o1);
    if (d0 == d1)
        return work_within(hours_of(cal, d0), o0, o1);
    return work_within(hours_of(cal, d0), o0, DAY_US) + work_days(cal, d0 + 1, d1) +
           work_within(hours_of(cal, d1), 0, o1);
}

/* -------------------------------------------------------------- parser */

/* s[0..len) matches pat exactly, 'd' in pat standing for any digit. */
static bool shaped(const char *s, size_t len, const char *pat)
{
    if (len != strlen(pat))
        return false;
    for (size_t i = 0; i < len; i++)
        if (pat[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != pat[i])
            return false;
    return true;
}

/* "HH:MM" with HH 00..24 (24 only as 24:00) into an offset from midnight. */
static int parse_time(const char *s, size_t len, int64_t *us)
{
    if (!shaped(s, len, "dd:dd"))
        return SQ_INVALID;
    int hh = (s[0] - '0') * 10 + (s[1] - '0'), mm = (s[3] - '0') * 10 + (s[4] - '0');
    if (hh > 24 || mm > 59 || (hh == 24 && mm != 0))
        return SQ_INVALID;
    *us = (hh * 60 + mm) * MIN_US;
    return SQ_OK;
}

static int parse_span(const char *s, span *out)
{
    const char *dash = strchr(s, '-');
    if (!dash || parse_time(s, (size_t)(dash - s), &out->from) || parse_time(dash + 1, strlen(dash + 1), &out->to))
        return SQ_INVALID;
    return out->from < out->to ? SQ_OK : SQ_INVALID;
}

static int day_index(const char *s, size_t len)
{
    for (int i = 0; i < 7; i++)
        if (len == 3 && strncmp(s, day_names[i], 3) == 0)
            return i;
    return -1;
}

/* "mon", "mon-fri", "mon,wed,sat-sun" into a mask of weekdays. */
static int parse_days(char *s, bool days[7])
{
    char *save = NULL;
    bool any = false;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        int a = day_index(tok, dash ? (size_t)(dash - tok) : strlen(tok));
        int b = dash ? day_index(dash + 1, strlen(dash + 1)) : a;
        if (a < 0 || b < a)
            return SQ_INVALID;
        for (int i = a; i <= b; i++)
            days[i] = any = true;
    }
    return any ? SQ_OK : SQ_INVALID;
}

static int parse_date(const char *s, int64_t *day)
{
    char buf[32];
    int64_t us;
    if (!shaped(s, strlen(s), "dddd-dd-dd"))
        return SQ_INVALID;
    snprintf(buf, sizeof buf, "%.10sT00:00:00Z", s);
    if (sq_parse_rfc3339(buf, &us) != SQ_OK)
        return SQ_INVALID;
    *day = us / DAY_US;   /* a UTC midnight: exact */
    return SQ_OK;
}

static int parse_hours(sq_calendar *c, char **w, int n, int line, char *why, size_t whylen)
{
    bool days[7] = { false };
    day_hours h = { .line = line };
    if (n < 3 || parse_days(w[1], days) != SQ_OK)
        return sq_fail(why, whylen, SQ_INVALID, "expected: hours <days> <HH:MM-HH:MM> [...], days like mon-fri");
    if (n - 2 > MAX_RANGES)
        return sq_fail(why, whylen, SQ_INVALID, "too many ranges (max %d)", MAX_RANGES);
    for (int i = 2; i < n; i++, h.n++) {
        if (parse_span(w[i], &h.r[h.n]) != SQ_OK)
            return sq_fail(why, whylen, SQ_INVALID, "bad time range '%s' (HH:MM-HH:MM within 00:00-24:00)", w[i]);
        if (h.n > 0 && h.r[h.n].from < h.r[h.n - 1].to)
            return sq_fail(why, whylen, SQ_INVALID, "range '%s' overlaps or precedes the one before it", w[i]);
        h.total += h.r[h.n].to - h.r[h.n].from;
    }
    for (int d = 0; d < 7; d++) {
        if (!days[d])
            continue;
        if (c->week[d].line)
            return sq_fail(why, whylen, SQ_INVALID, "hours for %s already given on line %d", day_names[d],
                           c->week[d].line);
        c->week[d] = h;
    }
    return SQ_OK;
}

static int parse_special(sq_calendar *c, char **w, int n, bool work, char *why, size_t whylen)
{
    int64_t d0, d1;
    if (n < 2 || n > 3 || parse_date(w[1], &d0) != SQ_OK || parse_date(w[n - 1], &d1) != SQ_OK)
        return sq_fail(why, whylen, SQ_INVALID, "expected: %s <YYYY-MM-DD> [<YYYY-MM-DD>]", w[0]);
    if (d1 < d0 || d1 - d0 >= MAX_SPAN)
        return sq_fail(why, whylen, SQ_INVALID, "bad range %s..%s (ascending, at most %d days)", w[1], w[n - 1],
                       MAX_SPAN);
    for (int64_t d = d0; d <= d1; d++) {
        for (int i = 0; i < c->nsp; i++)
            if (c->sp[i].day == d && c->sp[i].work != work) {
                char date[64];
                return sq_fail(why, whylen, SQ_INVALID, "%.10s is both a holiday and a workday",
                               sq_fmt_rfc3339(d * DAY_US, date, sizeof date));
            }
        if (c->nsp == MAX_SPECIAL)
            return sq_fail(why, whylen, SQ_INVALID, "too many holidays and workdays (max %d)", MAX_SPECIAL);
        c->sp[c->nsp++] = (special){ d, work };
    }
    return SQ_OK;
}

static int parse_line(sq_calendar *c, char **w, int n, int line, char *why, size_t whylen)
{
    if (strcmp(w[0], "name") == 0) {
        if (n < 2)
            return sq_fail(why, whylen, SQ_INVALID, "expected: name <text>");
        size_t len = 0;
        for (int i = 1; i < n; i++) {
            if (len + strlen(w[i]) + 2 > sizeof c->name)
                return sq_fail(why, whylen, SQ_INVALID, "name too long (max %zu bytes)", sizeof c->name - 1);
            len += (size_t)sprintf(c->name + len, "%s%s", i > 1 ? " " : "", w[i]);
        }
        return SQ_OK;
    }
    if (strcmp(w[0], "hours") == 0)
        return parse_hours(c, w, n, line, why, whylen);
    if (strcmp(w[0], "holiday") == 0 || strcmp(w[0], "workday") == 0)
        return parse_special(c, w, n, strcmp(w[0], "workday") == 0, why, whylen);
    return sq_fail(why, whylen, SQ_INVALID, "unknown directive '%s'", w[0]);
}

static int by_day(const void *a, const void *b)
{
    int64_t x = ((const special *)a)->day, y = ((const special *)b)->day;
    return (x > y) - (x < y);
}

static void finish(sq_calendar *c, const char *path)
{
    qsort(c->sp, (size_t)c->nsp, sizeof c->sp[0], by_day);
    int n = 0;
    for (int i = 0; i < c->nsp; i++)   /* same-kind duplicates collapse */
        if (n == 0 || c->sp[n - 1].day != c->sp[i].day)
            c->sp[n++] = c->sp[i];
    c->nsp = n;
    for (int d = 0; d < 7; d++)
        c->week_total += c->week[d].total;
    if (!c->name[0]) {
        const char *slash = strrchr(path, '/');
        snprintf(c->name, sizeof c->name, "%.100s", slash ? slash + 1 : path);
    }
}

sq_calendar *sq_calendar_load(const char *path, char *err, size_t errlen)
{
    sq_calendar *c = calloc(1, sizeof *c);
    FILE *f = c ? fopen(path, "r") : NULL;
    if (!f) {
        sq_fail(err, errlen, c ? SQ_INVALID : SQ_NOMEM, "calendar file %s: %s", path, c ? strerror(errno) : "no memory");
        free(c);
        return NULL;
    }
    char line[1024], why[256];
    int lineno = 0, rc = SQ_OK;
    while (rc == SQ_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#'), *w[64], *save = NULL;
        if (!strchr(line, '\n') && !feof(f))
            rc = sq_fail(why, sizeof why, SQ_INVALID, "line too long (max %zu bytes)", sizeof line - 2);
        if (hash)
            *hash = '\0';
        int n = 0;
        for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < 64; tok = strtok_r(NULL, " \t\r\n", &save))
            w[n++] = tok;
        if (rc == SQ_OK && n > 0)
            rc = parse_line(c, w, n, lineno, why, sizeof why);
    }
    fclose(f);
    if (rc != SQ_OK) {
        sq_fail(err, errlen, SQ_INVALID, "%s:%d: %s", path, lineno, why);
        free(c);
        return NULL;
    }
    finish(c, path);
    return c;
}

void sq_calendar_free(sq_calendar *cal) { free(cal); }
const char *sq_calendar_name(const sq_calendar *cal) { return cal ? cal->name : "wall"; }
