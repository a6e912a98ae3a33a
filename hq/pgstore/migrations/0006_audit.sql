-- HQ's audit of the synced sales (hq.Audits). audit_chains holds, per chain, the
-- seq the audit has read up to (from the chain's base) and what it counted; an
-- auditor locks a chain's row FOR UPDATE SKIP LOCKED for the length of a batch,
-- so replicas audit different chains and never count an event twice. Ingest
-- never touches these tables. audit_flags holds the flagged sales, one per
-- event (a wire.AuditFlag as JSON).
CREATE TABLE audit_chains (
    terminal        text COLLATE "C" NOT NULL,
    epoch           text COLLATE "C" NOT NULL,
    audited         bigint NOT NULL CHECK (audited >= 0),
    sales           bigint NOT NULL DEFAULT 0,
    unpriceable     bigint NOT NULL DEFAULT 0,
    unpriced_first  bigint NOT NULL DEFAULT 0,
    unpriced_last   bigint NOT NULL DEFAULT 0,
    audited_unix_ns bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (terminal, epoch)
);

CREATE TABLE audit_flags (
    terminal text COLLATE "C" NOT NULL,
    epoch    text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    flag     jsonb  NOT NULL,
    PRIMARY KEY (terminal, epoch, seq)
);
