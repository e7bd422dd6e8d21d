-- +goose Up
-- Several api replicas share what one process used to keep to itself.

-- Operators' codec logins (the Temporal UI's decode cookie), by token hash,
-- so that whichever replica the UI's next request reaches knows the login.
CREATE TABLE codec_sessions (
    token_hash TEXT PRIMARY KEY,
    expires_at DATETIME NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX codec_sessions_expires_idx ON codec_sessions (expires_at);

-- A relay claims an owed signal before sending it (claim_token, with
-- next_attempt_at moved to the end of its lease), so that two replicas'
-- relays never send the same row.
ALTER TABLE signal_outbox ADD COLUMN claim_token TEXT;

-- Rate limits counted across replicas (RATE_LIMIT_STORE=postgres): one row
-- per limit and key with its theoretical arrival time in microseconds (GCRA).
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);

-- +goose Down
DROP TABLE rate_limits;
ALTER TABLE signal_outbox DROP COLUMN claim_token;
DROP TABLE codec_sessions;
