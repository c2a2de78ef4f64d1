/*
 * scope.c — which rows a request may see. A requested scope (district,
 * street:ID, community:ID, company:ID) is intersected with the user's own;
 * anything outside it is a 403. The result is the community list (a text[]
 * literal, NULL for all) and the company filter every query takes as $1, $2.
 * Periods are Shanghai days, inclusive.
 */
#include "scope.h"
#include "ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dash_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool dash_ticket_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < SQ_TICKET_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

void dash_day_format(long day, char out[11])
{
    int y;
    unsigned m, d;
    sq_civil_from_days(day, &y, &m, &d);
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", y % 10000, m, d);
    snprintf(out, 11, "%.10s", tmp);
}

int dash_day_parse(const char *s, long *day)
{
    int y, m, d, n = 0;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
        return SQ_INVALID;
    if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > 31)
        return SQ_INVALID;
    char back[11];
    *day = (long)sq_days_from_civil(y, (unsigned)m, (unsigned)d);
    dash_day_format(*day, back);
    return strcmp(back, s) == 0 ? SQ_OK : SQ_INVALID; /* 2026-02-30 does not round-trip */
}

int dash_quarter_parse(const char *s, long *from, long *to)
{
    int y, q, n = 0;
    if (!s || sscanf(s, "%4dQ%1d%n", &y, &q, &n) != 2 || n != 6 || (size_t)n != strlen(s) || q < 1 || q > 4 ||
        y < 2000 || y > 2999)
        return SQ_INVALID;
    *from = (long)sq_days_from_civil(y, (unsigned)(3 * q - 2), 1);
    *to = (long)(q == 4 ? sq_days_from_civil(y + 1, 1, 1) : sq_days_from_civil(y, (unsigned)(3 * q + 1), 1)) - 1;
    return SQ_OK;
}

long dash_today(void) { return (long)sq_shanghai_day(sq_now_us()); }

static const char resolve_sql[] =
    "SELECT CASE WHEN $1 = 'district' THEN true"
    "            WHEN $3 = 'district' THEN false"
    "            WHEN $3 = 'street' THEN $1 = 'street' AND $4 = $2"
    "            WHEN $3 = 'community' THEN EXISTS (SELECT 1 FROM shequ.communities c WHERE c.community_id = $4"
    "                 AND (($1 = 'street' AND c.street_id = $2) OR ($1 = 'community' AND c.community_id = $2)))"
    "            ELSE true END,"
    "       CASE WHEN $1 = 'district' AND $3 IN ('district', 'company') THEN NULL"
    "            WHEN $3 = 'community' THEN ARRAY[$4]::text"
    "            ELSE (SELECT coalesce(array_agg(c.community_id ORDER BY c.community_id), '{}') FROM shequ.communities c"
    "                   WHERE ($1 = 'district' OR ($1 = 'street' AND c.street_id = $2)"
    "                          OR ($1 = 'community' AND c.community_id = $2))"
    "                     AND ($3 <> 'street' OR c.street_id = $4))::text END,"
    "       CASE $3 WHEN 'district' THEN '' WHEN 'street' THEN (SELECT name FROM shequ.streets WHERE street_id = $4)"
    "               WHEN 'community' THEN (SELECT name FROM shequ.communities WHERE community_id = $4)"
    "               WHEN 'company' THEN (SELECT name FROM shequ.companies WHERE company_id = $4) END";

static void own_scope(const dash_user *u, char *out, size_t n)
{
    if (strcmp(u->kind, "district") == 0)
        snprintf(out, n, "district");
    else
        snprintf(out, n, "%s:%s", u->kind, u->scope_id);
}

bool dash_scope_resolve(sq_pg *pg, const dash_user *u, const char *requested, dash_scope *s, dash_reply *r)
{
    memset(s, 0, sizeof *s);
    if (requested && *requested)
        snprintf(s->spec, sizeof s->spec, "%s", requested);
    else
        own_scope(u, s->spec, sizeof s->spec);
    const char *colon = strchr(s->spec, ':');
    size_t kl = colon ? (size_t)(colon - s->spec) : strlen(s->spec);
    if (kl >= sizeof s->kind)
        goto bad;
    memcpy(s->kind, s->spec, kl);
    s->kind[kl] = '\0';
    if (colon)
        snprintf(s->id, sizeof s->id, "%s", colon + 1);
    bool district = strcmp(s->kind, "district") == 0;
    if (district ? colon != NULL
                 : (strcmp(s->kind, "street") && strcmp(s->kind, "community") && strcmp(s->kind, "company")) ||
                       !dash_id_ok(s->id))
        goto bad;
    const char *p[] = { u->kind, u->scope_id, s->kind, s->id };
    PGresult *res;
    char err[256];
    if (sq_pg_exec(pg, resolve_sql, 4, p, &res, err, sizeof err) != SQ_OK) {
        log_warn("scope.failed", "error=\"%s\"", err);
        dash_reply_error(r, 503, "unavailable", NULL, "the database does not answer; try again");
        return false;
    }
    bool allowed = PQgetvalue(res, 0, 0)[0] == 't', known = district || !PQgetisnull(res, 0, 2);
    if (allowed && known) {
        s->communities = PQgetisnull(res, 0, 1) ? NULL : strdup(PQgetvalue(res, 0, 1));
        sq_strlcpy_utf8(s->name, PQgetvalue(res, 0, 2), sizeof s->name);
        if (strcmp(s->kind, "company") == 0)
            s->company = s->id;
    }
    PQclear(res);
    if (!allowed) {
        log_info("scope.refused", "user=%s scope=%s", u->username, s->spec);
        dash_reply_error(r, 403, "forbidden", "scope", "this scope is outside yours");
        return false;
    }
    if (!known) {
        dash_reply_error(r, 404, "not_found", "scope", "no such street, community or company");
        return false;
    }
    return true;
bad:
    dash_reply_error(r, 400, "invalid", "scope", "district, street:ID, community:ID or company:ID");
    return false;
}

bool dash_period(const dash_request *q, dash_scope *s, dash_reply *r)
{
    const char *from = q->arg(q->ctx, "from"), *to = q->arg(q->ctx, "to");
    long f, t = dash_today();
    if (to && dash_day_parse(to, &t) != SQ_OK) {
        dash_reply_error(r, 400, "invalid", "to", "a day as YYYY-MM-DD");
        return false;
    }
    f = t - 29;
    if (from && dash_day_parse(from, &f) != SQ_OK) {
        dash_reply_error(r, 400, "invalid", "from", "a day as YYYY-MM-DD");
        return false;
    }
    if (f > t || t - f > 3660) {
        dash_reply_error(r, 400, "invalid", "from", "from must not be after to, and at most ten years before it");
        return false;
    }
    dash_day_format(f, s->from);
    dash_day_format(t, s->to);
    return true;
}

void dash_scope_free(dash_scope *s) { free(s->communities); }
