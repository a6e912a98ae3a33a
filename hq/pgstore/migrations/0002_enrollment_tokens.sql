-- One-time enrollment tokens, kept only as the SHA-256 of their secret. used_at
-- is set once, by the enrollment that spends the token.
CREATE TABLE enrollment_tokens (
    hash     text PRIMARY KEY,
    terminal text NOT NULL,
    store    text NOT NULL,
    expires  timestamptz NOT NULL,
    used_at  timestamptz
);
