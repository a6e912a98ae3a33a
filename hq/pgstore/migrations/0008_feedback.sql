-- NPS answers (feedback events, hq.Feedback): one row per event, written in
-- the transaction that stores the event, so an answer uploaded twice is kept
-- once. Kept per store, terminal, card and day (the till's day).
CREATE TABLE feedback (
    terminal   text     NOT NULL,
    epoch      text     NOT NULL,
    seq        bigint   NOT NULL,
    store      text     NOT NULL,
    region     text     NOT NULL,
    card       text     NOT NULL,
    day        date     NOT NULL,
    sale_id    text     NOT NULL,
    score      smallint NOT NULL CHECK (score BETWEEN 0 AND 10),
    asked      boolean  NOT NULL,
    comment    text     NOT NULL,
    at_unix_ns bigint   NOT NULL,
    PRIMARY KEY (terminal, epoch, seq)
);
CREATE INDEX feedback_store_day ON feedback (store, day);
CREATE INDEX feedback_card_day ON feedback (card, day) WHERE card <> '';
