/*
 * The KPI views of DESIGN.md §5 against hand-computed fixtures, and the
 * roles: the reader can SELECT and nothing else, the writer cannot DROP or ALTER.
 *
 * Fixture (one community, one Shanghai day, deadlines relative to now()):
 *   t1 general  responded exactly at respond_due, resolved exactly at resolve_due, rated satisfied
 *   t2 medium   responded late, resolved late, rated basically_satisfied
 *   t3 medium   open, never responded, both deadlines past            (counts in both denominators, overdue)
 *   t4 urgent   responded on time, reopened (resolved_at NULL), resolve deadline in the future, rated unsatisfied
 *   t5 general  merged      (excluded)
 *   t6 general  cancelled   (excluded)
 *   t7 difficult responded (planned) on time, still open, nothing past due
 * Expected: tickets 5; responded 4 (t1,t2,t4,t7); responded_on_time 3 (t1,t4,t7);
 *   response_on_time_rate = 3 / (4 + 1 overdue t3) = 0.6
 *   resolved 2 (t1,t2); resolved_on_time 1; completion rate = 1 / (2 + 1 overdue t3) = 1/3
 *   rated 3 (t1,t2,t4); satisfied 2 → 2/3; reply_rate 4/5 = 0.8; overdue_open 1 (t3)
 * A second day holds one ticket with nothing due yet: response and completion rates are NULL there.
 *
 * The views are sums over kpi_rollup (kept by a trigger) and the live pending tickets (migration 0004):
 * rollup_matches_definition fills a community with random tickets, changes, merges and deletes them at
 * random, and after each round compares kpi_daily, kpi_daily_company and kpi_daily_category with the
 * definitions of DESIGN.md §5 computed straight from ticket_kpi.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "testsupport.h"
#include "util.h"

static char community[64];

static void exec_as(const char *dsn_var, const char *sql, int n, const char *const *p, int expect)
{
    sq_pg *pg = sq_pg_new(ts_env(dsn_var), 3, 5000, "test_kpi");
    char err[256];
    int rc = sq_pg_exec(pg, sql, n, p, NULL, err, sizeof err);
    if (rc != expect)
        fail_msg("%s: rc %d, expected %d: %s", sql, rc, expect, err);
    sq_pg_free(pg);
}

static char *query1(const char *sql, int n, const char *const *p)
{
    sq_pg *pg = sq_pg_new(ts_env("PG_READER_DSN"), 3, 5000, "test_kpi");
    char err[256];
    PGresult *r;
    if (sq_pg_exec(pg, sql, n, p, &r, err, sizeof err) != SQ_OK)
        fail_msg("%s: %s", sql, err);
    char *v = PQntuples(r) ? strdup(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0)) : strdup("<none>");
    PQclear(r);
    sq_pg_free(pg);
    return v;
}

static const char *ins =
    "INSERT INTO shequ.tickets (ticket_id, community_id, company_id, source, category, tier, status, assignee_id,"
    " rating, created_at, created_day, respond_due, responded_at, resolve_due, resolved_at, updated_at,"
    " log_partition, log_offset) VALUES ($1 || $2, $2, 'co-kpi', 'report', 'sanitation', $3, $4, 's1', $5,"
    " $6::timestamptz, ($6::timestamptz AT TIME ZONE 'Asia/Shanghai')::date, $7::timestamptz, $8::timestamptz,"
    " $9::timestamptz, $10::timestamptz, now(), 0, 0)";

static int setup(void **state)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(community, sizeof community, "kpi-%.8s", id);
    /* all on the Shanghai day of "now - 3 days", deadlines around now() */
    struct { const char *id, *tier, *status, *rating, *respond_due, *responded, *resolve_due, *resolved; } rows[] = {
        { "t1-", "general", "closed", "satisfied", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T14:00:00Z", "2026-01-01T14:00:00Z" },
        { "t2-", "medium", "closed", "basically_satisfied", "2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z", "2026-01-02T06:00:00Z", "2026-01-02T06:00:01Z" },
        { "t3-", "medium", "assigned", NULL, "2026-01-01T10:00:00Z", NULL, "2026-01-02T06:00:00Z", NULL },
        { "t4-", "urgent", "assigned", "unsatisfied", "2026-01-01T06:15:00Z", "2026-01-01T06:10:00Z", "2999-01-01T00:00:00Z", NULL },
        { "t5-", "general", "merged", NULL, "2026-01-01T10:00:00Z", NULL, "2026-01-01T10:00:00Z", NULL },
        { "t6-", "general", "cancelled", NULL, "2026-01-01T10:00:00Z", NULL, "2026-01-01T10:00:00Z", NULL },
        { "t7-", "difficult", "in_progress", NULL, "2026-01-01T10:00:00Z", "2026-01-01T08:00:00Z", "2999-01-01T00:00:00Z", NULL },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* created 2026-01-01T06:00Z = 14:00 in Shanghai, 2026-01-01 */
        const char *p[] = { rows[i].id, community, rows[i].tier, rows[i].status, rows[i].rating,
                            "2026-01-01T06:00:00Z", rows[i].respond_due, rows[i].responded, rows[i].resolve_due,
                            rows[i].resolved };
        exec_as("PG_OWNER_DSN", ins, 10, p, SQ_OK);
    }
    /* 2026-01-01T16:00:00Z is already 2026-01-02 in Shanghai; its deadlines are in the future */
    const char *p[] = { "t8-", community, "general", "assigned", NULL, "2026-01-01T16:00:00Z", "2999-01-01T00:00:00Z",
                        NULL, "2999-01-01T00:00:00Z", NULL };
    exec_as("PG_OWNER_DSN", ins, 10, p, SQ_OK);
    return 0;
}

