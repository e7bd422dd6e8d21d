-- +goose Up
-- Signals owed to sign-up workflows (password set), written in the same
-- transaction as the change they report, and delivered until Temporal takes
-- them: a Temporal outage cannot lose one.
CREATE TABLE signal_outbox (
    id              TEXT PRIMARY KEY,
    signup_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    via             TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX signal_outbox_next_idx ON signal_outbox (next_attempt_at);

-- +goose Down
DROP TABLE signal_outbox;
