// Package app wires the service's parts together for the process roles
// (dev, api, worker, ops): logging, metrics, tracing, payload encryption,
// the database, the Temporal client, the worker and the HTTP server.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/api"
	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/tracing"
	"github.com/kcloud/onboarding/workflows"
)

// Runtime is what every role shares: configuration, logger, metrics,
// tracing and the payload keyring.
type Runtime struct {
	Cfg     config.Config
	Mode    config.Mode
	Log     *slog.Logger
	Metrics *metrics.Registry
	Tracing *tracing.Tracing
	Keyring *codec.Keyring
	closers []func()
}

// New builds the runtime of a role from cfg.
func New(ctx context.Context, cfg config.Config, mode config.Mode) (*Runtime, error) {
	r := &Runtime{Cfg: cfg, Mode: mode, Log: Logger(cfg), Metrics: metrics.New()}
	tr, err := tracing.Setup(ctx, "onboarding-"+string(mode))
	if err != nil {
		return nil, err
	}
	r.Tracing = tr
	r.closers = append(r.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(sctx)
	})
	if r.Keyring, err = keyring(cfg, mode, r.Log); err != nil {
		return nil, err
	}
	if cfg.PprofAddr != "" {
		if err := r.servePprof(cfg.PprofAddr); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// servePprof serves the Go profiler on its own listener.
func (r *Runtime) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("PPROF_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	r.closers = append(r.closers, func() { _ = srv.Close() })
	r.Log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}

// Close flushes what needs flushing.
func (r *Runtime) Close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// keyring reads PAYLOAD_ENCRYPTION_KEYS; dev mode (and ops next to it)
// keeps a generated key in DATA_DIR/payload-keys instead.
func keyring(cfg config.Config, mode config.Mode, log *slog.Logger) (*codec.Keyring, error) {
	if cfg.PayloadKeys != "" {
		return codec.ParseKeyring(cfg.PayloadKeys)
	}
	path := filepath.Join(cfg.DataDir, "payload-keys")
	switch mode {
	case config.ModeDev:
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			spec := codec.NewKeySpec("dev1")
			if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("payload key: %w", err)
			}
			log.Info("generated a payload encryption key", "path", path)
			return codec.ParseKeyring(spec)
		}
		if err != nil {
			return nil, fmt.Errorf("payload key: %w", err)
		}
		return codec.ParseKeyring(strings.TrimSpace(string(b)))
	case config.ModeOps:
		if b, err := os.ReadFile(path); err == nil {
			return codec.ParseKeyring(strings.TrimSpace(string(b)))
		}
		return nil, errors.New("set PAYLOAD_ENCRYPTION_KEYS (the workers' keys) to read sign-ups through Temporal")
	}
	return nil, errors.New("PAYLOAD_ENCRYPTION_KEYS is required: workflow payloads are encrypted (make a key with `onboarding keygen`)")
}

// Logger builds the process logger: JSON in production, text in dev.
func Logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// OpenDB opens DATABASE_URL and applies pending migrations.
func (r *Runtime) OpenDB(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, r.Cfg.DatabaseURL, r.Log)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		r.Log.Info("database migrated", "versions", applied, "dialect", db.Dialect)
	}
	r.Metrics.WatchStatuses(db.DB)
	if err := r.Metrics.CountStatements(db.DB, statementCaller); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// statementCaller names who runs a statement: the activity, or the HTTP
// route the API put in the context.
func statementCaller(ctx context.Context) string {
	if activity.IsActivity(ctx) {
		return "activity:" + activity.GetInfo(ctx).ActivityType.Name
	}
	return metrics.Caller(ctx)
}

