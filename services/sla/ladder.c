/*
 * ladder.c — thresholds and fire times.
 */
#include "ladder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sla_ladders_parse(const char *spec, sla_ladders *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", spec ? spec : "");
    char *save = NULL;
    for (char *part = strtok_r(copy, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(part, '=');
        if (!eq || out->n == 8)
            return sq_fail(err, errlen, SQ_INVALID, "ladder '%s': expected tier=warn,l1,l2,l3", part);
        *eq = '\0';
        sla_ladder *l = &out->list[out->n];
        snprintf(l->tier, sizeof l->tier, "%s", part);
        char *s2 = NULL;
        int k = 0;
        for (char *v = strtok_r(eq + 1, ",", &s2); v; v = strtok_r(NULL, ",", &s2)) {
            char *end;
            double r = strtod(v, &end);
            if (k == SLA_STEPS || *end || r <= 0 || (k > 0 && r <= l->ratio[k - 1]))
                return sq_fail(err, errlen, SQ_INVALID, "ladder '%s': 4 increasing positive ratios", l->tier);
            l->ratio[k++] = r;
        }
        if (k != SLA_STEPS)
            return sq_fail(err, errlen, SQ_INVALID, "ladder '%s': 4 ratios (warning, levels 1-3)", l->tier);
        out->n++;
    }
    if (!sla_ladder_for(out, "default"))
        return sq_fail(err, errlen, SQ_INVALID, "ladders need a 'default' entry");
    return SQ_OK;
}

const sla_ladder *sla_ladder_for(const sla_ladders *l, const char *tier)
{
    const sla_ladder *def = NULL;
    for (int i = 0; i < l->n; i++) {
        if (tier && strcmp(l->list[i].tier, tier) == 0)
            return &l->list[i];
        if (strcmp(l->list[i].tier, "default") == 0)
            def = &l->list[i];
    }
    return def;
}

int64_t sla_fire_at(const sq_calendar *cal, double ratio, int64_t started_us, int64_t due_us, int64_t paused_total_us,
                    int64_t paused_since_us)
{
    if (paused_since_us)
        return INT64_MAX;
    if (!cal) {
        int64_t span = due_us - started_us - paused_total_us;
        if (span < 0)
            span = 0;
        return started_us + paused_total_us + (int64_t)(ratio * (double)span + 0.5);
    }
    /* on working time: the clock's span is the working time it runs; from 100 % on, count forward from
     * the deadline itself, so that 100 % is the deadline even when it falls outside working hours */
    int64_t span = sq_calendar_elapsed(cal, started_us, due_us) - paused_total_us;
    if (span < 0)
        span = 0;
    if (ratio >= 1.0)
        return sq_calendar_add(cal, due_us, (int64_t)((ratio - 1.0) * (double)span + 0.5));
    return sq_calendar_add(cal, started_us, paused_total_us + (int64_t)(ratio * (double)span + 0.5));
}
