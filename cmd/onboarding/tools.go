package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/workflows"
)

// temporalCmd runs only the embedded Temporal server: the engine of dev
// mode as its own process, for the api + worker topology on one machine
// (benchmarks, fault tests).
func temporalCmd() *cobra.Command {
	var t devserver.TLS
	cmd := &cobra.Command{
		Use:   "temporal",
		Short: "Run only the embedded Temporal server (and UI) of dev mode, state in DATA_DIR/temporal",
		Long: `temporal runs dev mode's embedded Temporal server (and its UI on TEMPORAL_UI_ADDR)
as a process of its own, on TEMPORAL_ADDRESS, for api + worker set-ups on one
machine. With --tls-cert, --tls-key and --tls-client-ca its frontend speaks TLS
and requires client certificates signed by that CA (as a secured cluster does);
the server's own clients present --tls-internal-cert (default: --tls-cert, which
then needs the clientAuth usage too).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			log := app.Logger(cfg)
			opts := devserver.Options{
				DataDir:          filepath.Join(cfg.DataDir, "temporal"),
				FrontendAddr:     cfg.TemporalAddress,
				UIAddr:           cfg.TemporalUIAddr,
				Namespace:        cfg.TemporalNamespace,
				SearchAttributes: workflows.SearchAttributeNames,
				Log:              log,
			}
			if t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" {
				opts.TLS = &t
			}
			srv, err := devserver.Start(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer srv.Stop()
			mode := "plain gRPC"
			if srv.TLSEnabled() {
				mode = "TLS, client certificates from " + t.ClientCAFile
			}
			fmt.Fprintf(os.Stderr, "temporal ready: gRPC %s (%s), UI %s, data %s\n", srv.FrontendAddr(), mode, srv.UIURL(), cfg.DataDir)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.CertFile, "tls-cert", "", "frontend TLS certificate (PEM)")
	f.StringVar(&t.KeyFile, "tls-key", "", "its private key (PEM)")
	f.StringVar(&t.ClientCAFile, "tls-client-ca", "", "CA whose client certificates the frontend accepts (required with TLS)")
	f.StringVar(&t.InternalCertFile, "tls-internal-cert", "", "client certificate of the server's own clients (default --tls-cert)")
	f.StringVar(&t.InternalKeyFile, "tls-internal-key", "", "its key (default --tls-key)")
	f.StringVar(&t.ServerCAFile, "tls-server-ca", "", "CA that signed --tls-cert, for the server's own clients (default --tls-client-ca)")
	return cmd
}

// mailboxCmd runs only dev mode's SMTP capture server, with its HTTP
// listing, as its own process.
func mailboxCmd() *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "mailbox",
		Short: "Run only the SMTP capture server (DEV_SMTP_ADDR) and GET /dev/mailbox on --http",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.ModeDev)
			if err != nil {
				return err
			}
			log := app.Logger(cfg)
			if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
				return err
			}
			box, err := mailbox.Open(filepath.Join(cfg.DataDir, "mailbox.jsonl"))
			if err != nil {
				return err
			}
			srv, err := mailbox.Listen(cfg.DevSMTPAddr, box, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", httpAddr)
			if err != nil {
				return err
			}
			mux := http.NewServeMux()
			mux.Handle("GET /dev/mailbox", mailbox.Handler(box))
			mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
			// Fault injection for tests on loopback: answer every message
			// with a code (451: try later, 550: refused) until /accept.
			mux.HandleFunc("POST /dev/mailbox/refuse", func(w http.ResponseWriter, r *http.Request) {
				code, err := strconv.Atoi(r.URL.Query().Get("code"))
				if err != nil || code < 400 || code > 599 {
					http.Error(w, "code must be 4xx or 5xx", http.StatusBadRequest)
					return
				}
				srv.Refuse(code, "refused for a test")
				w.WriteHeader(http.StatusNoContent)
			})
			mux.HandleFunc("POST /dev/mailbox/accept", func(w http.ResponseWriter, _ *http.Request) {
				srv.Accept()
				w.WriteHeader(http.StatusNoContent)
			})
			fmt.Fprintf(os.Stderr, "mailbox ready: SMTP %s, HTTP http://%s/dev/mailbox\n", srv.Addr(), ln.Addr())
			return app.Serve(cmd.Context(), ln, mux, log)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8025", "where to serve GET /dev/mailbox")
	return cmd
}
