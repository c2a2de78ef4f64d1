-- When each ticket row was first written (the recorder's insert, clock_timestamp() within its
-- transaction): how fresh the record is, and the end point of tools/bench's gateway → ticket row latency.
-- Rows from before this migration keep NULL (adding a volatile default to existing rows would rewrite
-- the whole table). tools/rebuild leaves recorded_at columns out of its comparison.
ALTER TABLE shequ.tickets ADD COLUMN recorded_at timestamptz;
ALTER TABLE shequ.tickets ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
