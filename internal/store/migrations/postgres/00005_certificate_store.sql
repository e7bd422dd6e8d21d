-- +goose Up
-- Certificates move to the sealed object store: the table keeps metadata,
-- the object's name and the key it is sealed under. data stays (nullable)
-- for rows from before, until `onboarding migrate certificates` moves them.
ALTER TABLE certificates ALTER COLUMN data DROP NOT NULL;
ALTER TABLE certificates ADD COLUMN object_key TEXT;
ALTER TABLE certificates ADD COLUMN key_id TEXT;
ALTER TABLE certificates ADD COLUMN state TEXT NOT NULL DEFAULT 'stored';
-- The sweep finds unfinished uploads and retired rows; migrate certificates
-- finds the rows still holding bytes and those sealed under an older key.
CREATE INDEX certificates_unsettled_idx ON certificates (state, created_at) WHERE state IN ('uploading', 'deleting');
CREATE INDEX certificates_in_database_idx ON certificates (id) WHERE data IS NOT NULL;
CREATE INDEX certificates_key_idx ON certificates (key_id);

-- Retention: when a sign-up's personal data was erased; the purge finds
-- ended sign-ups not yet erased by the time they ended.
ALTER TABLE signups ADD COLUMN erased_at TIMESTAMPTZ;
CREATE INDEX signups_purge_idx ON signups (updated_at) WHERE erased_at IS NULL AND status IN ('abandoned', 'cancelled');

-- +goose Down
DROP INDEX signups_purge_idx;
ALTER TABLE signups DROP COLUMN erased_at;
DROP INDEX certificates_key_idx;
DROP INDEX certificates_in_database_idx;
DROP INDEX certificates_unsettled_idx;
-- Fails while a certificate lives only in the store (data IS NULL): move
-- those back first; nothing is dropped silently.
ALTER TABLE certificates DROP COLUMN state;
ALTER TABLE certificates DROP COLUMN key_id;
ALTER TABLE certificates DROP COLUMN object_key;
ALTER TABLE certificates ALTER COLUMN data SET NOT NULL;
