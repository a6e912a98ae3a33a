-- The fleet view's health of each terminal (hq.Contact, wire.Health): its
-- store (from its certificate), its card readers, its clock when it polled
-- (the skew is clock - at), and its certificate's expiry as HQ saw it (cert)
-- and as the till said (till_cert). A till of an older version sends none:
-- the defaults say so.
ALTER TABLE terminal_contacts
    ADD COLUMN IF NOT EXISTS store        text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS readers      integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS readers_up   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS reader_error text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS clock        timestamptz,
    ADD COLUMN IF NOT EXISTS cert         timestamptz,
    ADD COLUMN IF NOT EXISTS till_cert    timestamptz;
