/*
 * rules.h — the operators' rules file (deploy/rules/shequ.rules, format in
 * its header): categories and tiers, urgent keywords, alarm types, each
 * tier's clocks, and the lifecycle settings. Defaults are DESIGN.md §3.
 *
 * A loaded sq_rules is immutable and owns every string it hands out; a
 * reload (SIGHUP) loads a new one and frees the old after switching.
 */
#ifndef SQ_RULES_H
#define SQ_RULES_H

#include "calendar.h"
#include "sq.h"

#include <stdint.h>

#define SQ_MAX_CLOCKS 4
#define SQ_MAX_STOPS 6

typedef struct sq_category {
    const char *code, *name_zh, *name_en, *tier;
    bool evidence_required;
} sq_category;

typedef struct sq_clock_rule {
    char name[16];
    int64_t target_us;      /* for a plan clock: the fallback when no plan is agreed */
    bool from_plan;         /* the deadline is the plan action's agreed deadline */
    char stops[SQ_MAX_STOPS][16];
    int nstops;
} sq_clock_rule;

typedef struct sq_tier_rule {
    char name[16];
    sq_clock_rule clocks[SQ_MAX_CLOCKS];
    int nclocks;
    char calendar[256];     /* "" = wall time; relative paths are relative to the rules file */
    sq_calendar *cal;       /* loaded with the rules; NULL = wall time */
} sq_tier_rule;

typedef struct sq_rules sq_rules;

sq_rules *sq_rules_load(const char *path, char *err, size_t errlen);
void sq_rules_free(sq_rules *r);

const sq_category *sq_rules_category(const sq_rules *r, const char *code);
int sq_rules_categories(const sq_rules *r, const sq_category *const **out);
bool sq_rules_alarm_type_known(const sq_rules *r, const char *type);
/* The category (and tier: the category's unless the alarm line overrides it) of an alarm type; NULL if unknown. */
const sq_category *sq_rules_alarm_category(const sq_rules *r, const char *type, const char **tier);
const sq_tier_rule *sq_rules_tier(const sq_rules *r, const char *tier);
/* The tier a keyword in `text` raises a report to, or NULL. Matches UTF-8 substrings. */
const char *sq_rules_keyword_tier(const sq_rules *r, const char *text);

typedef struct sq_settings {
    int64_t merge_window_us;
    int64_t repeat_window_us;
    int repeat_threshold;
    int64_t close_after_us;
    int64_t alarm_reopen_window_us;
    double arrive_max_m;
} sq_settings;
const sq_settings *sq_rules_settings(const sq_rules *r);

/* "15m" → microseconds. SQ_OK or SQ_INVALID. */
int sq_parse_duration(const char *s, int64_t *us);

#endif
