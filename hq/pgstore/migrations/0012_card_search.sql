-- The customer page at HQ (hq.Customers.CardEvents, HoldersByPhone).
--
-- card_events indexes the sale and refund events that name a card, so that a
-- card's purchases and returns across every terminal are one index range,
-- newest first. Append adds the rows of the events it stores; the rows of the
-- events stored before are filled here from their bodies.
CREATE TABLE card_events (
    card       text COLLATE "C" NOT NULL,
    at_unix_ns bigint NOT NULL,
    terminal   text COLLATE "C" NOT NULL,
    epoch      text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (card, at_unix_ns, terminal, seq, epoch)
);

INSERT INTO card_events (card, at_unix_ns, terminal, epoch, seq)
    SELECT c.card, e.at_unix_ns, e.terminal, e.epoch, e.seq
    FROM events e, LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb ->> 'card' AS card) c
    WHERE e.type IN ('sale', 'refund') AND coalesce(c.card, '') <> ''
    ON CONFLICT DO NOTHING;

-- A phone search matches the end of the holder's phone digits (hq.PhoneDigits):
-- the digits reversed make it a prefix, and a prefix of digits is the range
-- [prefix, prefix || ':') in byte order (':' follows '9'), which a plain
-- index answers with the query's parameters, planned once or each time.
-- HoldersByPhone's query repeats this expression exactly.
CREATE INDEX holders_phone_reversed ON holders
    ((reverse(regexp_replace(holder ->> 'phone', '[^0-9]', '', 'g')) COLLATE "C"));
