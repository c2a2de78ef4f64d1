/*
 * api.c — the JSON API of docs/dashboard.md. Every figure is a sum over
 * shequ.kpi_daily_base with the rates of shequ.ratio, the definitions
 * kpi_daily itself uses; every query is parameterised with the scope's
 * communities ($1), company ($2) and period ($3, $4).
 */
#include "scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMS                                                                                                   \
    "coalesce(sum(tickets), 0)::bigint AS tickets, coalesce(sum(responded), 0)::bigint AS responded,"          \
    " coalesce(sum(responded_on_time), 0)::bigint AS responded_on_time,"                                       \
    " coalesce(sum(respond_due), 0)::bigint AS respond_due, coalesce(sum(resolved), 0)::bigint AS resolved,"   \
    " coalesce(sum(resolved_on_time), 0)::bigint AS resolved_on_time,"                                         \
    " coalesce(sum(resolve_due), 0)::bigint AS resolve_due, coalesce(sum(rated), 0)::bigint AS rated,"         \
    " coalesce(sum(satisfied), 0)::bigint AS satisfied, coalesce(sum(overdue_open), 0)::bigint AS overdue_open"
#define RATES                                                                                                  \
    "round(shequ.ratio(responded_on_time, respond_due), 6) AS response_on_time_rate,"                          \
    " round(shequ.ratio(resolved_on_time, resolve_due), 6) AS completion_on_time_rate,"                        \
    " round(shequ.ratio(responded, tickets), 6) AS reply_rate,"                                                \
    " round(shequ.ratio(satisfied, rated), 6) AS satisfaction_rate"
#define SCOPED "($1::text[] IS NULL OR community_id = ANY($1::text[])) AND ($2::text IS NULL OR company_id = $2)"
#define PERIOD " AND day BETWEEN $3::date AND $4::date"
/* The scope's figures for the period, in one row. */
#define HEADLINE "SELECT s.*, " RATES " FROM (SELECT " SUMS " FROM shequ.kpi_daily_base WHERE " SCOPED PERIOD ") s"
/* An instant as Shanghai local time with its offset. */
#define TS(x) "to_char((" x ") AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+08:00\"')"

static const char formulas[] =
    "{\"response_on_time_rate\": \"responded on time / (responded + open tickets past their respond deadline)\","
    " \"completion_on_time_rate\": \"resolved on time / (resolved + open tickets past their resolve deadline);"
    " a reopened ticket is not resolved\","
    " \"reply_rate\": \"tickets with a first response / tickets\","
    " \"satisfaction_rate\": \"(satisfied + basically satisfied) / rated\"}";

typedef struct call {
    dashboard *d;
    const dash_request *q;
    dash_reply *r;
    sq_pg *pg;
    dash_user user;
    dash_scope scope;
    bool csv;
} call;

/* Runs a statement; on failure answers 503 (database away) or 500 and returns NULL. */
static PGresult *run(call *c, const char *sql, int n, const char *const *p)
{
    PGresult *res;
    char err[512];
    int rc = sq_pg_exec(c->pg, sql, n, p, &res, err, sizeof err);
    if (rc == SQ_OK)
        return res;
    log_error("query.failed", "error=\"%s\"", err);
    if (rc == SQ_RETRY)
        dash_reply_error(c->r, 503, "unavailable", NULL, "the database does not answer; try again");
    else
        dash_reply_error(c->r, 500, "internal", NULL, "the query failed");
    return NULL;
}

/* Scope-and-period queries: $1 communities, $2 company, $3 from, $4 to. */
static PGresult *run_scoped(call *c, const char *sql)
{
    const char *p[] = { c->scope.communities, c->scope.company, c->scope.from, c->scope.to };
    return run(c, sql, 4, p);
}

static void answer_rows(call *c, PGresult *res, const char *name)
{
    if (!res)
        return;
    if (c->csv)
        dash_reply_csv(c->r, res, name);
    else
        dash_reply_json(c->r, 200, json_pack("{s:s,s:s,s:s,s:s,s:o}", "scope", c->scope.spec, "scope_name",
                                             c->scope.name, "from", c->scope.from, "to", c->scope.to, "rows",
                                             dash_rows(res)));
    PQclear(res);
}

