CREATE SCHEMA IF NOT EXISTS warden_system;

REVOKE ALL ON SCHEMA warden_system FROM PUBLIC;

CREATE TABLE IF NOT EXISTS warden_system.subjects (role_name VARCHAR(128) NOT NULL, username VARCHAR(65535) NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.subject_groups (role_name VARCHAR(128) NOT NULL, group_name VARCHAR(65535) NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.subject_attributes (role_name VARCHAR(128) NOT NULL, attribute_key VARCHAR(65535) NOT NULL,
    attribute_value VARCHAR(65535) NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.purposes (role_name VARCHAR(128) NOT NULL, data_source_id BIGINT NOT NULL,
    purpose VARCHAR(65535) NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.source_keys (data_source_id BIGINT NOT NULL, salt VARCHAR(128) NOT NULL);

CREATE TABLE IF NOT EXISTS warden_system.views (data_source_id BIGINT NOT NULL, view_schema VARCHAR(128) NOT NULL,
    view_name VARCHAR(128) NOT NULL, definition_hash VARCHAR(64) NOT NULL);

CREATE SCHEMA IF NOT EXISTS "warden";

DROP VIEW IF EXISTS "warden"."People";

CREATE VIEW "warden"."People" AS SELECT t."id" AS "id", CASE WHEN (NOT ((TRUE AND EXISTS (SELECT 1 FROM warden_system.subject_groups g WHERE g.role_name = CURRENT_USER AND g.group_name = 'HQ')) OR EXISTS (SELECT 1 FROM warden_system.purposes p WHERE p.role_name = CURRENT_USER AND p.data_source_id = 42 AND (p.purpose = 'Audit' OR LEFT(p.purpose, 6) = 'Audit.')))) THEN CASE WHEN TRUE THEN CAST(SHA2((SELECT k.salt FROM warden_system.source_keys k WHERE k.data_source_id = 42) || CAST(t."email" AS VARCHAR(65535)), 256) AS VARCHAR(65535)) ELSE CAST(t."email" AS VARCHAR(65535)) END ELSE CAST(t."email" AS VARCHAR(65535)) END AS "email", CASE WHEN (NOT (EXISTS (SELECT 1 FROM warden_system.subject_attributes a WHERE a.role_name = CURRENT_USER AND a.attribute_key = 'Clearance'))) THEN CASE WHEN TRUE THEN NULL ELSE t."ssn" END ELSE t."ssn" END AS "ssn", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(REGEXP_REPLACE(CAST(t."name" AS VARCHAR(65535)), '[0-9]', '#', 1, 'c') AS VARCHAR(65535)) ELSE CAST(t."name" AS VARCHAR(65535)) END ELSE CAST(t."name" AS VARCHAR(65535)) END AS "name", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(NULL AS VARCHAR(65535)) ELSE CAST(t."Nick ""Name""; --" AS VARCHAR(65535)) END ELSE CAST(t."Nick ""Name""; --" AS VARCHAR(65535)) END AS "Nick ""Name""; --", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN (FLOOR(CAST(t."salary" AS DOUBLE PRECISION) / 10000) * 10000) ELSE t."salary" END ELSE t."salary" END AS "salary", CASE WHEN ((NOT FALSE) AND NOT (FALSE OR FALSE OR (NOT EXISTS (SELECT 1 FROM warden_system.subject_attributes a WHERE a.role_name = CURRENT_USER AND a.attribute_key = 'Clearance' AND a.attribute_value = 'High')))) THEN CASE WHEN COALESCE(((t."state" = 'CA') AND EXISTS (SELECT 1 FROM warden_system.subject_attributes a WHERE a.role_name = CURRENT_USER AND a.attribute_key = 'Clearance' AND a.attribute_value = 'High')), FALSE) THEN DATE_TRUNC('year', t."born") ELSE t."born" END ELSE t."born" END AS "born", t."state" AS "state", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST('it''s \\ redacted' AS VARCHAR(65535)) ELSE CAST(t."dept" AS VARCHAR(65535)) END ELSE CAST(t."dept" AS VARCHAR(65535)) END AS "dept", t."created_at" AS "created_at", CASE WHEN (NOT FALSE) THEN CASE WHEN TRUE THEN CAST(NULL AS VARCHAR(65535)) ELSE CAST(t."token" AS VARCHAR(65535)) END ELSE CAST(t."token" AS VARCHAR(65535)) END AS "token" FROM "Sales"."people; --" t WHERE EXISTS (SELECT 1 FROM warden_system.subjects s WHERE s.role_name = CURRENT_USER) AND (FALSE OR ((CAST(t."state" AS VARCHAR(65535)) IN (SELECT a.attribute_value FROM warden_system.subject_attributes a WHERE a.role_name = CURRENT_USER AND a.attribute_key = 'State')) OR (CAST(t."dept" AS VARCHAR(65535)) IN (SELECT a.group_name FROM warden_system.subject_groups a WHERE a.role_name = CURRENT_USER)))) AND ((EXISTS (SELECT 1 FROM warden_system.subject_attributes a WHERE a.role_name = CURRENT_USER AND a.attribute_key = 'Role' AND a.attribute_value = 'Admin')) OR ((t."dept" = 'HR') OR (t."name" = (SELECT s.username FROM warden_system.subjects s WHERE s.role_name = CURRENT_USER)))) AND (FALSE OR (t."created_at" > DATEADD(second, -7776000, GETDATE()))) AND (FALSE OR ((STRTOL(SUBSTRING(MD5(CAST(t."id" AS VARCHAR(65535))), 1, 8), 16) % 100) < 25)) AND (FALSE OR (EXISTS (SELECT 1 FROM warden_system.purposes p WHERE p.role_name = CURRENT_USER AND p.data_source_id = 42 AND (p.purpose = 'Research.Health' OR LEFT(p.purpose, 16) = 'Research.Health.')) OR EXISTS (SELECT 1 FROM warden_system.purposes p WHERE p.role_name = CURRENT_USER AND p.data_source_id = 42 AND (p.purpose = 'Audit' OR LEFT(p.purpose, 6) = 'Audit.')))) WITH NO SCHEMA BINDING;

REVOKE ALL ON "warden"."People" FROM PUBLIC;

GRANT USAGE ON SCHEMA "warden" TO "Bob ""B""";

GRANT SELECT ON "warden"."People" TO "Bob ""B""";

GRANT USAGE ON SCHEMA "warden" TO "alice";

GRANT SELECT ON "warden"."People" TO "alice";
