-- The KPIs of kpi_daily by property company, staff member and category, and repeat hotspots.

CREATE VIEW shequ.kpi_daily_company AS
SELECT company_id, created_day AS day,
       count(*) AS tickets,
       count(*) FILTER (WHERE is_responded) AS responded,
       count(*) FILTER (WHERE is_responded_on_time) AS responded_on_time,
       (count(*) FILTER (WHERE is_responded_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_responded OR is_respond_overdue), 0) AS response_on_time_rate,
       count(*) FILTER (WHERE is_resolved) AS resolved,
       count(*) FILTER (WHERE is_resolved_on_time) AS resolved_on_time,
       (count(*) FILTER (WHERE is_resolved_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_resolved OR is_resolve_overdue), 0) AS completion_on_time_rate,
       count(*) FILTER (WHERE is_rated) AS rated,
       count(*) FILTER (WHERE is_satisfied) AS satisfied,
       (count(*) FILTER (WHERE is_satisfied))::numeric / NULLIF(count(*) FILTER (WHERE is_rated), 0) AS satisfaction_rate,
       (count(*) FILTER (WHERE is_responded))::numeric / NULLIF(count(*), 0) AS reply_rate,
       count(*) FILTER (WHERE is_overdue_open) AS overdue_open
  FROM shequ.ticket_kpi
 GROUP BY company_id, created_day;

CREATE VIEW shequ.kpi_daily_staff AS
SELECT assignee_id AS staff_id, community_id, created_day AS day,
       count(*) AS tickets,
       count(*) FILTER (WHERE is_responded) AS responded,
       count(*) FILTER (WHERE is_responded_on_time) AS responded_on_time,
       (count(*) FILTER (WHERE is_responded_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_responded OR is_respond_overdue), 0) AS response_on_time_rate,
       count(*) FILTER (WHERE is_resolved) AS resolved,
       count(*) FILTER (WHERE is_resolved_on_time) AS resolved_on_time,
       (count(*) FILTER (WHERE is_resolved_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_resolved OR is_resolve_overdue), 0) AS completion_on_time_rate,
       count(*) FILTER (WHERE is_rated) AS rated,
       count(*) FILTER (WHERE is_satisfied) AS satisfied,
       (count(*) FILTER (WHERE is_satisfied))::numeric / NULLIF(count(*) FILTER (WHERE is_rated), 0) AS satisfaction_rate,
       (count(*) FILTER (WHERE is_responded))::numeric / NULLIF(count(*), 0) AS reply_rate,
       count(*) FILTER (WHERE is_overdue_open) AS overdue_open
  FROM shequ.ticket_kpi
 GROUP BY assignee_id, community_id, created_day;

CREATE VIEW shequ.kpi_daily_category AS
SELECT community_id, category, created_day AS day,
       count(*) AS tickets,
       count(*) FILTER (WHERE is_responded) AS responded,
       count(*) FILTER (WHERE is_responded_on_time) AS responded_on_time,
       (count(*) FILTER (WHERE is_responded_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_responded OR is_respond_overdue), 0) AS response_on_time_rate,
       count(*) FILTER (WHERE is_resolved) AS resolved,
       count(*) FILTER (WHERE is_resolved_on_time) AS resolved_on_time,
       (count(*) FILTER (WHERE is_resolved_on_time))::numeric
         / NULLIF(count(*) FILTER (WHERE is_resolved OR is_resolve_overdue), 0) AS completion_on_time_rate,
       count(*) FILTER (WHERE is_rated) AS rated,
       count(*) FILTER (WHERE is_satisfied) AS satisfied,
       (count(*) FILTER (WHERE is_satisfied))::numeric / NULLIF(count(*) FILTER (WHERE is_rated), 0) AS satisfaction_rate,
       (count(*) FILTER (WHERE is_responded))::numeric / NULLIF(count(*), 0) AS reply_rate,
       count(*) FILTER (WHERE is_overdue_open) AS overdue_open
  FROM shequ.ticket_kpi
 GROUP BY community_id, category, created_day;

-- Buildings where the same problem keeps coming back (the third e-bike on a flying wire).
CREATE VIEW shequ.repeat_hotspots AS
SELECT community_id, building, category,
       count(*) AS tickets,
       count(*) FILTER (WHERE repeat) AS repeats,
       min(created_at) AS first_at,
       max(created_at) AS last_at
  FROM shequ.tickets
 WHERE status NOT IN ('merged', 'cancelled') AND building IS NOT NULL AND building <> ''
   AND created_at > now() - interval '30 days'
 GROUP BY community_id, building, category
HAVING count(*) FILTER (WHERE repeat) > 0;
