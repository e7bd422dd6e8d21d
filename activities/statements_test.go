package activities_test

import (
	"context"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// statements counts the statements GORM runs on db from now on, as the
// service's onboarding_db_statements_total does.
func statements(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("test:count_create", count),
		cb.Query().After("gorm:query").Register("test:count_query", count),
		cb.Update().After("gorm:update").Register("test:count_update", count),
		cb.Delete().After("gorm:delete").Register("test:count_delete", count),
		cb.Row().After("gorm:row").Register("test:count_row", count),
		cb.Raw().After("gorm:raw").Register("test:count_raw", count),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &n
}

// The statements each call runs, as the bench counts them per sign-up; the
// figures are upper bounds, so that a change that adds a round trip fails.
func TestStatementsPerCall(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	n := statements(t, f.db.DB)
	postgres := f.db.Name() == "postgres"
	either := func(pg, lite int64) int64 {
		if postgres {
			return pg
		}
		return lite
	}
	calls := []struct {
		name string
		call func() error
		max  int64
	}{
		{"ReserveName, first name", func() error {
			return f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "s", Name: "stmt-co"})
		}, either(1, 2)},
		{"ReserveName, same name again", func() error {
			return f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "s", Name: "stmt-co"})
		}, either(1, 2)},
		{"ReserveName, taken", func() error {
			if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "t", Name: "stmt-co"}); err == nil {
				t.Error("taken name reserved")
			}
			return nil
		}, either(1, 2)},
		{"ProvisionOwner", func() error {
			_, err := f.acts.ProvisionOwner(ctx, provisionInput("s", "stmt-co"))
			return err
		}, 6},
	}
	for _, c := range calls {
		before := n.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := n.Load() - before
		t.Logf("%s: %d statements", c.name, got)
		if got > c.max {
			t.Errorf("%s: %d statements, want ≤ %d", c.name, got, c.max)
		}
	}
}

// ProvisionOwner needs the sign-up's reservation of the name: without it
// nothing is created; run again it returns what the first run made.
func TestProvisionOwnerReservation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	for _, r := range []activities.ReserveNameInput{{SignupID: "other-name", Name: "held-co"}, {SignupID: "taken", Name: "prov-co"}} {
		if err := f.acts.ReserveName(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		signup, name, wantErr string
	}{
		{"none", "none-co", signup.CodeReservationMissing},
		{"other-name", "else-co", signup.CodeReservationMissing},
		{"other-name", "prov-co", signup.CodeOrganizationNameTaken},
		{"other-name", "held-co", ""},
	}
	for _, c := range cases {
		_, err := f.acts.ProvisionOwner(ctx, provisionInput(c.signup, c.name))
		if errType(err) != c.wantErr || (c.wantErr == "" && err != nil) {
			t.Errorf("%s provisions %s: %v, want %q", c.signup, c.name, err, c.wantErr)
		}
		want := int64(0)
		if c.wantErr == "" {
			want = 1
		}
		if got := f.count(t, &models.Organization{}, "signup_id = ?", c.signup); got != want {
			t.Errorf("%s provisions %s: %d organizations, want %d", c.signup, c.name, got, want)
		}
		if got := f.count(t, &models.User{}, "organization_id IN (SELECT id FROM organizations WHERE signup_id = ?)", c.signup); got != want {
			t.Errorf("%s provisions %s: %d owners, want %d", c.signup, c.name, got, want)
		}
	}
	n := statements(t, f.db.DB)
	first, _ := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co"))
	again, err := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co"))
	if err != nil || again != first || first.UserID == "" {
		t.Errorf("run again: %+v, %v; first %+v", again, err, first)
	}
	if got := n.Load(); got != 6 {
		t.Errorf("two runs after the first: %d statements, want 6 (insert nothing, read organization and owner, twice)", got)
	}
}
