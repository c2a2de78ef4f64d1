/*
 * rules.c — parser of the rules file. Line based; every error names file:line.
 */
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CATS 64
#define MAX_ALARMS 64
#define MAX_TIERS 8
#define MAX_KEYWORDS 64

typedef struct {
    char code[32], name_zh[64], name_en[96], tier[16];
    bool evidence;
} cat_store;

typedef struct {
    char type[32], category[32], tier[16];
} alarm_rule;

typedef struct {
    char tier[16], word[64];
} keyword_rule;

struct sq_rules {
    cat_store cats[MAX_CATS];
    sq_category views[MAX_CATS];
    const sq_category *ptrs[MAX_CATS];
    int ncats;
    alarm_rule alarms[MAX_ALARMS];
    int nalarms;
    keyword_rule keywords[MAX_KEYWORDS];
    int nkeywords;
    sq_tier_rule tiers[MAX_TIERS];
    int ntiers;
    sq_settings settings;
};

int sq_parse_duration(const char *s, int64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return SQ_INVALID;
    int64_t unit;
    switch (*end) {
    case 's': unit = 1000000LL; break;
    case 'm': unit = 60 * 1000000LL; break;
    case 'h': unit = 3600 * 1000000LL; break;
    case 'd': unit = 86400 * 1000000LL; break;
    default: return SQ_INVALID;
    }
    if (end[1] != '\0')
        return SQ_INVALID;
    *us = (int64_t)(v * (double)unit);
    return SQ_OK;
}

