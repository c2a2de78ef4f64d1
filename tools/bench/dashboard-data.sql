-- A year of tickets for tools/bench/dashboard: 10 streets, 200 communities, 40 companies; :n tickets spread
-- evenly over 365 days, deterministic (hashint4 of the row number). Tickets of the last two days are mostly
-- open; older ones closed, ~90 % responded and ~80 % resolved on time, 60 % rated, 0.2 % never responded.
-- Loaded with the row triggers off, then kpi_rollup is built in one pass (what migration 0004 does).
ALTER TABLE shequ.tickets DISABLE TRIGGER USER;
TRUNCATE shequ.tickets, shequ.ticket_events, shequ.kpi_rollup;
DELETE FROM shequ.dashboard_users;
DELETE FROM shequ.staff;
DELETE FROM shequ.communities;
DELETE FROM shequ.companies;
DELETE FROM shequ.streets;
INSERT INTO shequ.streets SELECT 'st' || s, '街道' || s FROM generate_series(1, 10) s;
INSERT INTO shequ.companies SELECT 'co' || c, '物业公司' || c FROM generate_series(1, 40) c;
INSERT INTO shequ.communities (community_id, name, street_id, company_id)
SELECT 'c' || i, '小区' || i, 'st' || (1 + i % 10), 'co' || (1 + i % 40) FROM generate_series(1, 200) i;
INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills)
SELECT 'w' || i, '维修工' || i, 'staff', 'co' || (1 + i % 40), 'c' || i, '{}' FROM generate_series(1, 200) i;

INSERT INTO shequ.tickets (ticket_id, community_id, company_id, source, category, tier, status, assignee_id,
  rating, created_at, created_day, respond_due, responded_at, resolve_due, resolved_at, updated_at,
  log_partition, log_offset, building, summary, escalation_level, repeat)
SELECT 'bt' || i, 'c' || cm, 'co' || (1 + cm % 40), 'report',
       (ARRAY['sanitation', 'parking', 'noise', 'facility_damage', 'greenery', 'elevator_fault', 'water_leak',
              'illegal_construction', 'pets', 'security'])[1 + h % 10],
       tier, status, 'w' || cm,
       CASE WHEN status = 'closed' AND h2 < 600 THEN (ARRAY['satisfied', 'satisfied', 'basically_satisfied',
              'unsatisfied'])[1 + h2 % 4] END,
       c, (c AT TIME ZONE 'Asia/Shanghai')::date, c + interval '4 hours',
       CASE WHEN status IN ('assigned', 'paused') OR h % 500 = 7 THEN NULL
            ELSE c + interval '4 hours' * (h3 / 900.0) END,
       c + w,
       CASE WHEN status = 'closed' THEN c + w * (h2 / 800.0) END,
       c, 0, i, 'B' || (1 + h3 % 12), '示例工单', CASE WHEN h % 50 = 0 THEN 1 + h % 3 ELSE 0 END, h % 100 = 0
  FROM (SELECT i, 1 + abs(hashint4(i)) % 200 AS cm, abs(hashint4(i + 1)) % 1000 AS h,
               abs(hashint4(i + 2)) % 1000 AS h2, abs(hashint4(i + 3)) % 1000 AS h3,
               now() - ((:n - i)::float8 / :n) * interval '365 days' AS c
          FROM generate_series(1, :n) i) g,
       LATERAL (SELECT (ARRAY['general', 'general', 'medium', 'difficult'])[1 + g.h2 % 4] AS tier) t,
       LATERAL (SELECT CASE t.tier WHEN 'general' THEN interval '4 hours' WHEN 'medium' THEN interval '24 hours'
                       ELSE interval '72 hours' END AS w) ww,
       LATERAL (SELECT CASE WHEN g.c > now() - interval '2 days' AND g.h < 600
                            THEN (ARRAY['assigned', 'in_progress', 'paused'])[1 + g.h % 3]
                            WHEN g.h < 3 THEN 'cancelled' WHEN g.h < 10 THEN 'merged' ELSE 'closed' END AS status) s;

INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, actor_id, detail, log_partition, log_offset)
SELECT t.ticket_id || '-' || e, t.ticket_id, (ARRAY['created', 'assigned', 'responded', 'escalated'])[e],
       t.created_at + e * interval '1 minute', CASE WHEN e < 3 THEN 'triage' ELSE t.assignee_id END, '{}', 0, 0
  FROM (SELECT * FROM shequ.tickets ORDER BY created_at DESC LIMIT 1000) t, generate_series(1, 4) e;

INSERT INTO shequ.kpi_rollup
SELECT community_id, coalesce(company_id, ''), category, created_day, count(*),
       count(*) FILTER (WHERE is_responded), count(*) FILTER (WHERE is_responded_on_time),
       count(*) FILTER (WHERE is_resolved), count(*) FILTER (WHERE is_resolved_on_time),
       count(*) FILTER (WHERE is_rated), count(*) FILTER (WHERE is_satisfied)
  FROM shequ.ticket_kpi
 GROUP BY 1, 2, 3, 4;
ALTER TABLE shequ.tickets ENABLE TRIGGER USER;
ANALYZE shequ.tickets;
ANALYZE shequ.kpi_rollup;
ANALYZE shequ.ticket_events;
