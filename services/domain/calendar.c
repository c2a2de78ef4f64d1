/*
 * calendar.c — deadline arithmetic. Wall time only for now: working calendars
 * are not loaded yet (sq_calendar_load reports that).
 */
#include "calendar.h"

#include <stdlib.h>

struct sq_calendar {
    char name[64];
};

sq_calendar *sq_calendar_load(const char *path, char *err, size_t errlen)
{
    sq_fail(err, errlen, SQ_INVALID, "%s: working calendars are not supported yet", path);
    return NULL;
}

void sq_calendar_free(sq_calendar *cal) { free(cal); }
const char *sq_calendar_name(const sq_calendar *cal) { return cal ? cal->name : "wall"; }

int64_t sq_calendar_add(const sq_calendar *cal, int64_t start_us, int64_t duration_us)
{
    return start_us + duration_us;
}

int64_t sq_calendar_elapsed(const sq_calendar *cal, int64_t from_us, int64_t to_us)
{
    return to_us > from_us ? to_us - from_us : 0;
}
