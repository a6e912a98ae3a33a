-- Points expiry (pos.Account.Lots): each card keeps its points by when they
-- were earned and when they expire, as the tills do, so that HQ's balance
-- drops on the day a lot expires and the accounts it sends the tills carry
-- the lots. A JSON array of {points, earned, expires}; NULL: the card's
-- points are one lot that never expires, as every card's were before.
ALTER TABLE cards ADD COLUMN lots jsonb;

-- HQ's audit of refunds (hq.AuditRefund): per chain, the refund events
-- audited and how many of them were flagged, apart from the sales; their
-- flags share audit_flags with the sales'. Chains audited before counted no
-- refunds: zero is right, and the refunds they skipped stay unaudited.
ALTER TABLE audit_chains ADD COLUMN refunds bigint NOT NULL DEFAULT 0;
ALTER TABLE audit_chains ADD COLUMN refunds_flagged bigint NOT NULL DEFAULT 0;

-- Returns of each sale across terminals (hq.Returns): the units of each line
-- of a sale (its terminal and seq) that the refunds a terminal uploaded
-- returned. A till taking back another store's sale asks HQ what the others
-- took back. Rows are the returning terminal's own: uploads of different
-- terminals never lock the same row. Refunds stored before this table
-- existed are not counted.
CREATE TABLE sale_returns (
    sale_terminal text COLLATE "C" NOT NULL,
    sale_seq      bigint NOT NULL,
    terminal      text COLLATE "C" NOT NULL,
    line          integer NOT NULL CHECK (line >= 1),
    qty           bigint NOT NULL CHECK (qty > 0),
    PRIMARY KEY (sale_terminal, sale_seq, terminal, line)
);
