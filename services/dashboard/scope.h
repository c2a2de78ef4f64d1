/*
 * scope.h — the rows a request may see, and its period (see scope.c).
 */
#ifndef DASH_SCOPE_H
#define DASH_SCOPE_H

#include "dashboard.h"

typedef struct dash_scope {
    char spec[140];      /* as asked: "district", "street:s1", ... */
    char kind[12];
    char id[65];
    char name[128];
    char *communities;   /* text[] literal of the visible communities, NULL = all */
    const char *company; /* company filter, or NULL */
    char from[11], to[11];
} dash_scope;

bool dash_id_ok(const char *s);
/* A ticket id: the same characters, up to SQ_TICKET_ID_MAX - 1 ("<community_id>.<uuid>", ticket.h). */
bool dash_ticket_id_ok(const char *s);
/* Shanghai day numbers (days since 1970-01-01) and YYYY-MM-DD. */
int dash_day_parse(const char *s, long *day);
void dash_day_format(long day, char out[11]);
long dash_today(void);
/* "2026Q3" → its first and last day. */
int dash_quarter_parse(const char *s, long *from, long *to);

/* Intersects the requested scope (NULL = the user's own) with the user's: false with 400/403/404/503 in r. */
bool dash_scope_resolve(sq_pg *pg, const dash_user *u, const char *requested, dash_scope *s, dash_reply *r);
/* Reads from/to (default: the 30 days up to today): false with a 400 naming the field. */
bool dash_period(const dash_request *q, dash_scope *s, dash_reply *r);
void dash_scope_free(dash_scope *s);

#endif
