package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/secret"
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
		RunE: func(cmd *cobra.Command, _ []string) error { return app.Run(cmd.Context(), config.ModeAPI) },
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
		RunE: func(cmd *cobra.Command, _ []string) error { return app.Run(cmd.Context(), config.ModeWorker) },
	}
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
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			return app.Migrate(cmd.Context(), cfg, os.Stdout, status)
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
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			return app.MigrateCertificates(cmd.Context(), cfg, os.Stdout, batch, status)
		},
	}
	cmd.Flags().IntVar(&batch, "batch", 100, "certificates per database query")
	cmd.Flags().BoolVar(&status, "status", false, "only count where the certificates are")
	return cmd
}
