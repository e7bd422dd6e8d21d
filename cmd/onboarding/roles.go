package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/temporalconn"
)

func apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against Temporal (TEMPORAL_*) and DATABASE_URL",
		Long: `api serves the HTTP API, the pages and the codec server. Run as many as you
like behind a load balancer: they share the database (codec logins, the signal
outbox) and, with RATE_LIMIT_STORE=postgres or redis://…, the rate limits.

On SIGTERM /readyz answers 503 for SHUTDOWN_DELAY (default 5s) while requests
are still served, then the listener closes and requests in flight get
SHUTDOWN_TIMEOUT (default 30s); then the outbox relay stops and the process exits.

` + temporalconn.Help,
		Args: cobra.NoArgs,
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
			if err := rt.OpenRateLimits(ctx, db); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			if cfg.MetricsAddr != "" {
				if _, err := rt.ServeMetrics(ctx, cfg.MetricsAddr); err != nil {
					return err
				}
			}
			log.Info("api listening", "addr", ln.Addr().String(), "temporal", rt.Temporal.Describe())
			apiSrv := rt.API(db, c, nil)
			// The relay outlives the signal: it stops after the last request.
			relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
			relayDone := make(chan struct{})
			go func() { defer close(relayDone); apiSrv.RunOutbox(relayCtx) }()
			err = app.ServeGraceful(ctx, ln, apiSrv.Handler(), log, app.Shutdown{
				Stopping: apiSrv.Stopping, Delay: cfg.ShutdownDelay, Timeout: cfg.ShutdownTimeout})
			stopRelay()
			<-relayDone
			log.Info("api stopped")
			return err
		},
	}
}

func workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker for the sign-up workflows and activities",
		Long: `worker runs the sign-up workflows and activities on TEMPORAL_TASK_QUEUE. Run as
many as you like. METRICS_ADDR (default :9090) serves /metrics, /healthz and
/readyz (200 while the worker runs and the database and Temporal answer).

On SIGTERM /readyz turns 503, the worker stops polling and lets running
activities finish for up to WORKER_STOP_TIMEOUT (default 30s), then exits.

The worker needs: DATABASE_URL, PAYLOAD_ENCRYPTION_KEYS (the api's keys),
SMTP_* and MAIL_FROM, PUBLIC_BASE_URL, NTS_* and the Temporal connection:

` + temporalconn.Help,
		Args: cobra.NoArgs,
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
			ln, err := net.Listen("tcp", cfg.MetricsAddr)
			if err != nil {
				return fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
			}
			w, err := rt.StartWorker(c, db)
			if err != nil {
				_ = ln.Close()
				return err
			}
			log.Info("worker running", "task_queue", cfg.TemporalTaskQueue, "temporal", rt.Temporal.Describe(), "metrics", ln.Addr().String())
			var stopping atomic.Bool
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", rt.Metrics.Handler())
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
			mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
				if stopping.Load() {
					http.Error(w, "stopping", http.StatusServiceUnavailable)
					return
				}
				rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				if err := db.Ping(rctx); err != nil {
					http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
				if _, err := c.CheckHealth(rctx, &client.CheckHealthRequest{}); err != nil {
					http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte("ready\n"))
			})
			// The listener outlives the signal, so that readiness is seen
			// turning 503 while the worker drains.
			srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
			served := make(chan error, 1)
			go func() { served <- app.Serve(srvCtx, ln, mux, log) }()
			select {
			case <-ctx.Done():
			case err := <-served:
				w.Stop()
				stopSrv()
				return err
			}
			stopping.Store(true)
			start := time.Now()
			log.Info("stopping: not ready; no new tasks; running activities get WORKER_STOP_TIMEOUT", "timeout", cfg.WorkerStopTimeout.String())
			w.Stop()
			log.Info("worker stopped", "took", time.Since(start).Round(time.Millisecond).String())
			stopSrv()
			return <-served
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
	cmd.AddCommand(migrateCertificatesCmd())
	return cmd
}

func migrateCertificatesCmd() *cobra.Command {
	var (
		batch  int
		status bool
	)
	cmd := &cobra.Command{
		Use:   "certificates",
		Short: "Move certificates from the database into CERTIFICATE_STORE, sealed; re-seal those under an older key",
		Long: `certificates copies every certificate still held in the database (from before the
certificate store) into CERTIFICATE_STORE, sealed with the active key of
PAYLOAD_ENCRYPTION_KEYS, reads it back and checks its SHA-256, then clears it from
the database. It also re-seals every object sealed under a key other than the
active one: run it after putting a new key first in PAYLOAD_ENCRYPTION_KEYS, and
drop the old key once it reports no object under it. It can be run any number of
times, and again after an interruption.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			// The keyring as ops reads it: PAYLOAD_ENCRYPTION_KEYS, else dev's
			// key file; never a new key.
			rt, err := app.New(ctx, cfg, config.ModeOps)
			if err != nil {
				return err
			}
			defer rt.Close()
			db, err := rt.OpenDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			certs := rt.Certs
			if !status {
				res, err := certs.Migrate(ctx, batch, func(r certstore.MigrateResult) {
					fmt.Printf("  moved %d, re-sealed %d\n", r.Moved, r.Resealed)
				})
				if err != nil {
					return err
				}
				fmt.Printf("moved %d certificate(s) from the database into the store; re-sealed %d under key %s\n",
					res.Moved, res.Resealed, rt.Keyring.ActiveKeyID())
			}
			st, err := certs.Stats(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("in the database: %d\n", st.InDatabase)
			for _, id := range slices.Sorted(maps.Keys(st.ByKey)) {
				fmt.Printf("sealed under key %s: %d\n", id, st.ByKey[id])
			}
			if st.Unsettled > 0 {
				fmt.Printf("being uploaded or deleted: %d\n", st.Unsettled)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&batch, "batch", 100, "certificates per database query")
	cmd.Flags().BoolVar(&status, "status", false, "only count where the certificates are")
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
