/*
 * assign.c — assignment, merge window and repeat counting.
 */
#include "assign.h"

#include <limits.h>

int sq_assign_choose(const sq_staff *const *staff, int n, const int *open, const char *category, unsigned rr)
{
    int best = INT_MAX, ties = 0;
    for (int i = 0; i < n; i++) {
        const sq_staff *s = staff[i];
        if (s->role != SQ_ROLE_STAFF || !s->on_duty || !sq_staff_has_skill(s, category))
            continue;
        if (open[i] < best) {
            best = open[i];
            ties = 1;
        } else if (open[i] == best) {
            ties++;
        }
    }
    if (ties == 0)
        return -1;
    unsigned pick = rr % (unsigned)ties;
    for (int i = 0; i < n; i++) {
        const sq_staff *s = staff[i];
        if (s->role != SQ_ROLE_STAFF || !s->on_duty || !sq_staff_has_skill(s, category) || open[i] != best)
            continue;
        if (pick-- == 0)
            return i;
    }
    return -1;
}

bool sq_merge_within(int64_t open_created_us, int64_t now_us, int64_t window_us)
{
    return now_us >= open_created_us && now_us - open_created_us <= window_us;
}

int sq_repeat_count(const int64_t *times, int n, int64_t now_us, int64_t window_us)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        if (times[i] <= now_us && now_us - times[i] <= window_us)
            c++;
    return c;
}
