package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
)

// With MIGRATE_ON_START=false a process refuses a schema that is behind it
// (a deployment's migrate job has not run), and starts once it is current.
func TestMigrateOnStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := config.Config{
		PayloadKeys: codec.NewKeySpec("t"), LogLevel: "error", LogFormat: "json",
		DatabaseURL:      "sqlite://" + filepath.Join(dir, "app.db"),
		CertificateStore: "file://" + filepath.Join(dir, "certificates"),
	}
	for _, tt := range []struct {
		name    string
		migrate bool
		wantErr string
	}{
		{"off on an empty database", false, "MIGRATE_ON_START=false"},
		{"on", true, ""},
		{"off once migrated", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.MigrateOnStart = &tt.migrate
			rt, err := New(ctx, cfg, config.ModeDev)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			db, err := rt.OpenDB(ctx)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("OpenDB: %v", err)
				}
				_ = db.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "onboarding migrate") {
				t.Fatalf("OpenDB = %v, want an error naming %s and `onboarding migrate`", err, tt.wantErr)
			}
		})
	}
}
