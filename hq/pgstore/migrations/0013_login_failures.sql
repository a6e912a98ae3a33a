-- Failed logins by key ("name:…" or "addr:…"): the login limit every replica
-- shares (hq/loginlimit.go). Rows older than the window go with the next failure.
CREATE TABLE login_failures (
    key text NOT NULL,
    at  timestamptz NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);
