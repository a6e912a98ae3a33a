-- Operators of HQ (hq.OperatorStore): their bcrypt password hashes, their API
-- tokens and web sessions (only the SHA-256 of the secret), the append-only,
-- hash-chained admin log, and the revoked terminals.
CREATE TABLE operators (
    name          text PRIMARY KEY,
    role          text NOT NULL,
    password_hash bytea NOT NULL,
    created       timestamptz NOT NULL,
    disabled      timestamptz
);

CREATE TABLE credentials (
    hash     text PRIMARY KEY,
    kind     text NOT NULL,
    operator text NOT NULL REFERENCES operators (name),
    created  timestamptz NOT NULL,
    expires  timestamptz
);
CREATE INDEX credentials_operator ON credentials (operator);

CREATE TABLE admin_log (
    seq      bigint PRIMARY KEY,
    entry    jsonb NOT NULL, -- hq.AdminEntry; hash is its hq.AdminEntryHash
    hash     text NOT NULL
);

CREATE TABLE revoked_terminals (
    terminal text PRIMARY KEY,
    at       timestamptz NOT NULL,
    by_whom  text NOT NULL
);

-- Each terminal's last rules poll and the health it sent (hq.FleetStore).
CREATE TABLE terminal_contacts (
    terminal text PRIMARY KEY,
    at       timestamptz NOT NULL,
    remote   text NOT NULL,
    ruleset  bigint NOT NULL,
    tilld    text NOT NULL,
    outbox   bigint NOT NULL,
    oldest   timestamptz
);
