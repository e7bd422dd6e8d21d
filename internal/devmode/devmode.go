// Package devmode runs `onboarding dev`: the whole service in one process,
// beside an embedded Temporal server and Web UI and an SMTP capture server,
// on SQLite in DATA_DIR unless DATABASE_URL says otherwise; and `onboarding
// temporal`, that embedded server alone. It links go.temporal.io/server,
// which the lean production build (-tags lean) leaves out.
package devmode

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/workflows"
)

// Run runs dev mode with the configuration from the environment until ctx
// ends, and writes to out where everything is once it is up. Started again
// on the same DATA_DIR, every sign-up and timer carries on.
func Run(ctx context.Context, out io.Writer) error {
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
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	// The mailbox listens before Temporal starts, as the API's listener
	// does: a taken address fails at once, and no port of ours is left
	// free during the seconds Temporal's start takes (its services ask the
	// kernel for free ports meanwhile).
	box, closeBox, err := startMailbox(rt)
	if err != nil {
		return err
	}
	defer closeBox()
	temporal, err := startTemporal(ctx, rt, ln)
	if err != nil {
		return err
	}
	defer temporal.Stop()
	return serve(ctx, rt, ln, box, func() { banner(out, rt.Cfg, ln, temporal, box, time.Since(start)) })
}

// startTemporal starts the embedded server and points the runtime at it.
func startTemporal(ctx context.Context, rt *app.Runtime, ln net.Listener) (*devserver.Server, error) {
	cfg := rt.Cfg
	temporal, err := devserver.Start(ctx, devserver.Options{
		DataDir:          filepath.Join(cfg.DataDir, "temporal"),
		FrontendAddr:     cfg.TemporalAddress,
		UIAddr:           cfg.TemporalUIAddr,
		UICodecEndpoint:  codecEndpoint(cfg, ln),
		Namespace:        cfg.TemporalNamespace,
		SearchAttributes: workflows.SearchAttributeNames,
		Log:              rt.Log,
	})
	if err != nil {
		return nil, err
	}
	rt.Cfg.TemporalAddress = temporal.FrontendAddr()
	return temporal, nil
}

// startMailbox starts the SMTP capture server when DEV_CAPTURE is on (box
// nil otherwise: mail goes to SMTP_HOST).
func startMailbox(rt *app.Runtime) (box *mailbox.Store, closeBox func(), err error) {
	cfg := rt.Cfg
	if !cfg.DevCapture {
		return nil, func() {}, nil
	}
	box, err = mailbox.Open(filepath.Join(cfg.DataDir, "mailbox.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	srv, err := mailbox.Listen(cfg.DevSMTPAddr, box, rt.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (set DEV_SMTP_ADDR)", err)
	}
	return box, func() { _ = srv.Close() }, nil
}

// serve connects, starts the worker and serves the API on ln, as the api
// and worker roles do in their processes; ready is called once all runs.
func serve(ctx context.Context, rt *app.Runtime, ln net.Listener, box *mailbox.Store, ready func()) error {
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
	ready()
	err = rt.ServeAPI(ctx, ln, db, c, box, app.Shutdown{Timeout: 10 * time.Second})
	rt.Log.Info("shutting down")
	return err
}

// banner is what dev prints once up: where each part is.
func banner(out io.Writer, cfg config.Config, ln net.Listener, temporal *devserver.Server, box *mailbox.Store, took time.Duration) {
	apiURL := app.URL(ln.Addr().String())
	fmt.Fprintf(out, "\nonboarding dev is up in %s\n", took.Round(time.Millisecond))
	fmt.Fprintf(out, "  API and pages   %s  (health: %s/readyz)\n", apiURL, apiURL)
	fmt.Fprintf(out, "  Temporal UI     %s\n", temporal.UIURL())
	if cfg.CodecToken != "" {
		fmt.Fprintf(out, "  Decode in UI    %s/codec/login  (operator token: CODEC_TOKEN)\n", codecBase(ln))
	} else {
		fmt.Fprintf(out, "  Payloads        encrypted; set CODEC_TOKEN to decode them in the UI\n")
	}
	fmt.Fprintf(out, "  Temporal gRPC   %s  (namespace %s, task queue %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace, cfg.TemporalTaskQueue)
	if box != nil {
		fmt.Fprintf(out, "  Mailbox         %s/dev/mailbox/view  (SMTP %s)\n", apiURL, cfg.DevSMTPAddr)
	} else {
		fmt.Fprintf(out, "  Mail            sent to %s:%d\n", cfg.SMTPHost, cfg.SMTPPort)
	}
	fmt.Fprintf(out, "  Database        %s\n", store.Redact(cfg.DatabaseURL))
	fmt.Fprintf(out, "  Certificates    %s  (sealed; purge every %s, kept %s after a sign-up ends)\n", storeURL(cfg.CertificateStore), cfg.PIIPurgeEvery, cfg.PIIRetention)
	fmt.Fprintf(out, "  Data            %s\n\n", cfg.DataDir)
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

// RunTemporal runs only the embedded Temporal server (and its UI on
// TEMPORAL_UI_ADDR), state in DATA_DIR/temporal, until ctx ends:
// `onboarding temporal`, for api + worker set-ups on one machine. With tls
// set its frontend speaks TLS and requires client certificates.
func RunTemporal(ctx context.Context, tls *devserver.TLS, out io.Writer) error {
	cfg, err := config.Load(config.ModeDev)
	if err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir:          filepath.Join(cfg.DataDir, "temporal"),
		FrontendAddr:     cfg.TemporalAddress,
		UIAddr:           cfg.TemporalUIAddr,
		Namespace:        cfg.TemporalNamespace,
		SearchAttributes: workflows.SearchAttributeNames,
		TLS:              tls,
		Log:              app.Logger(cfg),
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	mode := "plain gRPC"
	if srv.TLSEnabled() {
		mode = "TLS, client certificates from " + tls.ClientCAFile
	}
	fmt.Fprintf(out, "temporal ready: gRPC %s (%s), UI %s, data %s\n", srv.FrontendAddr(), mode, srv.UIURL(), cfg.DataDir)
	<-ctx.Done()
	return nil
}