// Dial connects a Temporal client that encrypts payloads, reports SDK
// metrics and (when on) traces, waiting up to wait for the frontend.
func (r *Runtime) Dial(ctx context.Context, wait time.Duration) (client.Client, error) {
	dc := codec.DataConverter(r.Keyring)
	mh, closer := r.Metrics.Temporal()
	r.closers = append(r.closers, func() { _ = closer.Close() })
	opts := client.Options{
		HostPort:         r.Cfg.TemporalAddress,
		Namespace:        r.Cfg.TemporalNamespace,
		Logger:           tlog.NewStructuredLogger(r.Log.With("component", "temporal-sdk")),
		DataConverter:    dc,
		FailureConverter: codec.FailureConverter(dc),
		MetricsHandler:   mh,
	}
	if r.Cfg.TemporalCompression == "none" {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if r.Tracing.Enabled {
		ti, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{Tracer: r.Tracing.Tracer, TextMapPropagator: r.Tracing.Propagator})
		if err != nil {
			return nil, fmt.Errorf("tracing interceptor: %w", err)
		}
		opts.Interceptors = []interceptor.ClientInterceptor{ti}
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("temporal at %s: %w", r.Cfg.TemporalAddress, err)
		}
		r.Log.Warn("waiting for Temporal", "address", r.Cfg.TemporalAddress, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Settings are the timings new sign-ups run with.
func Settings(cfg config.Config) workflows.Settings {
	return workflows.Settings{
		InviteTTL:            cfg.InviteTTL,
		InviteReminderBefore: cfg.InviteReminderBefore,
		IdleTimeout:          cfg.SignupIdleTimeout,
		StepRetryBudget:      cfg.StepRetryBudget,
		VerifyTimeout:        cfg.VerifyTimeout,
		MaxAge:               cfg.SignupMaxAge,
	}
}

// Activities builds the activities over their real dependencies.
func (r *Runtime) Activities(db *store.DB) *activities.Activities {
	cfg := r.Cfg
	var ntsClient *nts.Client
	if cfg.NTSServiceKey != "" {
		ntsClient = nts.NewClient(cfg.NTSAPIURL, cfg.NTSServiceKey, cfg.NTSTimeout, &http.Client{})
	}
	return activities.New(activities.Deps{
		DB: db,
		Mailer: mailer.NewSMTP(mailer.Config{
			Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			TLS: cfg.SMTPTLS, From: cfg.MailFrom,
		}),
		NTS:           ntsClient,
		NTSCacheTTL:   cfg.NTSCacheTTL,
		PublicBaseURL: cfg.PublicBaseURL,
		ResetTokenTTL: cfg.ResetTokenTTL,
		Log:           r.Log.With("component", "activities"),
		Events:        r.Metrics.Event,
		// The worker applies the bound: the verify step is its activity.
		MaxOpenPerBusiness: cfg.MaxOpenSignupsPerBusiness,
	})
}

// Worker registers the workflows and activities on the task queue.
func (r *Runtime) Worker(c client.Client, acts *activities.Activities) worker.Worker {
	// The sticky cache is the SDK's, shared by the process's workers; its
	// bound keeps memory flat however many sign-ups wait on timers.
	worker.SetStickyWorkflowCacheSize(r.Cfg.WorkerCacheSize)
	w := worker.New(c, r.Cfg.TemporalTaskQueue, worker.Options{
		MaxConcurrentWorkflowTaskPollers: r.Cfg.WorkerPollers,
		MaxConcurrentActivityTaskPollers: max(2, r.Cfg.WorkerPollers/2),
	})
	w.RegisterWorkflowWithOptions(workflows.Signup, workflow.RegisterOptions{Name: workflows.SignupWorkflowName})
	w.RegisterWorkflow(workflows.PasswordReset)
	w.RegisterActivity(acts)
	return w
}

// Connect opens the application database (migrating it) and dials
// Temporal, waiting up to wait for it; closeAll closes both.
func (r *Runtime) Connect(ctx context.Context, wait time.Duration) (db *store.DB, c client.Client, closeAll func(), err error) {
	db, err = r.OpenDB(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err = r.Dial(ctx, wait)
	if err != nil {
		_ = db.Close()
		return nil, nil, nil, err
	}
	return db, c, func() { c.Close(); _ = db.Close() }, nil
}

// StartWorker starts a worker with the activities over db; stop it with
// its Stop.
func (r *Runtime) StartWorker(c client.Client, db *store.DB) (worker.Worker, error) {
	w := r.Worker(c, r.Activities(db))
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return w, nil
}

// API builds the HTTP API. box is dev mode's mailbox (nil otherwise).
func (r *Runtime) API(db *store.DB, c client.Client, box *mailbox.Store) *api.Server {
	cfg := r.Cfg
	return api.New(api.Config{
		TaskQueue:      cfg.TemporalTaskQueue,
		Settings:       Settings(cfg),
		AdminToken:     cfg.AdminToken,
		CodecToken:     cfg.CodecToken,
		CodecOrigins:   cfg.CodecCORSOrigins,
		CORSOrigins:    cfg.CORSAllowedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		RateLimits:     cfg.RateLimits == "on",
		SecureCookies:  strings.HasPrefix(cfg.PublicBaseURL, "https://"),
		// Served over https: browsers are told to keep to it.
		StrictTransport: strings.HasPrefix(cfg.PublicBaseURL, "https://"),
		// The api serves /metrics on METRICS_ADDR when set (ServeMetrics).
		MetricsElsewhere: r.Mode == config.ModeAPI && cfg.MetricsAddr != "",
	}, api.Deps{
		DB:       db,
		Temporal: c,
		Accounts: account.New(db, password.NewHasher(password.DefaultParams), cfg.SessionTTL, nil),
		Mailbox:  box,
		Log:      r.Log.With("component", "api"),
		Metrics:  r.Metrics,
		Tracing:  r.Tracing,
		Keyring:  r.Keyring,
	})
}

// Serve runs the HTTP server on ln until ctx ends, then drains it for up
// to 10s.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "error", err)
	}
	return nil
}

// ServeMetrics serves /metrics (and /healthz) on addr until ctx ends: the
// api's METRICS_ADDR, so that the metrics need not be public. It returns the
// address it listens on.
func (r *Runtime) ServeMetrics(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := Serve(ctx, ln, mux, r.Log); err != nil {
			r.Log.Error("metrics listener", "error", err)
		}
	}()
	return ln.Addr().String(), nil
}

// URL turns a listen address into a URL people can open.
func URL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "::", "0.0.0.0":
		// Listening on every interface: this machine reaches it as localhost.
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
