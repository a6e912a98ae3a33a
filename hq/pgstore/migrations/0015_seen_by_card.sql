-- Which parked terminals a change concerns (Watching): the changed cards, few,
-- each looked up here for the terminals that have seen it. Without it, seen was
-- probed once per parked terminal and changed card, or read whole.
CREATE INDEX IF NOT EXISTS seen_card ON seen (card, terminal);
