-- A terminal's events are filed by chain: its first ledger's under the epoch '',
-- a ledger created empty or restored from a backup (a fork) under an epoch of
-- its own, based on event base_seq (hash base_hash) of its parent epoch. HQ
-- keeps every chain, so no recovery path overwrites an acknowledged event.
-- chains holds each chain's watermark and totals; terminals keeps the head
-- chain's (the one uploaded to last: epoch, acked, hash) for the accounts'
-- as-of, and the totals over every chain.
CREATE TABLE chains (
    terminal        text COLLATE "C" NOT NULL,
    epoch           text COLLATE "C" NOT NULL,
    parent          text COLLATE "C" NOT NULL DEFAULT '',
    base_seq        bigint NOT NULL DEFAULT 0 CHECK (base_seq >= 0),
    base_hash       text   NOT NULL DEFAULT '',
    base_verified   boolean NOT NULL DEFAULT true,
    acked           bigint NOT NULL DEFAULT 0 CHECK (acked >= base_seq),
    hash            text   NOT NULL DEFAULT '',
    sale_count      bigint NOT NULL DEFAULT 0,
    sale_total      bigint NOT NULL DEFAULT 0,
    currency        text   NOT NULL DEFAULT '',
    created_unix_ns bigint NOT NULL DEFAULT 0,
    last_unix_ns    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (terminal, epoch)
);

INSERT INTO chains (terminal, epoch, acked, hash, sale_count, sale_total, currency)
    SELECT terminal, '', acked, hash, sale_count, sale_total, currency FROM terminals;

ALTER TABLE terminals ADD COLUMN epoch text COLLATE "C" NOT NULL DEFAULT '';

ALTER TABLE events ADD COLUMN epoch text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (terminal, epoch, seq);
