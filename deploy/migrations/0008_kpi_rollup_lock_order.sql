-- kpi_rollup rows locked in key order.
--
-- The recorder writes a batch over several connections at once (pg.connections), each its own
-- transaction over its own tickets; their statement triggers meet on the same rollup rows (one per
-- community, day, category and company). Summed in hash order, two of them could lock two rows in
-- opposite orders and deadlock; summed in key order they queue behind each other instead.

CREATE OR REPLACE FUNCTION shequ.kpi_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
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
       GROUP BY 1, 2, 3, 4
       ORDER BY 1, 2, 3, 4) s
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