static int teardown(void **state)
{
    const char *p[] = { community };
    exec_as("PG_OWNER_DSN", "DELETE FROM shequ.tickets WHERE community_id LIKE $1 || '%'", 1, p, SQ_OK);
    return 0;
}

static void check(const char *column, const char *day, const char *want)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s::text FROM shequ.kpi_daily WHERE community_id = $1 AND day = $2::date", column);
    const char *p[] = { community, day };
    char *got = query1(sql, 2, p);
    if (strcmp(got, want) != 0)
        fail_msg("kpi_daily.%s on %s: got %s, want %s", column, day, got, want);
    free(got);
}

static void kpi_daily_matches_hand_computed(void **state)
{
    const char *d = "2026-01-01";
    check("tickets", d, "5");
    check("responded", d, "4");
    check("responded_on_time", d, "3");
    check("round(response_on_time_rate, 6)", d, "0.600000");
    check("resolved", d, "2");
    check("resolved_on_time", d, "1");
    check("round(completion_on_time_rate, 6)", d, "0.333333");
    check("rated", d, "3");
    check("satisfied", d, "2");
    check("round(satisfaction_rate, 6)", d, "0.666667");
    check("round(reply_rate, 6)", d, "0.800000");
    check("overdue_open", d, "1");
    /* the Shanghai day boundary: 16:00 UTC belongs to the next day */
    check("tickets", "2026-01-02", "1");
    check("response_on_time_rate", "2026-01-02", "NULL");
    check("completion_on_time_rate", "2026-01-02", "NULL");
    check("satisfaction_rate", "2026-01-02", "NULL");
}

static void overdue_open_lists_late_work(void **state)
{
    const char *p[] = { community };
    char *n = query1("SELECT count(*)::text FROM shequ.overdue_open WHERE community_id = $1", 1, p);
    assert_string_equal(n, "1");
    free(n);
    char *clock = query1("SELECT overdue_clock || ' ' || (late_by > interval '1 day')::text FROM shequ.overdue_open"
                         " WHERE community_id = $1", 1, p);
    assert_string_equal(clock, "respond true");
    free(clock);
}

static void breakdown_views_agree(void **state)
{
    const char *p[] = { community };
    char *a = query1("SELECT sum(tickets)::text FROM shequ.kpi_daily_category WHERE community_id = $1", 1, p);
    assert_string_equal(a, "6");
    free(a);
    char *b = query1("SELECT round(max(response_on_time_rate), 6)::text FROM shequ.kpi_daily_staff"
                     " WHERE community_id = $1 AND day = '2026-01-01'", 1, p);
    assert_string_equal(b, "0.600000");
    free(b);
}

