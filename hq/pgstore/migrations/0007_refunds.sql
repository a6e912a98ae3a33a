-- Returns at the till (refund events, hq.SaleFacts.Refund): each chain and each
-- terminal counts its refunds and the money they took off its sales, beside the
-- sales themselves, so the sales report shows sales, returns and net. The
-- accounts need no column: a refund changes cards' spend and points, and adds
-- no sale. Events uploaded before refunds existed were all sales: zero is right.
ALTER TABLE chains ADD COLUMN refund_count bigint NOT NULL DEFAULT 0;
ALTER TABLE chains ADD COLUMN refund_total bigint NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN refund_count bigint NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN refund_total bigint NOT NULL DEFAULT 0;
