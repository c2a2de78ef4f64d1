/*
 * calendar.h — deadline arithmetic on wall time or on a working calendar
 * (working hours, public holidays, and the make-up working days of China's
 * holiday shifts, 调休). Pure: no I/O except sq_calendar_load.
 *
 * A NULL calendar means wall time: add is plain addition.
 * All instants are UTC microseconds; calendars are defined in Asia/Shanghai
 * local time.
 */
#ifndef SQ_CALENDAR_H
#define SQ_CALENDAR_H

#include "sq.h"

#include <stdint.h>

typedef struct sq_calendar sq_calendar;

/* Loads a calendar file (format documented in deploy/calendars/README.md). NULL + err on failure,
 * naming the file and line ("path:line: message"). The caller owns the result; free accepts NULL. */
sq_calendar *sq_calendar_load(const char *path, char *err, size_t errlen);
void sq_calendar_free(sq_calendar *cal);
const char *sq_calendar_name(const sq_calendar *cal);

/* The instant when `duration_us` of working time has passed after `start_us`: the earliest t >= start
 * with elapsed(start, t) == duration. On a calendar a duration <= 0 returns start; work completing at a
 * closing time returns that closing time, not the next opening. INT64_MAX if the calendar has no
 * working time at all (or the result is past what an int64 can hold). Monotone in both arguments, and
 * elapsed(s, add(s, d)) == d. */
int64_t sq_calendar_add(const sq_calendar *cal, int64_t start_us, int64_t duration_us);
/* Working time in [from, to) (0 if to <= from). */
int64_t sq_calendar_elapsed(const sq_calendar *cal, int64_t from_us, int64_t to_us);

#endif
