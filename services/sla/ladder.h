/*
 * ladder.h — the thresholds of a clock: a warning at w·target and escalation
 * levels at l1, l2, l3 ·target (DESIGN.md §3: 0.8, 1, 2, 3). The breach is
 * emitted with level 1. Configurable per tier:
 *
 *   "default=0.8,1,2,3;urgent=0.5,1,1.5,2"
 *
 * Pure functions.
 */
#ifndef SLA_LADDER_H
#define SLA_LADDER_H

#include "calendar.h"
#include "sq.h"

#include <stdint.h>

#define SLA_STEPS 4 /* warning, level 1 (= breach), level 2, level 3 */

typedef struct sla_ladder {
    char tier[16];
    double ratio[SLA_STEPS];
} sla_ladder;

typedef struct sla_ladders {
    sla_ladder list[8];
    int n;
} sla_ladders;

int sla_ladders_parse(const char *spec, sla_ladders *out, char *err, size_t errlen);
const sla_ladder *sla_ladder_for(const sla_ladders *l, const char *tier);

/*
 * When step `step` of a clock fires: started + paused + ratio × (due − started − paused),
 * so ratio 1 is exactly the (pause-extended) deadline. INT64_MAX while the clock is paused.
 */
int64_t sla_fire_at(const sq_calendar *cal, double ratio, int64_t started_us, int64_t due_us, int64_t paused_total_us, int64_t paused_since_us);

#endif