/* The first row as an object (for the headline figures). */
static json_t *first_row(PGresult *res)
{
    json_t *rows = dash_rows(res);
    json_t *o = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return o ? o : json_object();
}

static void kpi(call *c)
{
    PGresult *res = run_scoped(c, HEADLINE);
    if (!res)
        return;
    json_t *o = first_row(res);
    PQclear(res);
    json_object_set_new(o, "scope", json_string(c->scope.spec));
    json_object_set_new(o, "scope_name", json_string(c->scope.name));
    json_object_set_new(o, "from", json_string(c->scope.from));
    json_object_set_new(o, "to", json_string(c->scope.to));
    json_object_set_new(o, "formulas", json_loads(formulas, 0, NULL));
    dash_reply_json(c->r, 200, o);
}

static void trend(call *c)
{
    answer_rows(c, run_scoped(c, "SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(s.tickets, 0) AS tickets, "
                                 RATES ", coalesce(s.overdue_open, 0) AS overdue_open"
                                 " FROM (SELECT g::date AS day FROM generate_series($3::date, $4::date,"
                                 " interval '1 day') g) d"
                                 " LEFT JOIN (SELECT day, " SUMS " FROM shequ.kpi_daily_base WHERE " SCOPED PERIOD
                                 " GROUP BY day) s USING (day) ORDER BY d.day"),
                "trend");
}

static void ranking(call *c)
{
    const char *by = c->q->arg(c->q->ctx, "by");
    if (by && strcmp(by, "company") == 0)
        return answer_rows(c, run_scoped(c, "SELECT s.company_id AS id, co.name, s.tickets, " RATES ", s.overdue_open"
                                            " FROM (SELECT company_id, " SUMS " FROM shequ.kpi_daily_base WHERE " SCOPED
                                            PERIOD " GROUP BY company_id) s LEFT JOIN shequ.companies co USING (company_id)"
                                            " ORDER BY completion_on_time_rate DESC NULLS LAST,"
                                            " response_on_time_rate DESC NULLS LAST, id"),
                           "ranking-company");
    if (by && strcmp(by, "community") != 0)
        return dash_reply_error(c->r, 400, "invalid", "by", "community or company");
    answer_rows(c, run_scoped(c, "SELECT s.community_id AS id, cm.name, s.tickets, " RATES ", s.overdue_open"
                                 " FROM (SELECT community_id, " SUMS " FROM shequ.kpi_daily_base WHERE " SCOPED PERIOD
                                 " GROUP BY community_id) s LEFT JOIN shequ.communities cm USING (community_id)"
                                 " ORDER BY completion_on_time_rate DESC NULLS LAST,"
                                 " response_on_time_rate DESC NULLS LAST, id"),
                "ranking-community");
}

static void overdue(call *c)
{
    const char *l = c->q->arg(c->q->ctx, "limit");
    char *end;
    long limit = l ? strtol(l, &end, 10) : 200;
    if (l && (*end || limit < 1 || limit > 5000))
        return dash_reply_error(c->r, 400, "invalid", "limit", "1 to 5000");
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *p[] = { c->scope.communities, c->scope.company, lim };
    answer_rows(c, run(c, "SELECT o.ticket_id, o.community_id, cm.name AS community, o.tier, o.category, o.status,"
                          " o.assignee_id, st.name AS assignee, o.escalation_level, o.overdue_clock,"
                          " extract(epoch FROM o.late_by)::bigint AS late_by_s, " TS("o.created_at") " AS created_at"
                          " FROM shequ.overdue_open o LEFT JOIN shequ.communities cm USING (community_id)"
                          " LEFT JOIN shequ.staff st ON st.staff_id = o.assignee_id"
                          " WHERE ($1::text[] IS NULL OR o.community_id = ANY($1::text[]))"
                          " AND ($2::text IS NULL OR o.company_id = $2)"
                          " ORDER BY o.late_by DESC, o.ticket_id LIMIT $3::int",
                       3, p),
                "overdue");
}