static sq_tier_rule *tier_get(sq_rules *r, const char *name, bool create)
{
    for (int i = 0; i < r->ntiers; i++)
        if (strcmp(r->tiers[i].name, name) == 0)
            return &r->tiers[i];
    if (!create || r->ntiers == MAX_TIERS)
        return NULL;
    sq_tier_rule *t = &r->tiers[r->ntiers++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static int copy(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap)
        return SQ_INVALID;
    memcpy(dst, src, strlen(src) + 1);
    return SQ_OK;
}

/* One line, already split into words. */
static int parse_line(sq_rules *r, char **w, int n, char *why, size_t whylen)
{
    if (strcmp(w[0], "category") == 0) {
        if (n < 5 || n > 6 || (n == 6 && strcmp(w[5], "evidence") != 0))
            return sq_fail(why, whylen, SQ_INVALID, "expected: category <code> <tier> <name_zh> <name_en> [evidence]");
        if (r->ncats == MAX_CATS)
            return sq_fail(why, whylen, SQ_INVALID, "too many categories (max %d)", MAX_CATS);
        if (sq_rules_category(r, w[1]))
            return sq_fail(why, whylen, SQ_INVALID, "category '%s' defined twice", w[1]);
        cat_store *c = &r->cats[r->ncats];
        if (copy(c->code, sizeof c->code, w[1]) || copy(c->tier, sizeof c->tier, w[2]) ||
            copy(c->name_zh, sizeof c->name_zh, w[3]) || copy(c->name_en, sizeof c->name_en, w[4]))
            return sq_fail(why, whylen, SQ_INVALID, "a field is too long");
        for (char *p = c->name_en; *p; p++)
            if (*p == '_')
                *p = ' ';
        c->evidence = n == 6;
        r->views[r->ncats] = (sq_category){ c->code, c->name_zh, c->name_en, c->tier, c->evidence };
        r->ptrs[r->ncats] = &r->views[r->ncats];
        r->ncats++;
        return SQ_OK;
    }
    if (strcmp(w[0], "keyword") == 0) {
        if (n < 3)
            return sq_fail(why, whylen, SQ_INVALID, "expected: keyword <tier> <word> [<word> ...]");
        for (int i = 2; i < n; i++) {
            if (r->nkeywords == MAX_KEYWORDS)
                return sq_fail(why, whylen, SQ_INVALID, "too many keywords (max %d)", MAX_KEYWORDS);
            keyword_rule *k = &r->keywords[r->nkeywords++];
            if (copy(k->tier, sizeof k->tier, w[1]) || copy(k->word, sizeof k->word, w[i]))
                return sq_fail(why, whylen, SQ_INVALID, "keyword too long");
        }
        return SQ_OK;
    }
    if (strcmp(w[0], "alarm") == 0) {
        if (n < 3 || n > 4)
            return sq_fail(why, whylen, SQ_INVALID, "expected: alarm <type> <category> [<tier>]");
        if (r->nalarms == MAX_ALARMS)
            return sq_fail(why, whylen, SQ_INVALID, "too many alarm types");
        alarm_rule *a = &r->alarms[r->nalarms++];
        if (copy(a->type, sizeof a->type, w[1]) || copy(a->category, sizeof a->category, w[2]) ||
            copy(a->tier, sizeof a->tier, n == 4 ? w[3] : ""))
            return sq_fail(why, whylen, SQ_INVALID, "a field is too long");
        return SQ_OK;
    }
    if (strcmp(w[0], "clock") == 0) {
        if (n != 5)
            return sq_fail(why, whylen, SQ_INVALID, "expected: clock <tier> <name> <target> <stop events>");
        sq_tier_rule *t = tier_get(r, w[1], true);
        if (!t || t->nclocks == SQ_MAX_CLOCKS)
            return sq_fail(why, whylen, SQ_INVALID, "too many tiers or clocks");
        sq_clock_rule *c = &t->clocks[t->nclocks];
        if (copy(c->name, sizeof c->name, w[2]))
            return sq_fail(why, whylen, SQ_INVALID, "clock name too long");
        const char *target = w[3];
        if (strncmp(target, "plan:", 5) == 0) {
            c->from_plan = true;
            target += 5;
        }
        if (sq_parse_duration(target, &c->target_us) != SQ_OK || c->target_us <= 0)
            return sq_fail(why, whylen, SQ_INVALID, "bad target '%s' (e.g. 15m, 4h, 15d, plan:15d)", w[3]);
        char *save = NULL;
        for (char *tok = strtok_r(w[4], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (c->nstops == SQ_MAX_STOPS || copy(c->stops[c->nstops], sizeof c->stops[0], tok))
                return sq_fail(why, whylen, SQ_INVALID, "too many or too long stop events");
            c->nstops++;
        }
        t->nclocks++;
        return SQ_OK;
    }
    if (strcmp(w[0], "calendar") == 0) {
        sq_tier_rule *t = n == 3 ? tier_get(r, w[1], true) : NULL;
        if (!t || copy(t->calendar, sizeof t->calendar, w[2]))
            return sq_fail(why, whylen, SQ_INVALID, "expected: calendar <tier> <file>");
        return SQ_OK;
    }
    if (strcmp(w[0], "set") == 0) {
        if (n != 3)
            return sq_fail(why, whylen, SQ_INVALID, "expected: set <name> <value>");
        sq_settings *s = &r->settings;
        int64_t *dur = strcmp(w[1], "merge_window") == 0          ? &s->merge_window_us
                       : strcmp(w[1], "repeat_window") == 0       ? &s->repeat_window_us
                       : strcmp(w[1], "close_after") == 0         ? &s->close_after_us
                       : strcmp(w[1], "alarm_reopen_window") == 0 ? &s->alarm_reopen_window_us
                                                                  : NULL;
        if (dur) {
            if (sq_parse_duration(w[2], dur) != SQ_OK)
                return sq_fail(why, whylen, SQ_INVALID, "bad duration '%s'", w[2]);
            return SQ_OK;
        }
        char *end;
        double v = strtod(w[2], &end);
        if (*end || v < 0)
            return sq_fail(why, whylen, SQ_INVALID, "bad number '%s'", w[2]);
        if (strcmp(w[1], "repeat_threshold") == 0 && v >= 1)
            s->repeat_threshold = (int)v;
        else if (strcmp(w[1], "arrive_max_m") == 0)
            s->arrive_max_m = v;
        else
            return sq_fail(why, whylen, SQ_INVALID, "unknown setting '%s'", w[1]);
        return SQ_OK;
    }
    return sq_fail(why, whylen, SQ_INVALID, "unknown directive '%s'", w[0]);
}

static int validate(sq_rules *r, char *why, size_t whylen)
{
    for (int i = 0; i < r->ncats; i++)
        if (!sq_rules_tier(r, r->cats[i].tier))
            return sq_fail(why, whylen, SQ_INVALID, "category '%s' names tier '%s' which has no clocks",
                           r->cats[i].code, r->cats[i].tier);
    for (int i = 0; i < r->nalarms; i++) {
        if (!sq_rules_category(r, r->alarms[i].category))
            return sq_fail(why, whylen, SQ_INVALID, "alarm '%s' names unknown category '%s'", r->alarms[i].type,
                           r->alarms[i].category);
        if (r->alarms[i].tier[0] && !sq_rules_tier(r, r->alarms[i].tier))
            return sq_fail(why, whylen, SQ_INVALID, "alarm '%s' names unknown tier '%s'", r->alarms[i].type,
                           r->alarms[i].tier);
    }
    for (int i = 0; i < r->nkeywords; i++)
        if (!sq_rules_tier(r, r->keywords[i].tier))
            return sq_fail(why, whylen, SQ_INVALID, "keyword '%s' names unknown tier '%s'", r->keywords[i].word,
                           r->keywords[i].tier);
    if (r->ncats == 0)
        return sq_fail(why, whylen, SQ_INVALID, "no categories");
    return SQ_OK;
}

/* Loads each tier's working calendar; a relative path is taken from the rules file's directory. */
static int load_calendars(sq_rules *r, const char *rules_path, char *err, size_t errlen)
{
    const char *slash = strrchr(rules_path, '/');
    int dirlen = slash ? (int)(slash - rules_path) : 1;
    for (int i = 0; i < r->ntiers; i++) {
        sq_tier_rule *t = &r->tiers[i];
        if (!t->calendar[0])
            continue;
        char path[600], why[400];
        if (t->calendar[0] == '/')
            snprintf(path, sizeof path, "%s", t->calendar);
        else
            snprintf(path, sizeof path, "%.*s/%s", dirlen, slash ? rules_path : ".", t->calendar);
        if (!(t->cal = sq_calendar_load(path, why, sizeof why)))
            return sq_fail(err, errlen, SQ_INVALID, "%s: calendar of tier '%s': %s", rules_path, t->name, why);
    }
    return SQ_OK;
}

sq_rules *sq_rules_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        sq_fail(err, errlen, SQ_INVALID, "rules file %s: %s", path, strerror(errno));
        return NULL;
    }
    sq_rules *r = calloc(1, sizeof *r);
    r->settings = (sq_settings){ 30 * 60 * 1000000LL, 30 * 86400 * 1000000LL, 3, 72 * 3600 * 1000000LL,
                                 24 * 3600 * 1000000LL, 500 };
    char line[1024], why[200];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *w[16], *save = NULL;
        int n = 0;
        for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < 16; tok = strtok_r(NULL, " \t\r\n", &save))
            w[n++] = tok;
        if (n == 0)
            continue;
        if (parse_line(r, w, n, why, sizeof why) != SQ_OK) {
            sq_fail(err, errlen, SQ_INVALID, "%s:%d: %s", path, lineno, why);
            fclose(f);
            free(r);
            return NULL;
        }
    }
    fclose(f);
    if (validate(r, why, sizeof why) != SQ_OK) {
        sq_fail(err, errlen, SQ_INVALID, "%s: %s", path, why);
        free(r);
        return NULL;
    }
    if (load_calendars(r, path, err, errlen) != SQ_OK) {
        sq_rules_free(r);
        return NULL;
    }
    return r;
}

