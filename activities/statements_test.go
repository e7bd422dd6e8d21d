package activities_test

import (
	"context"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/activities"
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
		}, 9},
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
