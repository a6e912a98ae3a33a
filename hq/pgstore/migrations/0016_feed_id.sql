-- The change feed's identity (wire.ChangesAnswer.Feed): a terminal keeps its
-- position in the feed across restarts together with it, and a position of
-- another feed reads from the start. Random, made once here; Changes adds the
-- cluster's system identifier (a new one at every initdb) and the database's
-- oid, so that the same data restored into a new cluster or a new database
-- (pg_dump and pg_restore) is another feed. After restoring a backup into the
-- same database of the same cluster (a physical backup, point-in-time
-- recovery), give the feed a new identity: tillhq feed renew (docs/sync.md).
ALTER TABLE change_feed ADD COLUMN IF NOT EXISTS id text NOT NULL
    DEFAULT md5(random()::text || clock_timestamp()::text);
