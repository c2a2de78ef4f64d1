/*
 * assign.h — who gets a new ticket (DESIGN.md §4), and whether a newcomer
 * merges or repeats. Pure functions.
 */
#ifndef SQ_ASSIGN_H
#define SQ_ASSIGN_H

#include "directory.h"

#include <stdint.h>

/*
 * Among `staff` (n people of one company), picks an on-duty member with role
 * staff whose skills cover the category and who has the fewest open tickets
 * (open[i]); ties are broken round-robin by `rr`. Returns the index, or -1
 * when nobody is eligible (the caller then falls back to the manager).
 */
int sq_assign_choose(const sq_staff *const *staff, int n, const int *open, const char *category, unsigned rr);

/* True if a newcomer created at now_us joins an open ticket created at open_created_us (window inclusive). */
bool sq_merge_within(int64_t open_created_us, int64_t now_us, int64_t window_us);

/* How many of times[0..n) fall within the window ending at now_us (inclusive edge). */
int sq_repeat_count(const int64_t *times, int n, int64_t now_us, int64_t window_us);

#endif
