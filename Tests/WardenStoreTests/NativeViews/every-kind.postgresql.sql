CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE SCHEMA IF NOT EXISTS warden_system;

REVOKE ALL ON SCHEMA warden_system FROM PUBLIC;

CREATE TABLE IF NOT EXISTS warden_system.subjects (role_name text PRIMARY KEY, username text NOT NULL, groups text[] NOT NULL,
    attributes jsonb NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.purposes (role_name text NOT NULL, data_source_id bigint NOT NULL, purpose text NOT NULL,
    PRIMARY KEY (role_name, data_source_id, purpose));

CREATE TABLE IF NOT EXISTS warden_system.source_keys (data_source_id bigint PRIMARY KEY, salt bytea NOT NULL, enc_key bytea NOT NULL,
    mac_key bytea NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.views (data_source_id bigint PRIMARY KEY, view_schema text NOT NULL, view_name text NOT NULL,
    definition_hash text NOT NULL, definition text NOT NULL);

CREATE SCHEMA IF NOT EXISTS "warden";

DROP VIEW IF EXISTS "warden"."People";

CREATE VIEW "warden"."People" WITH (security_barrier) AS WITH warden_user AS (SELECT s.username, s.groups, s.attributes, ARRAY(SELECT p.purpose FROM warden_system.purposes p
        WHERE p.role_name = s.role_name AND p.data_source_id = 42 ORDER BY p.purpose) AS purposes
    FROM warden_system.subjects s WHERE s.role_name = current_user) SELECT t."id" AS "id", CASE WHEN (NOT (COALESCE((SELECT w.groups @> ARRAY['HQ']::text[] FROM warden_user w), FALSE) OR COALESCE((SELECT EXISTS (SELECT 1 FROM unnest(w.purposes) AS p (name) WHERE p.name = 'Audit' OR starts_with(p.name, 'Audit.')) FROM warden_user w), FALSE))) THEN CASE WHEN TRUE THEN CAST(encode(hmac(convert_to(CAST(t."email" AS text), 'UTF8'), (SELECT k.salt FROM warden_system.source_keys k WHERE k.data_source_id = 42), 'sha256'), 'hex') AS text) ELSE CAST(t."email" AS text) END ELSE CAST(t."email" AS text) END AS "email", CASE WHEN (NOT (COALESCE((SELECT jsonb_array_length((w.attributes -> 'Clearance')) > 0 FROM warden_user w), FALSE))) THEN CASE WHEN TRUE THEN NULL ELSE t."ssn" END ELSE t."ssn" END AS "ssn", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(translate(CAST(t."name" AS text), '0123456789', '##########') AS text) ELSE CAST(t."name" AS text) END ELSE CAST(t."name" AS text) END AS "name", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(regexp_replace(CAST(t."Nick ""Name""; --" AS text), '^(.)', '\1*', 'i') AS text) ELSE CAST(t."Nick ""Name""; --" AS text) END ELSE CAST(t."Nick ""Name""; --" AS text) END AS "Nick ""Name""; --", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN (floor(CAST(t."salary" AS numeric) / 10000) * 10000) ELSE t."salary" END ELSE t."salary" END AS "salary", CASE WHEN ((NOT FALSE) AND NOT (FALSE OR FALSE OR (NOT COALESCE((SELECT (w.attributes -> 'Clearance') ? 'High' FROM warden_user w), FALSE)))) THEN CASE WHEN COALESCE(((t."state" = 'CA') AND COALESCE((SELECT (w.attributes -> 'Clearance') ? 'High' FROM warden_user w), FALSE)), FALSE) THEN date_trunc('year', t."born") ELSE t."born" END ELSE t."born" END AS "born", t."state" AS "state", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST('it''s \ redacted' AS text) ELSE CAST(t."dept" AS text) END ELSE CAST(t."dept" AS text) END AS "dept", t."created_at" AS "created_at", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(translate(encode(substring(hmac(convert_to('token', 'UTF8') || decode('00', 'hex') || convert_to(CAST(t."token" AS text), 'UTF8'), (SELECT k.mac_key FROM warden_system.source_keys k WHERE k.data_source_id = 42), 'sha256') FROM 1 FOR 16) || encrypt_iv(convert_to(CAST(t."token" AS text), 'UTF8'), (SELECT k.enc_key FROM warden_system.source_keys k WHERE k.data_source_id = 42), substring(hmac(convert_to('token', 'UTF8') || decode('00', 'hex') || convert_to(CAST(t."token" AS text), 'UTF8'), (SELECT k.mac_key FROM warden_system.source_keys k WHERE k.data_source_id = 42), 'sha256') FROM 1 FOR 16), 'aes-cbc/pad:pkcs'), 'base64'), E'\n', '') AS text) ELSE CAST(t."token" AS text) END ELSE CAST(t."token" AS text) END AS "token" FROM "Sales"."people; --" t WHERE EXISTS (SELECT 1 FROM warden_user w) AND (FALSE OR ((CAST(t."state" AS text) = ANY(COALESCE((SELECT ARRAY(SELECT jsonb_array_elements_text(w.attributes -> 'State')) FROM warden_user w), '{}'::text[]))) OR (CAST(t."dept" AS text) = ANY(COALESCE((SELECT w.groups FROM warden_user w), '{}'::text[]))))) AND ((COALESCE((SELECT (w.attributes -> 'Role') ? 'Admin' FROM warden_user w), FALSE)) OR ((t."dept" = 'HR') OR (t."name" = (SELECT w.username FROM warden_user w)))) AND (FALSE OR (t."created_at" > now() - make_interval(secs => 7776000))) AND (FALSE OR ((('x' || substr(md5(CAST(t."id" AS text)), 1, 8))::bit(32)::bigint % 100) < 25)) AND (FALSE OR (COALESCE((SELECT EXISTS (SELECT 1 FROM unnest(w.purposes) AS p (name) WHERE p.name = 'Research.Health' OR starts_with(p.name, 'Research.Health.')) FROM warden_user w), FALSE) OR COALESCE((SELECT EXISTS (SELECT 1 FROM unnest(w.purposes) AS p (name) WHERE p.name = 'Audit' OR starts_with(p.name, 'Audit.')) FROM warden_user w), FALSE)));

REVOKE ALL ON "warden"."People" FROM PUBLIC;

GRANT USAGE ON SCHEMA "warden" TO "Bob ""B""";

GRANT SELECT ON "warden"."People" TO "Bob ""B""";

GRANT USAGE ON SCHEMA "warden" TO "alice";

GRANT SELECT ON "warden"."People" TO "alice";
