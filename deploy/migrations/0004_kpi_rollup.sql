-- KPIs that stay fast at ten million tickets, and the dashboard's sign-in.
--
-- A ticket's contribution to the KPIs of DESIGN.md §5 has two parts. Most of it (counted at all, responded,
-- responded on time, resolved, resolved on time, rated, satisfied) changes only when the row changes: a
-- trigger keeps those counts summed in kpi_rollup per community × company × category × day. The rest
-- depends on the clock (a deadline passing while nobody acts) and comes live from the tickets still pending
-- (open, or never responded), which tickets_pending_idx keeps small. kpi_daily_base joins the two;
-- kpi_daily and its company and category breakdowns are sums over it, so they read O(communities × days)
-- rows instead of O(tickets), and give the numbers the definitions of migration 0002 gave.

CREATE TABLE shequ.kpi_rollup (
  community_id      text NOT NULL,
  company_id        text NOT NULL,            -- '' when the ticket has none
  category          text NOT NULL,
  day               date NOT NULL,
  tickets           bigint NOT NULL,
  responded         bigint NOT NULL,
  responded_on_time bigint NOT NULL,
  resolved          bigint NOT NULL,
  resolved_on_time  bigint NOT NULL,
  rated             bigint NOT NULL,
  satisfied         bigint NOT NULL,
  PRIMARY KEY (community_id, day, category, company_id)
);
CREATE INDEX kpi_rollup_company_idx ON shequ.kpi_rollup (company_id, day);

