-- The key-value engine's tables (engine_pg.go). A bucket is named by its
-- path: the names of its parents and its own, each percent-escaped, joined
-- with "/" ("applicant_staging/IMPORT"). kv_buckets lists every bucket,
-- nested ones too, with its NextSequence counter; kv holds the keys of all
-- buckets. BYTEA compares as unsigned bytes, the order bbolt keeps.
CREATE TABLE kv_buckets (
	name TEXT PRIMARY KEY,
	seq INT8 NOT NULL DEFAULT 0
);

CREATE TABLE kv (
	bucket TEXT NOT NULL,
	k BYTEA NOT NULL,
	v BYTEA NOT NULL,
	PRIMARY KEY (bucket, k)
);
