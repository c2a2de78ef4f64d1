/*
 * fields.c — tolerant reading of an alarm's secondary fields (fields.h).
 */
#include "fields.h"
#include "sq.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void note(bridge_fields *f, const char *field, const char *why)
{
    if (f->ndropped == BRIDGE_DROPPED_MAX)
        return;
    snprintf(f->dropped[f->ndropped], sizeof f->dropped[0], "%s: %s", field, why);
    f->ndropped++;
}

static const struct { const char *name; int level; } severities[] = {
    { "critical", 1 }, { "major", 2 }, { "minor", 3 }, { "warning", 4 }, { "info", 5 },
};

static bool integral(double d) { return isfinite(d) && d == floor(d); }

static void read_level(json_t *v, bridge_fields *f)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 1000) {
        f->level = (int32_t)json_integer_value(v);
        return;
    }
    if (json_is_real(v) && integral(json_real_value(v)) && json_real_value(v) >= 0 && json_real_value(v) <= 1000) {
        f->level = (int32_t)json_real_value(v);
        return;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (size_t i = 0; i < sizeof severities / sizeof *severities; i++)
            if (strcasecmp(s, severities[i].name) == 0) {
                f->level = severities[i].level;
                return;
            }
        char *endp = NULL;
        long n = *s ? strtol(s, &endp, 10) : -1;
        if (endp && *endp == '\0' && n >= 0 && n <= 1000) {
            f->level = (int32_t)n;
            return;
        }
        note(f, "level", "not a number or a severity name");
        return;
    }
    note(f, "level", "not a number or a severity name");
}

/* A building or unit: a string, or a whole number written as digits. */
static void read_place(json_t *v, const char *field, char *out, size_t n, bridge_fields *f)
{
    out[0] = '\0';
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        if (json_string_length(v) >= n || strlen(json_string_value(v)) != json_string_length(v)) {
            note(f, field, json_string_length(v) >= n ? "longer than 31 bytes" : "contains NUL");
            return;
        }
        sq_strlcpy_utf8(out, json_string_value(v), n);
        return;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
        return;
    }
    if (json_is_real(v) && integral(json_real_value(v)) && json_real_value(v) >= 0 && json_real_value(v) < 1e15) {
        snprintf(out, n, "%.0f", json_real_value(v));
        return;
    }
    note(f, field, "not a string or a whole number");
}

/* Epoch seconds or milliseconds: a number below 1e11 is seconds (until the year 5138), else milliseconds. */
static bool epoch_us(double d, int64_t *us)
{
    if (!isfinite(d) || d <= 0 || d >= 1e14)
        return false;
    *us = d < 1e11 ? (int64_t)llround(d * 1e6) : (int64_t)llround(d * 1e3);
    return true;
}

static void read_time(json_t *v, bridge_fields *f)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        if (sq_parse_rfc3339(json_string_value(v), &f->device_time_us) == SQ_OK)
            return;
        char *endp = NULL;
        const char *s = json_string_value(v);
        double d = *s ? strtod(s, &endp) : 0;
        if (endp && *endp == '\0' && epoch_us(d, &f->device_time_us))
            return;
        f->device_time_us = 0;
        note(f, "occurred_at", "not RFC 3339 or epoch seconds or milliseconds");
        return;
    }
    if (json_is_number(v) && epoch_us(json_number_value(v), &f->device_time_us))
        return;
    f->device_time_us = 0;
    note(f, "occurred_at", "not RFC 3339 or epoch seconds or milliseconds");
}

void bridge_read_fields(json_t *level, json_t *building, json_t *unit, json_t *occurred, json_t *snapshot,
                        bridge_fields *f)
{
    memset(f, 0, sizeof *f);
    read_level(level, f);
    read_place(building, "building", f->building, sizeof f->building, f);
    read_place(unit, "unit", f->unit, sizeof f->unit, f);
    read_time(occurred, f);
    if (snapshot && json_is_string(snapshot))
        f->snapshot_url = json_string_value(snapshot);
    else if (snapshot && !json_is_null(snapshot))
        note(f, "snapshot_url", "not a string");
}

char **bridge_fields_notes(bridge_fields *f)
{
    for (int i = 0; i < f->ndropped; i++)
        f->dropped_ptrs[i] = f->dropped[i];
    return f->dropped_ptrs;
}
