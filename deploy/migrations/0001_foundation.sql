-- Schema shequ, owned by shequ_owner (who runs migrations). shequ_writer (services) gets DML on every
-- table created here later; shequ_reader (dashboard) gets SELECT only. Neither can create objects.
CREATE SCHEMA IF NOT EXISTS shequ AUTHORIZATION shequ_owner;
REVOKE ALL ON SCHEMA shequ FROM PUBLIC;
GRANT USAGE ON SCHEMA shequ TO shequ_writer, shequ_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE shequ_owner IN SCHEMA shequ
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO shequ_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE shequ_owner IN SCHEMA shequ
  GRANT USAGE, SELECT ON SEQUENCES TO shequ_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE shequ_owner IN SCHEMA shequ
  GRANT SELECT ON TABLES TO shequ_reader;

-- The directory (DESIGN.md §6), edited by operators; services poll max(updated_at).
CREATE TABLE shequ.streets (
  street_id text PRIMARY KEY,
  name text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE shequ.companies (
  company_id text PRIMARY KEY,
  name text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE shequ.communities (
  community_id text PRIMARY KEY,
  name text NOT NULL,
  street_id text NOT NULL,
  company_id text NOT NULL,
  buildings int NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE shequ.staff (
  staff_id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('staff', 'manager', 'supervisor', 'street')),
  company_id text,
  community_id text,
  street_id text,
  skills text[] NOT NULL DEFAULT '{}',
  on_duty bool NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX staff_company_idx ON shequ.staff (company_id);

CREATE FUNCTION shequ.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TRIGGER streets_touch BEFORE UPDATE ON shequ.streets FOR EACH ROW EXECUTE FUNCTION shequ.touch_updated_at();
CREATE TRIGGER companies_touch BEFORE UPDATE ON shequ.companies FOR EACH ROW EXECUTE FUNCTION shequ.touch_updated_at();
CREATE TRIGGER communities_touch BEFORE UPDATE ON shequ.communities FOR EACH ROW EXECUTE FUNCTION shequ.touch_updated_at();
CREATE TRIGGER staff_touch BEFORE UPDATE ON shequ.staff FOR EACH ROW EXECUTE FUNCTION shequ.touch_updated_at();
