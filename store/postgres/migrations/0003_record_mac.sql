-- Schema 3: each object record carries the MAC the root of trust made over
-- it (store.RecordMACInput). NULL for records written before: they are
-- accepted and get their MAC on their next write.
ALTER TABLE kmip_objects ADD COLUMN mac bytea;
