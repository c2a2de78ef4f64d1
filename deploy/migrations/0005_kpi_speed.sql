-- Measured with 10,000,000 tickets (tools/bench/dashboard): what the dashboard's queries still spent.

-- kpi_daily_base as a union instead of a join: a filter on community or day now reaches the pending
-- tickets too (through tickets_pending_idx) instead of their being summed for the whole district first.
-- Same columns, same values: every key with pending tickets has them counted in kpi_rollup already.
CREATE OR REPLACE VIEW shequ.kpi_daily_base AS
SELECT community_id, NULLIF(company_id, '') AS company_id, category, day,
       sum(tickets) AS tickets, sum(responded) AS responded, sum(responded_on_time) AS responded_on_time,
       sum(responded + respond_overdue) AS respond_due, sum(resolved) AS resolved,
       sum(resolved_on_time) AS resolved_on_time, sum(resolved + resolve_overdue) AS resolve_due,
       sum(rated) AS rated, sum(satisfied) AS satisfied, sum(overdue_open) AS overdue_open
  -- summed as int (one key's count never nears 2^31), which PostgreSQL adds in int8, not numeric
  FROM (SELECT community_id, company_id, category, day, tickets::int, responded::int, responded_on_time::int,
               resolved::int, resolved_on_time::int, rated::int, satisfied::int,
               0 AS respond_overdue, 0 AS resolve_overdue, 0 AS overdue_open
          FROM shequ.kpi_rollup
        UNION ALL
        SELECT community_id, coalesce(company_id, ''), category, created_day, 0, 0, 0, 0, 0, 0, 0,
               (responded_at IS NULL AND respond_due < now())::int,
               (resolved_at IS NULL AND resolve_due < now() AND status IN ('assigned', 'in_progress', 'paused'))::int,
               (status IN ('assigned', 'in_progress', 'paused')
                AND ((responded_at IS NULL AND respond_due < now())
                  OR (resolved_at IS NULL AND resolve_due < now())
                  OR (reported_at IS NULL AND report_due < now())))::int
          FROM shequ.tickets
         WHERE status IN ('assigned', 'in_progress', 'paused')
            OR (responded_at IS NULL AND status IN ('resolved', 'closed'))) u
 GROUP BY community_id, company_id, category, day
HAVING sum(tickets) > 0;

-- A district-wide period reads the rollup by day.
CREATE INDEX kpi_rollup_day_idx ON shequ.kpi_rollup (day);

-- Repeat hotspots: start from the few recent repeat tickets, then count each place's recent tickets
-- through an index, instead of reading every ticket of the last 30 days (2 s with 10M tickets).
CREATE INDEX tickets_repeat_recent_idx ON shequ.tickets (created_at) WHERE repeat;
CREATE INDEX tickets_place_time_idx ON shequ.tickets (community_id, building, category, created_at);
DROP INDEX shequ.tickets_place_idx;

CREATE OR REPLACE VIEW shequ.repeat_hotspots AS
SELECT p.community_id, p.building, p.category, s.tickets, s.repeats, s.first_at, s.last_at
  FROM (SELECT DISTINCT community_id, building, category
          FROM shequ.tickets
         WHERE repeat AND created_at > now() - interval '30 days' AND status NOT IN ('merged', 'cancelled')
           AND building IS NOT NULL AND building <> '') p,
       LATERAL (SELECT count(*) AS tickets, count(*) FILTER (WHERE t.repeat) AS repeats,
                       min(t.created_at) AS first_at, max(t.created_at) AS last_at
                  FROM shequ.tickets t
                 WHERE t.community_id = p.community_id AND t.building = p.building AND t.category = p.category
                   AND t.created_at > now() - interval '30 days' AND t.status NOT IN ('merged', 'cancelled')) s;

-- These queries read indexed ranges in milliseconds; JIT compiling them cost 150 ms each (measured).
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET jit = off', current_database()); END $$;