static void hotspots(call *c)
{
    const char *p[] = { c->scope.communities, c->scope.company };
    answer_rows(c, run(c, "SELECT h.community_id, cm.name AS community, h.building, h.category, h.tickets, h.repeats, "
                          TS("h.last_at") " AS last_at FROM shequ.repeat_hotspots h"
                          " LEFT JOIN shequ.communities cm USING (community_id)"
                          " WHERE ($1::text[] IS NULL OR h.community_id = ANY($1::text[]))"
                          " AND ($2::text IS NULL OR cm.company_id = $2)"
                          " ORDER BY h.repeats DESC, h.tickets DESC, h.community_id, h.building LIMIT 500",
                       2, p),
                "hotspots");
}

/* A clock against its deadline: on_time, late, overdue (open past due), running or stopped. The times
 * are Shanghai local time in one format, so string order is time order. */
static json_t *clock_json(const char *name, json_t *due, json_t *done, bool open, const char *now)
{
    const char *due_s = json_string_value(due), *done_s = json_string_value(done);
    if (!due_s)
        return NULL;
    const char *state = done_s ? (strcmp(done_s, due_s) <= 0 ? "on_time" : "late")
                      : !open ? "stopped" : strcmp(due_s, now) < 0 ? "overdue" : "running";
    return json_pack("{s:s,s:O,s:O,s:s}", "clock", name, "due", due, "done_at", done, "state", state);
}

static void ticket(call *c, const char *id)
{
    if (!dash_ticket_id_ok(id))
        return dash_reply_error(c->r, 404, "not_found", "ticket_id", "no such ticket");
    const char *p[] = { id, c->scope.communities };
    PGresult *res = run(c, "SELECT t.ticket_id, t.community_id, cm.name AS community, t.company_id, t.source,"
                           " t.category, t.tier, t.status, t.assignee_id, st.name AS assignee, t.reporter_count,"
                           " t.occurrence_count, t.repeat, t.escalation_level, t.reopen_count, t.rating, t.building,"
                           " t.summary, " TS("t.created_at") " AS created_at, " TS("t.respond_due") " AS respond_due, "
                           TS("t.responded_at") " AS responded_at, " TS("t.report_due") " AS report_due, "
                           TS("t.reported_at") " AS reported_at, " TS("t.plan_due") " AS plan_due, "
                           TS("t.planned_at") " AS planned_at, " TS("t.resolve_due") " AS resolve_due, "
                           TS("t.resolved_at") " AS resolved_at, t.paused_seconds, " TS("t.closed_at") " AS closed_at, "
                           TS("now()") " AS now"
                           " FROM shequ.tickets t"
                           " LEFT JOIN shequ.communities cm USING (community_id)"
                           " LEFT JOIN shequ.staff st ON st.staff_id = t.assignee_id"
                           " WHERE t.ticket_id = $1 AND ($2::text[] IS NULL OR t.community_id = ANY($2::text[]))",
                        2, p);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return dash_reply_error(c->r, 404, "not_found", "ticket_id", "no such ticket in your scope");
    }
    json_t *t = first_row(res);
    PQclear(res);
    char now[40];
    snprintf(now, sizeof now, "%s", json_string_value(json_object_get(t, "now")));
    json_object_del(t, "now");
    const char *status = json_string_value(json_object_get(t, "status"));
    bool open = status && (!strcmp(status, "assigned") || !strcmp(status, "in_progress") || !strcmp(status, "paused"));
    json_t *clocks = json_array();
    static const char *names[][3] = { { "respond", "respond_due", "responded_at" },
                                      { "report", "report_due", "reported_at" },
                                      { "plan", "plan_due", "planned_at" },
                                      { "resolve", "resolve_due", "resolved_at" } };
    for (size_t i = 0; i < SQ_ARRAY_LEN(names); i++) {
        json_t *k = clock_json(names[i][0], json_object_get(t, names[i][1]), json_object_get(t, names[i][2]), open, now);
        if (k)
            json_array_append_new(clocks, k);
    }
    size_t i;
    json_t *k;
    const char *ep[] = { id };
    res = run(c, "SELECT e.event_id, e.type, " TS("e.occurred_at") " AS at,"
                 " CASE WHEN st.staff_id IS NOT NULL THEN e.actor_id"
                 "      WHEN e.actor_id IN ('triage', 'workflow', 'sla', 'recorder', 'system') THEN e.actor_id"
                 "      WHEN e.actor_id IS NULL OR e.actor_id = '' THEN NULL ELSE 'resident' END AS actor_id,"
                 " st.name AS actor, e.detail::text AS detail"
                 " FROM shequ.ticket_events e LEFT JOIN shequ.staff st ON st.staff_id = e.actor_id"
                 " WHERE e.ticket_id = $1 ORDER BY e.occurred_at, e.event_id",
              1, ep);
    if (!res) {
        json_decref(t);
        json_decref(clocks);
        return;
    }
    if (c->csv) {
        json_decref(t);
        json_decref(clocks);
        dash_reply_csv(c->r, res, "timeline");
        PQclear(res);
        return;
    }
    json_t *events = dash_rows(res);
    PQclear(res);
    json_array_foreach(events, i, k)
    { /* detail was masked as text; show it as the object it is when it still parses */
        json_t *d = json_loads(json_string_value(json_object_get(k, "detail")) ?: "null", JSON_DECODE_ANY, NULL);
        json_object_set_new(k, "detail", d ? d : json_null());
    }
    dash_reply_json(c->r, 200, json_pack("{s:o,s:o,s:o}", "ticket", t, "clocks", clocks, "events", events));
}

