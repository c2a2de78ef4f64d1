-- The record of tickets (DESIGN.md §5), written by the recorder from tickets.v1 and the input topics.

CREATE TABLE shequ.tickets (
  ticket_id           text PRIMARY KEY,
  community_id        text NOT NULL,
  company_id          text,
  source              text NOT NULL,            -- report | alarm | inspection
  category            text NOT NULL,
  tier                text NOT NULL,            -- urgent | general | medium | difficult
  status              text NOT NULL CHECK (status IN ('assigned', 'in_progress', 'paused', 'resolved',
                                                      'closed', 'merged', 'cancelled')),
  assignee_id         text,
  unassigned_fallback bool NOT NULL DEFAULT false,
  reporter_count      int NOT NULL DEFAULT 0,
  occurrence_count    int NOT NULL DEFAULT 0,
  repeat              bool NOT NULL DEFAULT false,
  escalation_level    int NOT NULL DEFAULT 0,
  reopen_count        int NOT NULL DEFAULT 0,
  rating              text CHECK (rating IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
  building            text,
  unit                text,
  summary             text,
  device_id           text,
  merged_into         text,
  created_at          timestamptz NOT NULL,
  created_day         date NOT NULL,            -- the Asia/Shanghai day the ticket was created
  respond_due         timestamptz,              -- difficult tier: the plan deadline
  responded_at        timestamptz,
  report_due          timestamptz,
  reported_at         timestamptz,
  plan_due            timestamptz,
  planned_at          timestamptz,
  resolve_due         timestamptz,
  resolved_at         timestamptz,              -- NULL again when reopened
  paused_seconds      bigint NOT NULL DEFAULT 0,
  closed_at           timestamptz,
  updated_at          timestamptz NOT NULL,
  log_partition       int NOT NULL,             -- tickets.v1 position of the last snapshot applied:
  log_offset          bigint NOT NULL           -- an older redelivered event never moves a row back
);
CREATE INDEX tickets_community_day_idx ON shequ.tickets (community_id, created_day);
CREATE INDEX tickets_company_day_idx ON shequ.tickets (company_id, created_day);
CREATE INDEX tickets_open_idx ON shequ.tickets (community_id) WHERE status IN ('assigned', 'in_progress', 'paused');
CREATE INDEX tickets_place_idx ON shequ.tickets (community_id, building, category) WHERE repeat;

CREATE TABLE shequ.ticket_events (
  event_id      text PRIMARY KEY,
  ticket_id     text NOT NULL,
  type          text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  actor_id      text,
  detail        jsonb NOT NULL DEFAULT '{}',
  log_partition int NOT NULL,
  log_offset    bigint NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_events_ticket_idx ON shequ.ticket_events (ticket_id, occurred_at);

-- The archive of inputs. No phone number: only whether one was given (it stays sealed on Kafka).
CREATE TABLE shequ.reports (
  report_id    text PRIMARY KEY,
  event_id     text NOT NULL,
  community_id text NOT NULL,
  reporter_id  text NOT NULL,
  category     text NOT NULL,
  description  text,
  building     text,
  unit         text,
  address      text,
  lat          double precision,
  lon          double precision,
  photos       text[] NOT NULL DEFAULT '{}',
  phone_given  bool NOT NULL DEFAULT false,
  channel      text,
  client_id    text,
  accepted_at  timestamptz NOT NULL,          -- when the bus accepted it
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shequ.alarms (
  event_id     text PRIMARY KEY,               -- every occurrence is kept
  alarm_id     text NOT NULL,
  device_id    text NOT NULL,
  community_id text NOT NULL,
  type         text NOT NULL,
  state        text NOT NULL,
  level        int,
  building     text,
  unit         text,
  device_time  timestamptz,
  snapshot_url text,
  accepted_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alarms_device_idx ON shequ.alarms (device_id, accepted_at);

CREATE TABLE shequ.deadletters (
  dl_partition     int NOT NULL,
  dl_offset        bigint NOT NULL,
  reason           text NOT NULL,
  detail           text,
  source_topic     text,
  source_partition int,
  source_offset    bigint,
  service          text,
  msg_key          bytea,
  payload          bytea,
  dead_at          timestamptz NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dl_partition, dl_offset)
);

-- Per-ticket KPI flags (DESIGN.md §5): merged and cancelled tickets are excluded; "late open work" counts.
CREATE VIEW shequ.ticket_kpi AS
SELECT t.*,
       t.responded_at IS NOT NULL                                         AS is_responded,
       t.responded_at IS NOT NULL AND t.responded_at <= t.respond_due     AS is_responded_on_time,
       t.responded_at IS NULL AND t.respond_due < now()                   AS is_respond_overdue,
       t.resolved_at IS NOT NULL                                          AS is_resolved,
       t.resolved_at IS NOT NULL AND t.resolved_at <= t.resolve_due       AS is_resolved_on_time,
       t.resolved_at IS NULL AND t.resolve_due < now()
         AND t.status IN ('assigned', 'in_progress', 'paused')            AS is_resolve_overdue,
       t.rating IS NOT NULL                                               AS is_rated,
       t.rating IN ('satisfied', 'basically_satisfied')                   AS is_satisfied,
       t.status IN ('assigned', 'in_progress', 'paused')
         AND ((t.responded_at IS NULL AND t.respond_due < now())
           OR (t.resolved_at IS NULL AND t.resolve_due < now())
           OR (t.reported_at IS NULL AND t.report_due < now()))           AS is_overdue_open
  FROM shequ.tickets t
 WHERE t.status NOT IN ('merged', 'cancelled');

CREATE VIEW shequ.kpi_daily AS
SELECT community_id,
       created_day AS day,
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
 GROUP BY community_id, created_day;

CREATE VIEW shequ.overdue_open AS
SELECT ticket_id, community_id, company_id, tier, category, status, assignee_id, escalation_level, created_at,
       respond_due, resolve_due, report_due,
       CASE WHEN responded_at IS NULL AND respond_due < now() THEN 'respond'
            WHEN reported_at IS NULL AND report_due < now() THEN 'report'
            ELSE 'resolve' END AS overdue_clock,
       now() - least(CASE WHEN responded_at IS NULL AND respond_due < now() THEN respond_due END,
                     CASE WHEN reported_at IS NULL AND report_due < now() THEN report_due END,
                     CASE WHEN resolved_at IS NULL AND resolve_due < now() THEN resolve_due END) AS late_by
  FROM shequ.ticket_kpi
 WHERE is_overdue_open;
