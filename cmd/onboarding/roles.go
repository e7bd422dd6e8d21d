package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/store"
)

func apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(config.ModeAPI)
			if err != nil {
				return err
			}
			log := app.Logger(cfg)
			db, err := app.OpenDB(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer db.Close()
			c, err := app.Dial(ctx, cfg, log, time.Minute)
			if err != nil {
				return err
			}
			defer c.Close()
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			log.Info("api listening", "addr", ln.Addr().String(), "temporal", cfg.TemporalAddress)
			return app.Serve(ctx, ln, app.NewAPI(cfg, db, c, nil, log).Handler(), log)
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
			cfg, err := config.Load(config.ModeWorker)
			if err != nil {
				return err
			}
			log := app.Logger(cfg)
			db, err := app.OpenDB(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer db.Close()
			c, err := app.Dial(ctx, cfg, log, time.Minute)
			if err != nil {
				return err
			}
			defer c.Close()
			w := app.NewWorker(c, cfg, app.Activities(cfg, db, log))
			if err := w.Start(); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			log.Info("worker running", "task_queue", cfg.TemporalTaskQueue, "temporal", cfg.TemporalAddress)
			<-ctx.Done()
			w.Stop()
			return nil
		},
	}
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
			log := app.Logger(cfg)
			db, err := store.Open(ctx, cfg.DatabaseURL, log)
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
