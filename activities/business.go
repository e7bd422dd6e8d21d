package activities

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// claimBusinessNumber takes for the sign-up one of the maxOpenPerBusiness
// slots of a business number (written 123-45-67890), or finds the one it
// holds already. It reports whether the slot is new, so that a verification
// that fails can give it back. All slots taken: too_many_open_signups.
//
// It tries the slots without first asking whether the sign-up holds one:
// the UNIQUE (signup_id, business_number) makes an insert for a sign-up
// that holds a slot of the number conflict like a taken slot does, and
// every conflict is followed by that question. A first claim is one
// statement; a sign-up that holds a slot already finds it in two.
func (a *Activities) claimBusinessNumber(ctx context.Context, signupID, number string) (bool, error) {
	db := a.db.WithContext(ctx)
	held := func() (bool, error) {
		var n int64
		err := db.Model(&models.BusinessNumberSlot{}).Where("signup_id = ? AND business_number = ?", signupID, number).Count(&n).Error
		return n > 0, err
	}
	for slot := 0; slot < a.maxOpenPerBusiness; slot++ {
		res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.BusinessNumberSlot{
			BusinessNumber: number, Slot: slot, SignupID: signupID, CreatedAt: a.now(),
		})
		if res.Error != nil {
			return false, wrapClaim(res.Error)
		}
		if res.RowsAffected == 1 {
			return true, nil
		}
		// Taken, by another sign-up or (a retried attempt) by this one.
		if ok, err := held(); err != nil || ok {
			return false, wrapClaim(err)
		}
	}
	return false, permanent(signup.CodeTooManyOpenSignups,
		"this business number has "+strconv.Itoa(a.maxOpenPerBusiness)+" sign-ups in progress already; finish one of them, or wait until an unfinished one is abandoned", nil)
}

func wrapClaim(err error) error {
	if err != nil {
		return fmt.Errorf("verify: business number slot: %w", err)
	}
	return nil
}

// releaseBusinessNumbers gives back the sign-up's slots: it has been
// submitted, abandoned or cancelled.
func releaseBusinessNumbers(tx *gorm.DB, signupID string) error {
	if err := releaseSlots(signupID).Exec(tx); err != nil {
		return fmt.Errorf("business number slots: %w", err)
	}
	return nil
}

// releaseSlots is releaseBusinessNumbers as a statement to go with a save.
func releaseSlots(signupID string) *signup.Also {
	return &signup.Also{SQL: "DELETE FROM business_number_slots WHERE signup_id = ?", Args: []any{signupID}}
}

// releaseOtherSlots gives back the sign-up's slots of numbers other than
// number (verified now).
func releaseOtherSlots(signupID, number string) *signup.Also {
	return &signup.Also{SQL: "DELETE FROM business_number_slots WHERE signup_id = ? AND business_number <> ?", Args: []any{signupID, number}}
}

// releaseSlot gives back the sign-up's slot of number (not verified).
func releaseSlot(signupID, number string) *signup.Also {
	return &signup.Also{SQL: "DELETE FROM business_number_slots WHERE signup_id = ? AND business_number = ?", Args: []any{signupID, number}}
}
