-- +goose Up
-- Unsubmitted sign-ups per business number (MAX_OPEN_SIGNUPS_PER_BUSINESS):
-- a sign-up holds one numbered slot of the business number it verified, from
-- Verify until it is submitted, abandoned or cancelled. The primary key keeps
-- the bound exact however many Verifies race; the unique key gives a sign-up
-- one slot per number.
CREATE TABLE business_number_slots (
    business_number TEXT NOT NULL,
    slot            INTEGER NOT NULL,
    signup_id       TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (business_number, slot),
    UNIQUE (signup_id, business_number)
);

-- +goose Down
DROP TABLE business_number_slots;
