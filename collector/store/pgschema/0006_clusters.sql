-- The clusters bucket in tables of its own (engine_pg_tables.go): a
-- cluster's record, and its links as rows, one per shared fingerprint and
-- device, so that a new link adds a row instead of rewriting the record of
-- a farm. The records move here from kv in the same transaction
-- (pgMoveToTables), after the check below; the store's own migration to
-- schema 10 then moves each record's links into cluster_links.

-- As in 0002 and 0004: kv first refuses the bucket, so that a collector of
-- an older schema still running fails its write of a cluster rather than
-- store one where no upgraded collector reads. 0007 validates the check.
ALTER TABLE kv ADD CONSTRAINT kv_clusters_in_tables CHECK (bucket <> 'clusters') NOT VALID;

-- A cluster: its members, place, verdict and revision (JSON).
CREATE TABLE clusters (
	cluster_id BYTEA PRIMARY KEY,
	record BYTEA NOT NULL
);

-- A link: a fingerprint (kind, value) that device_id shows and other
-- members of the cluster show too; linked_ns is when the device was linked
-- (unix nanoseconds), strong is 1 for a router or Wi-Fi network, 0 for a
-- public IP.
CREATE TABLE cluster_links (
	cluster_id BYTEA NOT NULL,
	kind BYTEA NOT NULL,
	value BYTEA NOT NULL,
	device_id BYTEA NOT NULL,
	linked_ns INT8 NOT NULL,
	strong INT8 NOT NULL,
	PRIMARY KEY (cluster_id, kind, value, device_id)
);
