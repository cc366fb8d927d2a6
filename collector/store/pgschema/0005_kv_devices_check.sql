-- The check 0004 put on kv, validated now that the move has emptied the
-- devices bucket: as 0003 does for the buckets 0002 moved, it reads the
-- latest committed rows, so a device or report an older collector wrote
-- after the change began fails it here, and the change runs again.
ALTER TABLE kv VALIDATE CONSTRAINT kv_devices_in_tables;
