-- +goose Up
-- Certificates move to the sealed object store: the table keeps metadata,
-- the object's name and the key it is sealed under. data stays (nullable)
-- for rows from before, until `onboarding migrate certificates` moves them.
-- SQLite cannot drop a NOT NULL: the table is rebuilt.
CREATE TABLE certificates_new (
    id           TEXT PRIMARY KEY,
    signup_id    TEXT NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB,
    created_at   DATETIME NOT NULL,
    object_key   TEXT,
    key_id       TEXT,
    state        TEXT NOT NULL DEFAULT 'stored'
);
INSERT INTO certificates_new (id, signup_id, filename, content_type, size, sha256, data, created_at)
    SELECT id, signup_id, filename, content_type, size, sha256, data, created_at FROM certificates;
DROP TABLE certificates;
ALTER TABLE certificates_new RENAME TO certificates;
CREATE INDEX certificates_signup_idx ON certificates (signup_id);
-- The sweep finds unfinished uploads and retired rows; migrate certificates
-- finds the rows still holding bytes and those sealed under an older key.
CREATE INDEX certificates_unsettled_idx ON certificates (state, created_at) WHERE state IN ('uploading', 'deleting');
CREATE INDEX certificates_in_database_idx ON certificates (id) WHERE data IS NOT NULL;
CREATE INDEX certificates_key_idx ON certificates (key_id);

-- Retention: when a sign-up's personal data was erased; the purge finds
-- ended sign-ups not yet erased by the time they ended.
ALTER TABLE signups ADD COLUMN erased_at DATETIME;
CREATE INDEX signups_purge_idx ON signups (updated_at) WHERE erased_at IS NULL AND status IN ('abandoned', 'cancelled');

-- +goose Down
DROP INDEX signups_purge_idx;
ALTER TABLE signups DROP COLUMN erased_at;
-- Fails while a certificate lives only in the store (data IS NULL): move
-- those back first; nothing is dropped silently.
CREATE TABLE certificates_old (
    id           TEXT PRIMARY KEY,
    signup_id    TEXT NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   DATETIME NOT NULL
);
INSERT INTO certificates_old SELECT id, signup_id, filename, content_type, size, sha256, data, created_at FROM certificates;
DROP TABLE certificates;
ALTER TABLE certificates_old RENAME TO certificates;
CREATE INDEX certificates_signup_idx ON certificates (signup_id);
