-- The alarm bridge is a tolerant reader: a secondary field a device sent in a form it cannot use (a
-- level that is neither a number nor a severity name, a time that is no time) is dropped rather than
-- the alarm refused, and the drop is noted on the alarm, "field: why", one element each.
ALTER TABLE shequ.alarms ADD COLUMN dropped_fields text[] NOT NULL DEFAULT '{}';
