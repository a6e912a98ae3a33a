-- Points expiry (pos.Account.Lots): each card keeps its points by when they
-- were earned and when they expire, as the tills do, so that HQ's balance
-- drops on the day a lot expires and the accounts it sends the tills carry
-- the lots. A JSON array of {points, earned, expires}; NULL: the card's
-- points are one lot that never expires, as every card's were before.
ALTER TABLE cards ADD COLUMN lots jsonb;
