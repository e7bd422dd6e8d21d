package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/workflows"
)

func devCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal server and UI, SMTP capture, worker and API",
		Long: `dev runs an embedded Temporal server (state in DATA_DIR/temporal.db), its Web UI,
an SMTP capture server (mail kept in DATA_DIR/mailbox.jsonl, shown at /dev/mailbox),
the application database (SQLite in DATA_DIR unless DATABASE_URL says otherwise),
the worker and the API. Stop it with Ctrl-C; start it again on the same DATA_DIR
and every sign-up and timer carries on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
				return err
			}
			rt, err := app.New(ctx, cfg, config.ModeDev)
			if err != nil {
				return err
			}
			defer rt.Close()
			log := rt.Log
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			defer ln.Close()

			temporal, err := devserver.Start(ctx, devserver.Options{
				DataDir:          filepath.Join(cfg.DataDir, "temporal"),
				FrontendAddr:     cfg.TemporalAddress,
				UIAddr:           cfg.TemporalUIAddr,
				UICodecEndpoint:  codecEndpoint(cfg, ln),
				Namespace:        cfg.TemporalNamespace,
				SearchAttributes: workflows.SearchAttributeNames,
				Log:              log,
			})
			if err != nil {
				return err
			}
			defer temporal.Stop()
			cfg.TemporalAddress = temporal.FrontendAddr()
			rt.Cfg.TemporalAddress = cfg.TemporalAddress

			var box *mailbox.Store
			if cfg.DevCapture {
				box, err = mailbox.Open(filepath.Join(cfg.DataDir, "mailbox.jsonl"))
				if err != nil {
					return err
				}
				smtpSrv, err := mailbox.Listen(cfg.DevSMTPAddr, box, log)
				if err != nil {
					return fmt.Errorf("%w (set DEV_SMTP_ADDR)", err)
				}
				defer smtpSrv.Close()
			}

			db, c, closeAll, err := rt.Connect(ctx, 30*time.Second)
			if err != nil {
				return err
			}
			defer closeAll()
			w, err := rt.StartWorker(c, db)
			if err != nil {
				return err
			}
			defer w.Stop()

			apiURL := app.URL(ln.Addr().String())
			fmt.Fprintf(os.Stderr, "\nonboarding dev is up in %s\n", time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(os.Stderr, "  API and pages   %s  (health: %s/readyz)\n", apiURL, apiURL)
			fmt.Fprintf(os.Stderr, "  Temporal UI     %s\n", temporal.UIURL())
			if cfg.CodecToken != "" {
				fmt.Fprintf(os.Stderr, "  Decode in UI    %s/codec/login  (operator token: CODEC_TOKEN)\n", codecBase(ln))
			} else {
				fmt.Fprintf(os.Stderr, "  Payloads        encrypted; set CODEC_TOKEN to decode them in the UI\n")
			}
			fmt.Fprintf(os.Stderr, "  Temporal gRPC   %s  (namespace %s, task queue %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace, cfg.TemporalTaskQueue)
			if box != nil {
				fmt.Fprintf(os.Stderr, "  Mailbox         %s/dev/mailbox/view  (SMTP %s)\n", apiURL, cfg.DevSMTPAddr)
			} else {
				fmt.Fprintf(os.Stderr, "  Mail            sent to %s:%d\n", cfg.SMTPHost, cfg.SMTPPort)
			}
			fmt.Fprintf(os.Stderr, "  Database        %s\n", redact(cfg.DatabaseURL))
			fmt.Fprintf(os.Stderr, "  Certificates    %s  (sealed; purge every %s, kept %s after a sign-up ends)\n", storeURL(cfg.CertificateStore), cfg.PIIPurgeEvery, cfg.PIIRetention)
			fmt.Fprintf(os.Stderr, "  Data            %s\n\n", cfg.DataDir)

			apiSrv := rt.API(db, c, box)
			go apiSrv.RunOutbox(ctx)
			err = app.Serve(ctx, ln, apiSrv.Handler(), log)
			log.Info("shutting down")
			return err
		},
	}
}

// codecBase is the API's address as the embedded UI's browser should call
// it: on the UI's own host, so that the codec login cookie is same-site.
func codecBase(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://127.0.0.1:" + port
}

func codecEndpoint(cfg config.Config, ln net.Listener) string {
	if cfg.CodecToken == "" {
		return ""
	}
	return codecBase(ln) + "/codec"
}

// storeURL shows CERTIFICATE_STORE without its query (which may name
// endpoints and options, never secrets, but is long).
func storeURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
