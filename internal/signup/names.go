package signup

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/orgname"
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
	var holders struct{ Taken, Reserved bool }
	if err := db.WithContext(ctx).Raw(nameHolders, key, key).Scan(&holders).Error; err != nil {
		return NameAvailability{}, fmt.Errorf("check name: %w", err)
	}
	switch {
	case holders.Taken:
		return NameAvailability{Name: key, Reason: reason("taken")}, nil
	case holders.Reserved:
		return NameAvailability{Name: key, Reason: reason("reserved")}, nil
	}
	return NameAvailability{Name: key, Available: true}, nil
}

// nameHolders says, in one query, whether an organization has the name
// and whether a sign-up holds it (an organization's own reservation
// counts as taken: that is asked first). Arguments: key, key.
const nameHolders = `SELECT EXISTS (SELECT 1 FROM organizations WHERE name_key = ?) AS taken,
	EXISTS (SELECT 1 FROM name_reservations WHERE name_key = ?) AS reserved`

func reason(s string) *string { return &s }