static void report(call *c)
{
    const char *quarter = c->q->arg(c->q->ctx, "quarter");
    char spec[100], q[16];
    long from, to;
    if (quarter) {
        if (dash_quarter_parse(quarter, &from, &to) != SQ_OK)
            return dash_reply_error(c->r, 400, "invalid", "quarter", "a quarter as YYYYQn, e.g. 2026Q3");
        snprintf(q, sizeof q, "%s", quarter);
    } else {
        char today[11];
        dash_day_format(dash_today(), today);
        snprintf(q, sizeof q, "%.4sQ%d", today, (atoi(today + 5) + 2) / 3);
        dash_quarter_parse(q, &from, &to);
    }
    const char *community = c->q->arg(c->q->ctx, "community");
    if (!community || !dash_id_ok(community))
        return dash_reply_error(c->r, 400, "invalid", "community", "the community's id");
    snprintf(spec, sizeof spec, "community:%s", community);
    dash_scope_free(&c->scope);
    if (!dash_scope_resolve(c->pg, &c->user, spec, &c->scope, c->r))
        return;
    dash_day_format(from, c->scope.from);
    dash_day_format(to, c->scope.to);
    PGresult *cat = run_scoped(c, "SELECT s.category, s.tickets, s.resolved, " RATES ", s.overdue_open"
                                  " FROM (SELECT category, " SUMS " FROM shequ.kpi_daily_base WHERE " SCOPED PERIOD
                                  " GROUP BY category) s ORDER BY s.tickets DESC, s.category");
    if (!cat || c->csv)
        return answer_rows(c, cat, "report");
    PGresult *head = run_scoped(c, HEADLINE);
    const char *p[] = { c->scope.communities, c->scope.from, c->scope.to };
    PGresult *esc = head ? run(c, "SELECT escalation_level AS level, count(*) AS tickets FROM shequ.tickets"
                                  " WHERE community_id = ANY($1::text[]) AND created_day BETWEEN $2::date AND $3::date"
                                  " AND status NOT IN ('merged', 'cancelled') AND escalation_level > 0"
                                  " GROUP BY 1 ORDER BY 1", 3, p)
                         : NULL;
    const char *cp[] = { community };
    PGresult *who = esc ? run(c, "SELECT cm.community_id AS id, cm.name, sr.name AS street, co.name AS company"
                                 " FROM shequ.communities cm LEFT JOIN shequ.streets sr USING (street_id)"
                                 " LEFT JOIN shequ.companies co USING (company_id) WHERE cm.community_id = $1", 1, cp)
                        : NULL;
    if (who) {
        json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "community", first_row(who), "quarter", q, "from",
                              c->scope.from, "to", c->scope.to, "kpi", first_row(head), "by_category", dash_rows(cat),
                              "escalations", dash_rows(esc), "formulas", json_loads(formulas, 0, NULL));
        dash_reply_json(c->r, 200, o);
    }
    PQclear(cat);
    if (head)
        PQclear(head);
    if (esc)
        PQclear(esc);
    if (who)
        PQclear(who);
}