static void roles_are_least_privilege(void **state)
{
    exec_as("PG_READER_DSN", "SELECT count(*) FROM shequ.kpi_daily", 0, NULL, SQ_OK);
    exec_as("PG_READER_DSN", "SELECT count(*) FROM shequ.overdue_open", 0, NULL, SQ_OK);
    exec_as("PG_READER_DSN", "DELETE FROM shequ.tickets WHERE false", 0, NULL, SQ_INVALID);
    exec_as("PG_READER_DSN", "INSERT INTO shequ.streets VALUES ('x', 'x')", 0, NULL, SQ_INVALID);
    exec_as("PG_READER_DSN", "CREATE TABLE shequ.evil (x int)", 0, NULL, SQ_INVALID);
    exec_as("PG_DSN", "DROP TABLE shequ.tickets", 0, NULL, SQ_INVALID);
    exec_as("PG_DSN", "ALTER TABLE shequ.tickets ADD COLUMN evil int", 0, NULL, SQ_INVALID);
    exec_as("PG_DSN", "TRUNCATE shequ.ticket_events", 0, NULL, SQ_INVALID);
    exec_as("PG_DSN", "CREATE TABLE shequ.evil (x int)", 0, NULL, SQ_INVALID);
}

/* DESIGN.md §5 written out over ticket_kpi, as migration 0002 first defined kpi_daily. */
#define DEFINITION \
    "SELECT %s, count(*) AS tickets, count(*) FILTER (WHERE is_responded) AS responded," \
    " count(*) FILTER (WHERE is_responded_on_time) AS responded_on_time," \
    " (count(*) FILTER (WHERE is_responded_on_time))::numeric" \
    "   / NULLIF(count(*) FILTER (WHERE is_responded OR is_respond_overdue), 0) AS response_on_time_rate," \
    " count(*) FILTER (WHERE is_resolved) AS resolved, count(*) FILTER (WHERE is_resolved_on_time) AS resolved_on_time," \
    " (count(*) FILTER (WHERE is_resolved_on_time))::numeric" \
    "   / NULLIF(count(*) FILTER (WHERE is_resolved OR is_resolve_overdue), 0) AS completion_on_time_rate," \
    " count(*) FILTER (WHERE is_rated) AS rated, count(*) FILTER (WHERE is_satisfied) AS satisfied," \
    " (count(*) FILTER (WHERE is_satisfied))::numeric / NULLIF(count(*) FILTER (WHERE is_rated), 0) AS satisfaction_rate," \
    " (count(*) FILTER (WHERE is_responded))::numeric / NULLIF(count(*), 0) AS reply_rate," \
    " count(*) FILTER (WHERE is_overdue_open) AS overdue_open" \
    " FROM shequ.ticket_kpi WHERE %s LIKE $1 || '%%' GROUP BY %s"

static void compare_with_definition(const char *view, const char *keys, const char *scope)
{
    char def[2048], sql[8192];
    snprintf(def, sizeof def, DEFINITION, keys, scope, keys);
    /* rows of the definition missing from the view, and rows of the view missing from the definition */
    const char *p[] = { community };
    snprintf(sql, sizeof sql,
             "SELECT ((SELECT count(*) FROM ((%s) EXCEPT ALL (SELECT * FROM shequ.%s WHERE %s LIKE $1 || '%%')) a)"
             " + (SELECT count(*) FROM ((SELECT * FROM shequ.%s WHERE %s LIKE $1 || '%%') EXCEPT ALL (%s)) b))::text",
             def, view, scope, view, scope, def);
    char *diff = query1(sql, 1, p);
    if (strcmp(diff, "0") != 0)
        fail_msg("%s differs from the definition in %s rows", view, diff);
    free(diff);
}

