package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/store"
)

// Migrate applies the migrations to cfg's database (unless statusOnly) and
// writes to w how many it applied and every migration with its state:
// `onboarding migrate`.
func Migrate(ctx context.Context, cfg config.Config, w io.Writer, statusOnly bool) error {
	db, err := store.Open(ctx, cfg.DatabaseURL, Logger(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	if !statusOnly {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "applied %d migration(s) to %s\n", len(applied), store.Redact(cfg.DatabaseURL))
	}
	lines, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// MigrateCertificates moves the certificates still in the database into
// the certificate store and re-seals those under an older key, batch at a
// time (unless statusOnly), then writes to w where the certificates are:
// `onboarding migrate certificates`. The keyring is read as ops reads it
// (PAYLOAD_ENCRYPTION_KEYS, else dev's key file; never a new key).
func MigrateCertificates(ctx context.Context, cfg config.Config, w io.Writer, batch int, statusOnly bool) error {
	rt, err := New(ctx, cfg, config.ModeOps)
	if err != nil {
		return err
	}
	defer rt.Close()
	db, err := rt.OpenDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if !statusOnly {
		res, err := rt.Certs.Migrate(ctx, batch, func(r certstore.MigrateResult) {
			fmt.Fprintf(w, "  moved %d, re-sealed %d\n", r.Moved, r.Resealed)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "moved %d certificate(s) from the database into the store; re-sealed %d under key %s\n",
			res.Moved, res.Resealed, rt.Keyring.ActiveKeyID())
	}
	st, err := rt.Certs.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "in the database: %d\n", st.InDatabase)
	for _, id := range slices.Sorted(maps.Keys(st.ByKey)) {
		fmt.Fprintf(w, "sealed under key %s: %d\n", id, st.ByKey[id])
	}
	if st.Unsettled > 0 {
		fmt.Fprintf(w, "being uploaded or deleted: %d\n", st.Unsettled)
	}
	return nil
}