void sq_rules_free(sq_rules *r)
{
    for (int i = 0; r && i < r->ntiers; i++)
        sq_calendar_free(r->tiers[i].cal);
    free(r);
}

const sq_category *sq_rules_category(const sq_rules *r, const char *code)
{
    for (int i = 0; code && i < r->ncats; i++)
        if (strcmp(r->cats[i].code, code) == 0)
            return &r->views[i];
    return NULL;
}

int sq_rules_categories(const sq_rules *r, const sq_category *const **out)
{
    *out = r->ptrs;
    return r->ncats;
}

const sq_category *sq_rules_alarm_category(const sq_rules *r, const char *type, const char **tier)
{
    for (int i = 0; type && i < r->nalarms; i++)
        if (strcmp(r->alarms[i].type, type) == 0) {
            const sq_category *c = sq_rules_category(r, r->alarms[i].category);
            if (tier)
                *tier = r->alarms[i].tier[0] ? r->alarms[i].tier : c->tier;
            return c;
        }
    return NULL;
}

bool sq_rules_alarm_type_known(const sq_rules *r, const char *type) { return sq_rules_alarm_category(r, type, NULL); }

const sq_tier_rule *sq_rules_tier(const sq_rules *r, const char *tier)
{
    for (int i = 0; tier && i < r->ntiers; i++)
        if (strcmp(r->tiers[i].name, tier) == 0)
            return &r->tiers[i];
    return NULL;
}

const char *sq_rules_keyword_tier(const sq_rules *r, const char *text)
{
    for (int i = 0; text && i < r->nkeywords; i++)
        if (strstr(text, r->keywords[i].word))
            return r->keywords[i].tier;
    return NULL;
}

const sq_settings *sq_rules_settings(const sq_rules *r) { return &r->settings; }