static void rollup_matches_definition(void **state)
{
    const char *p[] = { community };
    /* 3,000 tickets over 3 sub-communities, 2 companies, 4 categories, 10 days; deadlines around now() */
    exec_as("PG_OWNER_DSN",
            "INSERT INTO shequ.tickets (ticket_id, community_id, company_id, source, category, tier, status, rating,"
            " created_at, created_day, respond_due, responded_at, report_due, resolve_due, resolved_at, updated_at,"
            " log_partition, log_offset)"
            " SELECT 'r-' || $1 || '-' || i, $1 || '-' || (i % 3), CASE WHEN i % 7 = 0 THEN NULL ELSE $1 || '-co-' || (i % 2) END,"
            "  'report', (ARRAY['sanitation','parking','elevator_fault','noise'])[1 + i % 4], 'general',"
            "  (ARRAY['assigned','in_progress','paused','resolved','closed','merged','cancelled'])[1 + (i * 7919) % 7],"
            "  (ARRAY[NULL,'satisfied','basically_satisfied','unsatisfied'])[1 + (i * 31) % 4],"
            "  c, (c AT TIME ZONE 'Asia/Shanghai')::date, c + interval '4 hours',"
            "  CASE WHEN i % 5 < 3 THEN c + (i % 9) * interval '1 hour' END,"
            "  CASE WHEN i % 6 = 0 THEN now() + (i % 3 - 1) * interval '1 hour' END,"
            "  now() + ((i % 11) - 5) * interval '1 hour',"
            "  CASE WHEN i % 4 < 2 THEN now() + ((i % 13) - 8) * interval '1 hour' END, now(), 0, 0"
            " FROM generate_series(1, 3000) i, LATERAL (SELECT now() - (i % 10) * interval '1 day' - (i % 24) * interval '1 hour') AS t(c)",
            1, p, SQ_OK);
    const char *rounds[] = {
        "UPDATE shequ.tickets SET responded_at = now() WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND responded_at IS NULL AND random() < 0.3",
        "UPDATE shequ.tickets SET status = 'resolved', resolved_at = now() WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND status = 'in_progress' AND random() < 0.5",
        "UPDATE shequ.tickets SET status = 'assigned', resolved_at = NULL, reopen_count = reopen_count + 1 WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND status = 'resolved' AND random() < 0.3",
        "UPDATE shequ.tickets SET rating = 'unsatisfied' WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND random() < 0.1",
        "UPDATE shequ.tickets SET status = 'merged' WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND status = 'assigned' AND random() < 0.2",
        "UPDATE shequ.tickets SET escalation_level = escalation_level + 1, company_id = $1 || '-co-9' WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND random() < 0.1",
        "UPDATE shequ.tickets SET created_day = created_day - 1, category = 'noise' WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND random() < 0.05",
        /* the recorder's upsert: some rows inserted, some updated, in one statement */
        "INSERT INTO shequ.tickets (ticket_id, community_id, source, category, tier, status, created_at, created_day,"
        " respond_due, resolve_due, updated_at, log_partition, log_offset)"
        " SELECT (CASE WHEN i % 2 = 0 THEN 'r-' ELSE 'u-' END) || $1 || '-' || i, $1 || '-1', 'report', 'parking',"
        "  'general', 'assigned', now() - interval '2 days', ((now() - interval '2 days') AT TIME ZONE 'Asia/Shanghai')::date,"
        "  now() - interval '1 day', now() + interval '1 day', now(), 0, 1 FROM generate_series(1, 600) i"
        " ON CONFLICT (ticket_id) DO UPDATE SET status = 'closed', resolved_at = now(),"
        "  responded_at = coalesce(shequ.tickets.responded_at, now())",
        "DELETE FROM shequ.tickets WHERE community_id LIKE $1 || '%' AND ticket_id LIKE 'r-%' AND random() < 0.1",
    };
    for (size_t i = 0; i <= sizeof rounds / sizeof rounds[0]; i++) {
        if (i > 0)
            exec_as("PG_OWNER_DSN", rounds[i - 1], 1, p, SQ_OK);
        compare_with_definition("kpi_daily", "community_id, created_day", "community_id");
        compare_with_definition("kpi_daily_category", "community_id, category, created_day", "community_id");
        compare_with_definition("kpi_daily_company", "company_id, created_day", "company_id");
    }
    char *n = query1("SELECT count(*)::text FROM shequ.kpi_rollup WHERE community_id LIKE $1 || '%' AND tickets < 0", 1, p);
    assert_string_equal(n, "0");
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kpi_daily_matches_hand_computed),
        cmocka_unit_test(overdue_open_lists_late_work),
        cmocka_unit_test(breakdown_views_agree),
        cmocka_unit_test(rollup_matches_definition),
        cmocka_unit_test(roles_are_least_privilege),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