-- Adds (sign 1) or removes (sign -1) one ticket row's stable contribution.
CREATE FUNCTION shequ.kpi_rollup_apply(t shequ.tickets, sign int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO shequ.kpi_rollup AS k
  SELECT t.community_id, coalesce(t.company_id, ''), t.category, t.created_day, sign,
         sign * (t.responded_at IS NOT NULL)::int,
         sign * coalesce(t.responded_at <= t.respond_due, false)::int,
         sign * (t.resolved_at IS NOT NULL)::int,
         sign * coalesce(t.resolved_at <= t.resolve_due, false)::int,
         sign * (t.rating IS NOT NULL)::int,
         sign * coalesce(t.rating IN ('satisfied', 'basically_satisfied'), false)::int
   WHERE t.status NOT IN ('merged', 'cancelled')
  ON CONFLICT (community_id, day, category, company_id) DO UPDATE
     SET tickets = k.tickets + EXCLUDED.tickets,
         responded = k.responded + EXCLUDED.responded,
         responded_on_time = k.responded_on_time + EXCLUDED.responded_on_time,
         resolved = k.resolved + EXCLUDED.resolved,
         resolved_on_time = k.resolved_on_time + EXCLUDED.resolved_on_time,
         rated = k.rated + EXCLUDED.rated,
         satisfied = k.satisfied + EXCLUDED.satisfied
$$;

CREATE FUNCTION shequ.kpi_rollup_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM shequ.kpi_rollup_apply(OLD, -1); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM shequ.kpi_rollup_apply(NEW, 1); END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION shequ.kpi_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE shequ.kpi_rollup;
  RETURN NULL;
END $$;

CREATE TRIGGER tickets_kpi_rollup_ins_del AFTER INSERT OR DELETE ON shequ.tickets
  FOR EACH ROW EXECUTE FUNCTION shequ.kpi_rollup_row();
-- Most updates (escalations, notes, assignee changes) leave the contribution as it was: skip them.
CREATE TRIGGER tickets_kpi_rollup_upd AFTER UPDATE ON shequ.tickets FOR EACH ROW
  WHEN ((OLD.community_id, OLD.company_id, OLD.category, OLD.created_day,
         OLD.status IN ('merged', 'cancelled'), OLD.responded_at IS NULL, OLD.responded_at <= OLD.respond_due,
         OLD.resolved_at IS NULL, OLD.resolved_at <= OLD.resolve_due, OLD.rating)
        IS DISTINCT FROM
        (NEW.community_id, NEW.company_id, NEW.category, NEW.created_day,
         NEW.status IN ('merged', 'cancelled'), NEW.responded_at IS NULL, NEW.responded_at <= NEW.respond_due,
         NEW.resolved_at IS NULL, NEW.resolved_at <= NEW.resolve_due, NEW.rating))
  EXECUTE FUNCTION shequ.kpi_rollup_row();
CREATE TRIGGER tickets_kpi_rollup_truncate AFTER TRUNCATE ON shequ.tickets
  FOR EACH STATEMENT EXECUTE FUNCTION shequ.kpi_rollup_truncate();

INSERT INTO shequ.kpi_rollup
SELECT community_id, coalesce(company_id, ''), category, created_day, count(*),
       count(*) FILTER (WHERE is_responded), count(*) FILTER (WHERE is_responded_on_time),
       count(*) FILTER (WHERE is_resolved), count(*) FILTER (WHERE is_resolved_on_time),
       count(*) FILTER (WHERE is_rated), count(*) FILTER (WHERE is_satisfied)
  FROM shequ.ticket_kpi
 GROUP BY 1, 2, 3, 4;

-- The tickets whose KPI contribution can change with the clock alone.
CREATE INDEX tickets_pending_idx ON shequ.tickets (community_id, created_day)
 WHERE status IN ('assigned', 'in_progress', 'paused')
    OR (responded_at IS NULL AND status IN ('resolved', 'closed'));

-- A rate as DESIGN.md §5 defines it: a fraction, NULL when nothing is due.
CREATE FUNCTION shequ.ratio(num bigint, den bigint) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT num::numeric / NULLIF(den, 0) $$;

CREATE VIEW shequ.kpi_daily_base AS
SELECT r.community_id, NULLIF(r.company_id, '') AS company_id, r.category, r.day,
       r.tickets, r.responded, r.responded_on_time,
       r.responded + coalesce(p.respond_overdue, 0) AS respond_due,
       r.resolved, r.resolved_on_time,
       r.resolved + coalesce(p.resolve_overdue, 0) AS resolve_due,
       r.rated, r.satisfied,
       coalesce(p.overdue_open, 0) AS overdue_open
  FROM shequ.kpi_rollup r
  LEFT JOIN (SELECT community_id, coalesce(company_id, '') AS company_id, category, created_day AS day,
                    count(*) FILTER (WHERE responded_at IS NULL AND respond_due < now()) AS respond_overdue,
                    count(*) FILTER (WHERE resolved_at IS NULL AND resolve_due < now()
                                       AND status IN ('assigned', 'in_progress', 'paused')) AS resolve_overdue,
                    count(*) FILTER (WHERE status IN ('assigned', 'in_progress', 'paused')
                                       AND ((responded_at IS NULL AND respond_due < now())
                                         OR (resolved_at IS NULL AND resolve_due < now())
                                         OR (reported_at IS NULL AND report_due < now())))  AS overdue_open
               FROM shequ.tickets
              WHERE status IN ('assigned', 'in_progress', 'paused')
                 OR (responded_at IS NULL AND status IN ('resolved', 'closed'))
              GROUP BY 1, 2, 3, 4) p
    ON p.community_id = r.community_id AND p.company_id = r.company_id AND p.category = r.category
   AND p.day = r.day
 WHERE r.tickets > 0;

-- The same columns as before, now sums over kpi_daily_base.
DROP VIEW shequ.kpi_daily, shequ.kpi_daily_company, shequ.kpi_daily_category;

CREATE VIEW shequ.kpi_daily AS
SELECT community_id, day, tickets, responded, responded_on_time,
       shequ.ratio(responded_on_time, respond_due) AS response_on_time_rate,
       resolved, resolved_on_time, shequ.ratio(resolved_on_time, resolve_due) AS completion_on_time_rate,
       rated, satisfied, shequ.ratio(satisfied, rated) AS satisfaction_rate,
       shequ.ratio(responded, tickets) AS reply_rate, overdue_open
  FROM (SELECT community_id, day, sum(tickets)::bigint AS tickets, sum(responded)::bigint AS responded,
               sum(responded_on_time)::bigint AS responded_on_time, sum(respond_due)::bigint AS respond_due,
               sum(resolved)::bigint AS resolved, sum(resolved_on_time)::bigint AS resolved_on_time,
               sum(resolve_due)::bigint AS resolve_due, sum(rated)::bigint AS rated,
               sum(satisfied)::bigint AS satisfied, sum(overdue_open)::bigint AS overdue_open
          FROM shequ.kpi_daily_base GROUP BY community_id, day) s;

CREATE VIEW shequ.kpi_daily_company AS
SELECT company_id, day, tickets, responded, responded_on_time,
       shequ.ratio(responded_on_time, respond_due) AS response_on_time_rate,
       resolved, resolved_on_time, shequ.ratio(resolved_on_time, resolve_due) AS completion_on_time_rate,
       rated, satisfied, shequ.ratio(satisfied, rated) AS satisfaction_rate,
       shequ.ratio(responded, tickets) AS reply_rate, overdue_open
  FROM (SELECT company_id, day, sum(tickets)::bigint AS tickets, sum(responded)::bigint AS responded,
               sum(responded_on_time)::bigint AS responded_on_time, sum(respond_due)::bigint AS respond_due,
               sum(resolved)::bigint AS resolved, sum(resolved_on_time)::bigint AS resolved_on_time,
               sum(resolve_due)::bigint AS resolve_due, sum(rated)::bigint AS rated,
               sum(satisfied)::bigint AS satisfied, sum(overdue_open)::bigint AS overdue_open
          FROM shequ.kpi_daily_base GROUP BY company_id, day) s;

CREATE VIEW shequ.kpi_daily_category AS
SELECT community_id, category, day, tickets, responded, responded_on_time,
       shequ.ratio(responded_on_time, respond_due) AS response_on_time_rate,
       resolved, resolved_on_time, shequ.ratio(resolved_on_time, resolve_due) AS completion_on_time_rate,
       rated, satisfied, shequ.ratio(satisfied, rated) AS satisfaction_rate,
       shequ.ratio(responded, tickets) AS reply_rate, overdue_open
  FROM (SELECT community_id, category, day, sum(tickets)::bigint AS tickets, sum(responded)::bigint AS responded,
               sum(responded_on_time)::bigint AS responded_on_time, sum(respond_due)::bigint AS respond_due,
               sum(resolved)::bigint AS resolved, sum(resolved_on_time)::bigint AS resolved_on_time,
               sum(resolve_due)::bigint AS resolve_due, sum(rated)::bigint AS rated,
               sum(satisfied)::bigint AS satisfied, sum(overdue_open)::bigint AS overdue_open
          FROM shequ.kpi_daily_base GROUP BY community_id, category, day) s;

-- Sign-in for the dashboard: one row per person, tied to the staff row that sets their scope
-- (supervisor → its community, street → its street); district users see everything.
CREATE TABLE shequ.dashboard_users (
  username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
  staff_id      text REFERENCES shequ.staff (staff_id),
  district      bool NOT NULL DEFAULT false,
  password_hash text NOT NULL,              -- Argon2id, from `dashboard --hash-password`
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (district OR staff_id IS NOT NULL)
);
