// Package storetest gives tests a fresh, migrated application database: a
// private schema of the PostgreSQL at TEST_DATABASE_URL, or, when that is
// unset, a SQLite file in the test's temporary directory.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kcloud/onboarding/internal/store"
)

var once sync.Once

// URL returns a DATABASE_URL for a new empty database and a function that
// drops it.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	once.Do(func() {
		if base == "" {
			fmt.Fprintln(os.Stderr, "storetest: TEST_DATABASE_URL is unset: database tests run on SQLite")
		} else {
			fmt.Fprintln(os.Stderr, "storetest: database tests run on PostgreSQL (TEST_DATABASE_URL)")
		}
	})
	if base == "" {
		return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	admin, err := store.Open(context.Background(), base, nil)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated database that lives as long as the test.
func Open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return db
}
