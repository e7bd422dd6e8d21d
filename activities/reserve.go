package activities

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
)

// ReserveNameInput asks to hold an organization name for a sign-up.
type ReserveNameInput struct {
	SignupID string
	Name     string
	// Save, when set, is the sign-up's next view, written in the
	// reservation's transaction instead of by a SaveSignup of its own.
	Save *SaveSignupInput `json:",omitempty"`
}

// ReserveName holds the name for the sign-up, atomically and without regard
// to case: it fails with organization_name_taken when an organization or
// another sign-up's reservation has it, and then saves nothing. A sign-up
// holds one name at most, so a new name moves its reservation. Reserving the
// name it holds is a no-op (and a save made already is not newer than the
// stored one: run again, nothing changes).
func (a *Activities) ReserveName(ctx context.Context, in ReserveNameInput) error {
	key, err := orgname.Normalize(in.Name)
	if err != nil {
		return permanent(signup.CodeValidationFailed, "organization name "+err.Error(), nil)
	}
	now := a.now()
	taken := permanent(signup.CodeOrganizationNameTaken, "the organization name "+key+" is taken", nil)
	args := []any{key, key, in.SignupID, now, now, key}
	err = a.saveWith(ctx, in.Save, func(tx *gorm.DB) error {
		// A sign-up holds one name at most (signup_id is unique): its other
		// unprovisioned reservation goes first, and comes back with the
		// rollback when the name is taken.
		var res *gorm.DB
		if tx.Name() == "postgres" {
			res = tx.Exec(releaseAndReserveName, append([]any{in.SignupID, key}, args...)...)
		} else {
			if err := tx.Exec(releaseOtherNames, in.SignupID, key).Error; err != nil {
				return err
			}
			res = tx.Exec(reserveName, args...)
		}
		switch {
		case res.Error == nil && res.RowsAffected == 0, store.IsUniqueViolation(res.Error):
			return taken
		default:
			return res.Error
		}
	}, nil, nil)
	var appErr interface{ NonRetryable() bool }
	if err == nil || errors.As(err, &appErr) {
		return err
	}
	return fmt.Errorf("reserve name: %w", err)
}

// reserveName inserts the reservation unless an organization has the name;
// on a reservation of the same name it changes nothing and counts as done
// only when that reservation is this sign-up's (a no-op update), so that 0
// rows means taken. Arguments: key, name, signup id, created, updated, key.
const reserveName = `INSERT INTO name_reservations (name_key, name, signup_id, created_at, updated_at)
SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM organizations WHERE name_key = ?)
` + onNameConflict

const onNameConflict = `ON CONFLICT (name_key) DO UPDATE SET signup_id = excluded.signup_id
WHERE name_reservations.signup_id = excluded.signup_id`

// releaseOtherNames drops the sign-up's unprovisioned reservation of another
// name. Arguments: signup id, key.
const releaseOtherNames = `DELETE FROM name_reservations WHERE signup_id = ? AND organization_id IS NULL AND name_key <> ?`

// releaseAndReserveName is releaseOtherNames then reserveName as one
// PostgreSQL statement: the insert's WHERE reads the delete's count, so the
// delete has run before the insert checks signup_id's uniqueness.
// Arguments: releaseOtherNames's, then reserveName's.
const releaseAndReserveName = `WITH released AS (` + releaseOtherNames + ` RETURNING 1)
INSERT INTO name_reservations (name_key, name, signup_id, created_at, updated_at)
SELECT ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM released) >= 0
AND NOT EXISTS (SELECT 1 FROM organizations WHERE name_key = ?)
` + onNameConflict
