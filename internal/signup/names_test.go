package signup_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
)

// CheckName answers taken when an organization has the name (whether or
// not its reservation is still there), reserved when only a sign-up holds
// it, invalid when it does not normalize, and otherwise available; it asks
// the database once.
func TestCheckName(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	now := time.Now().UTC()
	orgKey, orgID := "org-co", "org-1"
	for _, row := range []any{
		&models.Organization{ID: orgID, SignupID: "s-org", Name: "Org-Co", NameKey: &orgKey, Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now},
		&models.NameReservation{NameKey: "org-co", Name: "Org-Co", SignupID: "s-org", OrganizationID: &orgID, CreatedAt: now, UpdatedAt: now},
		&models.NameReservation{NameKey: "held-co", Name: "Held-Co", SignupID: "s-held", CreatedAt: now, UpdatedAt: now},
	} {
		if err := db.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	orphanKey := "orphan-co"
	if err := db.Create(&models.Organization{ID: "org-2", SignupID: "s-orphan", Name: "Orphan-Co", NameKey: &orphanKey,
		Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	if err := metrics.OnStatement(db.DB, "test", func(*gorm.DB) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, reason string
		queries      int64
	}{
		{"ORG-CO", "taken", 1},
		{"orphan-co", "taken", 1},
		{"Held-Co", "reserved", 1},
		{"free-co", "", 1},
		{"", "invalid", 0},
	}
	for _, c := range cases {
		before := n.Load()
		got, err := signup.CheckName(ctx, db.DB, c.name)
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		ran := n.Load() - before
		t.Logf("%q: %d statements", c.name, ran)
		reason := ""
		if got.Reason != nil {
			reason = *got.Reason
		}
		if reason != c.reason || got.Available != (c.reason == "") {
			t.Errorf("%q: available %v, reason %q; want reason %q", c.name, got.Available, reason, c.reason)
		}
		if ran != c.queries {
			t.Errorf("%q: %d statements, want %d", c.name, ran, c.queries)
		}
	}
}
