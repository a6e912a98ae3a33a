-- Returns taken offline on a receipt's word (pos.Refund.Claim), reconciled
-- against their sale by hq.ReconcileClaims: every one that gave back other
-- than its sale allows, with what it claimed and what HQ applied to the card
-- (wire.ReturnExcess, as JSON), in the order stored.
CREATE TABLE return_excess (
    id            bigserial PRIMARY KEY,
    terminal      text COLLATE "C" NOT NULL,
    seq           bigint NOT NULL,
    sale_terminal text COLLATE "C" NOT NULL,
    sale_seq      bigint NOT NULL,
    report        jsonb NOT NULL
);

-- Returns on a receipt's word whose sale HQ did not hold when it stored them
-- (hq.PendingClaim, as JSON): reconciled when the sale arrives, then deleted.
CREATE TABLE pending_claims (
    sale_terminal text COLLATE "C" NOT NULL,
    sale_seq      bigint NOT NULL,
    terminal      text COLLATE "C" NOT NULL,
    seq           bigint NOT NULL,
    claim         jsonb NOT NULL,
    PRIMARY KEY (sale_terminal, sale_seq, terminal, seq)
);
