-- kpi_rollup kept per statement instead of per row.
--
-- The recorder writes a batch of thousands of tickets in one statement; most share a community, category
-- and day, so the row trigger of 0004 updated the same rollup row thousands of times in one transaction,
-- and each update had to walk the versions the earlier ones left (recorder: 41,000 → 12,600 events/s in
-- tools/bench/run). Statement triggers see the batch as transition tables and apply one summed delta per
-- rollup row; a batch that changes no contribution (escalations, notes, status within open) touches nothing.

DROP TRIGGER tickets_kpi_rollup_ins_del ON shequ.tickets;
DROP TRIGGER tickets_kpi_rollup_upd ON shequ.tickets;
DROP FUNCTION shequ.kpi_rollup_row();
DROP FUNCTION shequ.kpi_rollup_apply(shequ.tickets, int);

-- Adds the contributions of the statement's new rows and removes those of its old rows.
CREATE FUNCTION shequ.kpi_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
    ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
BEGIN
  EXECUTE format($q$
    INSERT INTO shequ.kpi_rollup AS k
    SELECT * FROM (
      SELECT community_id, coalesce(company_id, '') AS company_id, category, created_day AS day,
             sum(sign) AS tickets,
             sum(sign * (responded_at IS NOT NULL)::int) AS responded,
             sum(sign * coalesce(responded_at <= respond_due, false)::int) AS responded_on_time,
             sum(sign * (resolved_at IS NOT NULL)::int) AS resolved,
             sum(sign * coalesce(resolved_at <= resolve_due, false)::int) AS resolved_on_time,
             sum(sign * (rating IS NOT NULL)::int) AS rated,
             sum(sign * coalesce(rating IN ('satisfied', 'basically_satisfied'), false)::int) AS satisfied
        FROM (%s) d
       WHERE status NOT IN ('merged', 'cancelled')
       GROUP BY 1, 2, 3, 4) s
     WHERE (tickets, responded, responded_on_time, resolved, resolved_on_time, rated, satisfied)
           <> (0, 0, 0, 0, 0, 0, 0)
    ON CONFLICT (community_id, day, category, company_id) DO UPDATE
       SET tickets = k.tickets + EXCLUDED.tickets,
           responded = k.responded + EXCLUDED.responded,
           responded_on_time = k.responded_on_time + EXCLUDED.responded_on_time,
           resolved = k.resolved + EXCLUDED.resolved,
           resolved_on_time = k.resolved_on_time + EXCLUDED.resolved_on_time,
           rated = k.rated + EXCLUDED.rated,
           satisfied = k.satisfied + EXCLUDED.satisfied$q$, changed);
  RETURN NULL;
END $$;

CREATE TRIGGER tickets_kpi_rollup_ins AFTER INSERT ON shequ.tickets
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shequ.kpi_rollup_delta();
CREATE TRIGGER tickets_kpi_rollup_upd AFTER UPDATE ON shequ.tickets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shequ.kpi_rollup_delta();
CREATE TRIGGER tickets_kpi_rollup_del AFTER DELETE ON shequ.tickets
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION shequ.kpi_rollup_delta();
