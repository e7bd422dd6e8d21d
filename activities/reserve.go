package activities

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

// ReserveNameInput asks to hold an organization name for a sign-up.
type ReserveNameInput struct {
	SignupID string
	Name     string
}

// ReserveName holds the name for the sign-up, atomically and without regard
// to case: it fails with organization_name_taken when an organization or
// another sign-up's reservation has it. A sign-up holds one name at most, so
// a new name moves its reservation. Reserving the name it holds is a no-op.
func (a *Activities) ReserveName(ctx context.Context, in ReserveNameInput) error {
	key, err := orgname.Normalize(in.Name)
	if err != nil {
		return permanent(signup.CodeValidationFailed, "organization name "+err.Error(), nil)
	}
	now := a.now()
	taken := permanent(signup.CodeOrganizationNameTaken, "the organization name "+key+" is taken", nil)
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var held models.NameReservation
		err := tx.Where("name_key = ?", key).Take(&held).Error
		switch {
		case err == nil && held.SignupID == in.SignupID:
			return nil
		case err == nil:
			return taken
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		var orgs int64
		if err := tx.Model(&models.Organization{}).Where("name_key = ?", key).Count(&orgs).Error; err != nil {
			return err
		}
		if orgs > 0 {
			return taken
		}
		if err := tx.Where("signup_id = ? AND organization_id IS NULL", in.SignupID).Delete(&models.NameReservation{}).Error; err != nil {
			return err
		}
		return tx.Create(&models.NameReservation{NameKey: key, Name: key, SignupID: in.SignupID, CreatedAt: now, UpdatedAt: now}).Error
	})
	switch {
	case err == nil:
		return nil
	case store.IsUniqueViolation(err):
		// Another sign-up reserved it between our check and insert.
		return taken
	default:
		var appErr interface{ NonRetryable() bool }
		if errors.As(err, &appErr) {
			return err
		}
		return fmt.Errorf("reserve name: %w", err)
	}
}
