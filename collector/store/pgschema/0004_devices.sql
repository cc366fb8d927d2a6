-- The devices bucket in tables of its own (engine_pg_tables.go): a
-- device's record, with its analysis state and spool ledger as columns,
-- and its report index, a row per stored report. Its rows move here from
-- kv in the same transaction (pgMoveToTables), after the check below.

-- As in 0002: first, kv refuses the bucket, so that a collector of an
-- older schema still running waits for this change and then fails its
-- write rather than storing a device or a report where no upgraded
-- collector reads. 0005 validates the check.
ALTER TABLE kv ADD CONSTRAINT kv_devices_in_tables CHECK (bucket <> 'devices') NOT VALID;

-- A device: its protobuf bytes (the hire it belongs to, what it reported
-- last), the analysis state its reports built (NULL before the first), and
-- its spool ledger: the spool epochs it sent from and their generations
-- (NULL before the first report).
CREATE TABLE devices (
	device_id BYTEA PRIMARY KEY,
	device BYTEA NOT NULL,
	analysis_state BYTEA,
	spool_ledger BYTEA
);

-- A device's stored reports by spool generation and seq, newest first,
-- each pointing at its row in reports (received_ns, writer, n: the time
-- index). The ranks sort ascending as a primary key must:
-- generation = 4294967295 - gen_rank, seq = 9223372036854775807 - seq_rank.
CREATE TABLE device_reports (
	device_id BYTEA NOT NULL,
	gen_rank INT8 NOT NULL,
	seq_rank INT8 NOT NULL,
	received_ns INT8 NOT NULL,
	writer INT8 NOT NULL,
	n INT8 NOT NULL,
	PRIMARY KEY (device_id, gen_rank, seq_rank)
);