static void me(call *c)
{
    const char *p[] = { c->user.kind, c->user.scope_id };
    PGresult *res = run(c, "SELECT 'district' AS kind, '' AS id, '全区 District' AS name WHERE $1 = 'district'"
                           " UNION ALL (SELECT 'street', street_id, name FROM shequ.streets"
                           "  WHERE $1 = 'district' OR ($1 = 'street' AND street_id = $2) ORDER BY name)"
                           " UNION ALL (SELECT 'community', community_id, name FROM shequ.communities"
                           "  WHERE $1 = 'district' OR ($1 = 'street' AND street_id = $2)"
                           "     OR ($1 = 'community' AND community_id = $2) ORDER BY name)"
                           " UNION ALL (SELECT 'company', company_id, name FROM shequ.companies co WHERE $1 = 'district'"
                           "  OR EXISTS (SELECT 1 FROM shequ.communities cm WHERE cm.company_id = co.company_id"
                           "   AND (($1 = 'street' AND cm.street_id = $2) OR ($1 = 'community' AND cm.community_id = $2)))"
                           "  ORDER BY name)",
                        2, p);
    if (!res)
        return;
    json_t *scopes = dash_rows(res);
    PQclear(res);
    size_t i;
    json_t *s;
    json_array_foreach(scopes, i, s)
    {
        const char *kind = json_string_value(json_object_get(s, "kind")), *id = json_string_value(json_object_get(s, "id"));
        json_object_set_new(s, "scope", *id ? json_sprintf("%s:%s", kind, id) : json_string(kind));
    }
    char own[140];
    snprintf(own, sizeof own, strcmp(c->user.kind, "district") ? "%s:%s" : "%s", c->user.kind, c->user.scope_id);
    dash_reply_json(c->r, 200, json_pack("{s:s,s:s,s:s,s:s,s:o}", "username", c->user.username, "name", c->user.name,
                                         "role", c->user.kind, "scope", own, "scopes", scopes));
}

void dash_api(dashboard *d, const dash_request *q, dash_reply *r)
{
    const char *route = q->path + strlen("/api/");
    bool get = strcmp(q->method, "GET") == 0;
    if (strcmp(route, "login") == 0 || strcmp(route, "logout") == 0) {
        if (strcmp(q->method, "POST") != 0)
            return dash_reply_error(r, 405, "method_not_allowed", NULL, "use POST");
        return route[3] == 'i' ? dash_login(d, q, r) : dash_logout(r);
    }
    if (!get)
        return dash_reply_error(r, 405, "method_not_allowed", NULL, "use GET");
    call c = { .d = d, .q = q, .r = r };
    const char *format = q->arg(q->ctx, "format");
    if (format && strcmp(format, "csv") && strcmp(format, "json"))
        return dash_reply_error(r, 400, "invalid", "format", "csv or json");
    c.csv = format && strcmp(format, "csv") == 0;
    c.pg = dash_pool_get(d->pool);
    bool ticket_route = strncmp(route, "tickets/", 8) == 0;
    if (!dash_authenticate(d, c.pg, q, &c.user, r))
        goto out;
    if (strcmp(route, "me") == 0) {
        me(&c);
        goto out;
    }
    /* a ticket is looked up within the user's own scope, whatever the page shows */
    if (!dash_scope_resolve(c.pg, &c.user, ticket_route ? NULL : q->arg(q->ctx, "scope"), &c.scope, r) ||
        !dash_period(q, &c.scope, r))
        goto out;
    if (strcmp(route, "kpi") == 0)
        kpi(&c);
    else if (strcmp(route, "trend") == 0)
        trend(&c);
    else if (strcmp(route, "ranking") == 0)
        ranking(&c);
    else if (strcmp(route, "overdue") == 0)
        overdue(&c);
    else if (strcmp(route, "hotspots") == 0)
        hotspots(&c);
    else if (strcmp(route, "report") == 0)
        report(&c);
    else if (ticket_route)
        ticket(&c, route + 8);
    else
        dash_reply_error(r, 404, "not_found", NULL, "no such resource");
out:
    dash_scope_free(&c.scope);
    dash_pool_put(d->pool, c.pg);
}
