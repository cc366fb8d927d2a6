-- Tables of their own for the buckets whose keys are records
-- (engine_pg_tables.go): each key's parts are columns, the primary key
-- orders rows as the bucket's keys are ordered, and the rows these buckets
-- held in kv move here (pgMoveToTables, in the same transaction).
-- Byte strings are BYTEA: ids and kinds are UTF-8, but a fingerprint value
-- comes from the laptop and may hold any character, a zero byte included,
-- which TEXT refuses; BYTEA also compares as bytes, in any locale.

-- First, and so before any row moves: the buckets that move can no longer
-- be written to kv. ALTER TABLE locks kv until the change commits, so a
-- collector of the first schema still running waits, then its write fails:
-- the batch it was storing is not acknowledged, and the agent sends it
-- again, to an upgraded collector. NOT VALID: kv still holds those rows
-- until the move (0003 validates).
ALTER TABLE kv ADD CONSTRAINT kv_buckets_in_tables
	CHECK (bucket NOT IN ('reports', 'fingerprints', 'cluster_of', 'alerts_by_key', 'alert_events')) NOT VALID;

-- A report by the time it was received (unix nanoseconds) and the report
-- word: the writer number the collector took at start and its count.
CREATE TABLE reports (
	received_ns INT8 NOT NULL,
	writer INT8 NOT NULL,
	n INT8 NOT NULL,
	report BYTEA NOT NULL,
	PRIMARY KEY (received_ns, writer, n)
);

-- When a device last showed a fingerprint (a network, a gateway, a public
-- address...) and in how many reports: the index farms are found by.
CREATE TABLE fingerprints (
	kind BYTEA NOT NULL,
	value BYTEA NOT NULL,
	device_id BYTEA NOT NULL,
	last_seen_unix INT8 NOT NULL,
	reports INT8 NOT NULL,
	PRIMARY KEY (kind, value, device_id)
);

-- A device's cluster: the members of a cluster are its rows.
CREATE TABLE cluster_of (
	device_id BYTEA PRIMARY KEY,
	cluster_id BYTEA NOT NULL
);
CREATE INDEX cluster_of_by_cluster ON cluster_of (cluster_id);

-- The open alert of a subject (a device or a cluster) and alert kind.
CREATE TABLE alerts_by_key (
	subject BYTEA NOT NULL,
	kind BYTEA NOT NULL,
	alert_id BYTEA NOT NULL,
	PRIMARY KEY (subject, kind)
);

-- The alert event log, by event id.
CREATE TABLE alert_events (
	id INT8 PRIMARY KEY,
	event BYTEA NOT NULL
);
