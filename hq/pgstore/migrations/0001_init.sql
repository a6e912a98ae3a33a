-- Where each terminal's chain stands at HQ (every event 1..acked is held, hash is
-- the hash of event acked) and its sales report totals. Append locks a terminal's
-- row for the length of its transaction, which serializes uploads of one terminal
-- across replicas and leaves other terminals alone.
-- COLLATE "C": terminals sort byte by byte, as in the bbolt store, whatever the
-- database's locale.
CREATE TABLE terminals (
    terminal   text COLLATE "C" PRIMARY KEY,
    acked      bigint NOT NULL DEFAULT 0 CHECK (acked >= 0),
    hash       text   NOT NULL DEFAULT '',
    sale_count bigint NOT NULL DEFAULT 0,
    sale_total bigint NOT NULL DEFAULT 0,
    currency   text   NOT NULL DEFAULT ''
);

-- The terminals' ledger events, exactly as uploaded. The hash covers the body byte
-- for byte, so it is bytea (jsonb would reorder and respace it), and it covers the
-- time in nanoseconds, so at_unix_ns keeps those (timestamptz keeps microseconds;
-- to_timestamp(at_unix_ns / 1e9) gives one for queries).
-- No foreign key to terminals: Append writes both under the terminal's row lock,
-- and a per-row check would only slow ingest.
CREATE TABLE events (
    terminal        text COLLATE "C" NOT NULL,
    seq             bigint NOT NULL CHECK (seq > 0),
    id              text   NOT NULL,
    type            text   NOT NULL,
    at_unix_ns      bigint NOT NULL,
    ruleset_version bigint NOT NULL,
    ruleset_hash    text   NOT NULL,
    prev            text   NOT NULL,
    hash            text   NOT NULL,
    body            bytea  NOT NULL,
    PRIMARY KEY (terminal, seq)
);

-- Published rulesets; the current one has the highest version. raw is the file
-- exactly as published and signature HQ's Ed25519 signature of it (NULL: unsigned).
CREATE TABLE rulesets (
    version      bigint PRIMARY KEY,
    hash         text   NOT NULL,
    raw          bytea  NOT NULL,
    signature    bytea,
    published_at timestamptz NOT NULL DEFAULT now()
);
