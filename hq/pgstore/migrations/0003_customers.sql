-- One account per card across every store (hq.Customers), added up by Append from
-- the sales it stores. Times are nanoseconds since 1970, like events.at_unix_ns, so
-- they come back exactly as the events say; NULL means it never happened.
-- overdrawn is every point ever redeemed beyond the balance (typically by two tills
-- offline at once); what is still owed is -points when points are below zero.
-- change is the card's position in the change feed, NULL until the first
-- transaction that changes the card commits. Positions are unique: each is taken
-- once from change_feed.
CREATE TABLE cards (
    card                    text COLLATE "C" PRIMARY KEY,
    lifetime_spend          bigint NOT NULL DEFAULT 0,
    points                  bigint NOT NULL DEFAULT 0,
    sales                   bigint NOT NULL DEFAULT 0,
    last_sale_unix_ns       bigint,
    overdrawn               bigint NOT NULL DEFAULT 0 CHECK (overdrawn >= 0),
    first_overdraft_unix_ns bigint,
    last_overdraft_unix_ns  bigint,
    change                  bigint
);

-- Changes walks the feed from a terminal's position: cards by change, each probed
-- in seen's primary key. It also keeps the positions unique.
CREATE UNIQUE INDEX cards_change ON cards (change);

-- Overdrafts reads only the few cards ever overdrawn.
CREATE INDEX cards_overdrawn ON cards (card) WHERE overdrawn > 0;

-- The change feed's head: the last position handed out. Its one row is updated as
-- the last statement of every transaction that changes a card, and its row lock is
-- held until that transaction commits, so positions become visible in the order
-- they were handed out (see saveCards in customers.go).
CREATE TABLE change_feed (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    head bigint  NOT NULL CHECK (head >= 0)
);
INSERT INTO change_feed (one, head) VALUES (true, 0);

-- Card holders' personal data, one pos.CardHolder per card as JSON. updated_unix_ns
-- is its Updated, which decides between two versions. Forgetting a holder deletes
-- the row: the data is gone, not flagged.
CREATE TABLE holders (
    card            text COLLATE "C" PRIMARY KEY,
    holder          jsonb  NOT NULL,
    updated_unix_ns bigint NOT NULL
);

-- Cards whose holder asked to be forgotten, and when: a holder Updated at or before
-- then is a stale copy and never stored again. Only the card number stays.
CREATE TABLE forgotten (
    card                text COLLATE "C" PRIMARY KEY,
    forgotten_unix_ns   bigint NOT NULL
);

-- Which terminal has seen which card (sold to it, looked it up, registered its
-- holder): the change feed tells a terminal only about these.
CREATE TABLE seen (
    terminal text COLLATE "C" NOT NULL,
    card     text COLLATE "C" NOT NULL,
    PRIMARY KEY (terminal, card)
);
