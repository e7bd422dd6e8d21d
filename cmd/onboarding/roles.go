package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/store"
)

func apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rt, err := roleRuntime(ctx, config.ModeAPI)
			if err != nil {
				return err
			}
			defer rt.Close()
			cfg, log := rt.Cfg, rt.Log
			db, c, closeAll, err := rt.Connect(ctx, time.Minute)
			if err != nil {
				return err
			}
			defer closeAll()
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			if cfg.MetricsAddr != "" {
				if _, err := rt.ServeMetrics(ctx, cfg.MetricsAddr); err != nil {
					return err
				}
			}
			log.Info("api listening", "addr", ln.Addr().String(), "temporal", cfg.TemporalAddress)
			apiSrv := rt.API(db, c, nil)
			go apiSrv.RunOutbox(ctx)
			return app.Serve(ctx, ln, apiSrv.Handler(), log)
		},
	}
}

func workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker for the sign-up workflows and activities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rt, err := roleRuntime(ctx, config.ModeWorker)
			if err != nil {
				return err
			}
			defer rt.Close()
			cfg, log := rt.Cfg, rt.Log
			db, c, closeAll, err := rt.Connect(ctx, time.Minute)
			if err != nil {
				return err
			}
			defer closeAll()
			w, err := rt.StartWorker(c, db)
			if err != nil {
				return err
			}
			defer w.Stop()
			log.Info("worker running", "task_queue", cfg.TemporalTaskQueue, "temporal", cfg.TemporalAddress, "metrics", cfg.MetricsAddr)
			ln, err := net.Listen("tcp", cfg.MetricsAddr)
			if err != nil {
				return fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
			}
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", rt.Metrics.Handler())
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
			return app.Serve(ctx, ln, mux, log)
		},
	}
}

// roleRuntime loads the configuration of a production role and builds its
// runtime.
func roleRuntime(ctx context.Context, mode config.Mode) (*app.Runtime, error) {
	cfg, err := config.Load(mode)
	if err != nil {
		return nil, err
	}
	return app.New(ctx, cfg, mode)
}

func keygenCmd() *cobra.Command {
	var (
		id    string
		token bool
	)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Print a new payload encryption key for PAYLOAD_ENCRYPTION_KEYS (id:base64), or with --token an operator token",
		Long: `keygen prints a random AES-256 key as id:base64. To rotate, put the new key first
in PAYLOAD_ENCRYPTION_KEYS and keep the old ones after it: new payloads use the
first key, old payloads stay readable.

With --token it prints a random operator token (32 bytes, URL-safe base64) for
ADMIN_TOKEN or CODEC_TOKEN: api and worker refuse weaker ones at start.`,
		Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			if token {
				t, _ := secret.NewToken()
				fmt.Println(t)
				return
			}
			if id == "" {
				id = "k" + time.Now().UTC().Format("20060102")
			}
			fmt.Println(codec.NewKeySpec(id))
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "key id (default k<date>)")
	cmd.Flags().BoolVar(&token, "token", false, "print an operator token (ADMIN_TOKEN, CODEC_TOKEN) instead")
	return cmd
}

func migrateCmd() *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the versioned SQL migrations to DATABASE_URL (dev: the SQLite file in DATA_DIR)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			db, err := store.Open(ctx, cfg.DatabaseURL, app.Logger(cfg))
			if err != nil {
				return err
			}
			defer db.Close()
			if !status {
				applied, err := db.Migrate(ctx)
				if err != nil {
					return err
				}
				fmt.Printf("applied %d migration(s) to %s\n", len(applied), redact(cfg.DatabaseURL))
			}
			lines, err := db.MigrationStatus(ctx)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Println(l)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "only list the migrations and whether each is applied")
	return cmd
}

// redact hides a database URL's password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
