package signup

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/models"
)

// NameAvailability is the answer of the Check button.
type NameAvailability struct {
	Name      string  `json:"name"`
	Available bool    `json:"available"`
	Reason    *string `json:"reason"` // taken, reserved or invalid
}

// CheckName reports whether a name could be reserved now (the Check
// button): no organization has it and no sign-up holds it. It is a read,
// not a reservation; ReserveName (an activity) reserves.
func CheckName(ctx context.Context, db *gorm.DB, name string) (NameAvailability, error) {
	key, err := orgname.Normalize(name)
	if err != nil {
		return NameAvailability{Name: name, Reason: reason("invalid")}, nil
	}
	var orgs, held int64
	if err := db.WithContext(ctx).Model(&models.Organization{}).Where("name_key = ?", key).Count(&orgs).Error; err != nil {
		return NameAvailability{}, fmt.Errorf("check name: %w", err)
	}
	if orgs > 0 {
		return NameAvailability{Name: key, Reason: reason("taken")}, nil
	}
	if err := db.WithContext(ctx).Model(&models.NameReservation{}).Where("name_key = ?", key).Count(&held).Error; err != nil {
		return NameAvailability{}, fmt.Errorf("check name: %w", err)
	}
	if held > 0 {
		return NameAvailability{Name: key, Reason: reason("reserved")}, nil
	}
	return NameAvailability{Name: key, Available: true}, nil
}

func reason(s string) *string { return &s }
