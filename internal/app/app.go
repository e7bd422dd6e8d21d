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
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/ratelimit"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/temporalconn"
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
	// Temporal is how api, worker and ops reach Temporal (envconfig); nil
	// in dev mode, which dials its embedded server.
	Temporal *temporalconn.Settings
	// RateLimits is the shared rate-limit store (nil: per process).
	RateLimits ratelimit.Store
	// Certs (the certificate store) and Eraser are set by OpenDB.
	Certs  *certstore.Store
	Eraser *retention.Eraser
	// temporal is the client Dial made last (activities delete erased
	// sign-ups' workflows through it).
	temporal client.Client
	closers  []func()
}

// New builds the runtime of a role from cfg.
func New(ctx context.Context, cfg config.Config, mode config.Mode) (*Runtime, error) {
	r := &Runtime{Cfg: cfg, Mode: mode, Log: Logger(cfg), Metrics: metrics.New()}
	if mode != config.ModeDev {
		// Read first: a wrong certificate stops the process before anything starts.
		ts, err := temporalconn.Load(nil)
		if err != nil {
			return nil, err
		}
		r.Temporal = ts
		r.Cfg.TemporalAddress, r.Cfg.TemporalNamespace = ts.Address(), ts.Namespace()
	}
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

// migrate applies pending migrations, or with MIGRATE_ON_START=false
// refuses a schema that is behind this binary.
func (r *Runtime) migrate(ctx context.Context, db *store.DB) error {
	if !r.Cfg.MigratesOnStart() {
		pending, err := db.Pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("database schema is behind this binary (pending migrations %v) and MIGRATE_ON_START=false: run `onboarding migrate` first", pending)
		}
		return nil
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		r.Log.Info("database migrated", "versions", applied, "dialect", db.Dialect)
	}
	return nil
}

// OpenDB opens DATABASE_URL and applies pending migrations (MIGRATE_ON_START).
func (r *Runtime) OpenDB(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, r.Cfg.DatabaseURL, r.Log)
	if err != nil {
		return nil, err
	}
	if err := r.migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	r.Metrics.WatchStatuses(db.DB)
	if err := r.Metrics.CountStatements(db.DB, statementCaller); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := r.openCertificates(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openCertificates opens the certificate store (CERTIFICATE_STORE) over db
// and the eraser of personal data beside it.
func (r *Runtime) openCertificates(ctx context.Context, db *store.DB) error {
	certs, err := certstore.Open(ctx, r.Cfg.CertificateStore, r.Keyring, db, r.Log.With("component", "certificates"))
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { _ = certs.Close() })
	if r.Mode != config.ModeDev && strings.HasPrefix(r.Cfg.CertificateStore, "file:") {
		// Certificates uploaded through one api must be readable by every
		// worker, and erased wherever they are.
		r.Log.Warn("CERTIFICATE_STORE is a directory: every api and worker process must see the same one (a shared volume), or use s3:// or gs://",
			"certificate_store", r.Cfg.CertificateStore)
	}
	r.Certs = certs
	r.Eraser = retention.New(db, certs, r.Metrics.Erased, r.Log.With("component", "retention"))
	return nil
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
// metrics and (when on) traces, waiting up to wait for the frontend. api,
// worker and ops take the connection from the environment as the Temporal
// CLI does (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles);
// a TLS, certificate or API key problem fails at once, naming the setting.
func (r *Runtime) Dial(ctx context.Context, wait time.Duration) (client.Client, error) {
	ts := r.Temporal
	if ts == nil {
		// dev: its own embedded server, plain gRPC on loopback.
		var err error
		ts, err = temporalconn.Load(plainEnv{address: r.Cfg.TemporalAddress, namespace: r.Cfg.TemporalNamespace})
		if err != nil {
			return nil, err
		}
	}
	opts := ts.Options
	dc := codec.DataConverter(r.Keyring)
	mh, closer := r.Metrics.Temporal()
	r.closers = append(r.closers, func() { _ = closer.Close() })
	opts.Logger = tlog.NewStructuredLogger(r.Log.With("component", "temporal-sdk"))
	opts.DataConverter = dc
	opts.FailureConverter = codec.FailureConverter(dc)
	opts.MetricsHandler = mh
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
	c, err := temporalconn.Dial(ctx, ts, opts, wait, r.Log)
	if err != nil {
		return nil, err
	}
	r.temporal = c
	return c, nil
}

// plainEnv is dev mode's connection: its embedded server, no file, no TLS.
type plainEnv struct{ address, namespace string }

func (e plainEnv) Environ() []string { return nil }
func (e plainEnv) LookupEnv(k string) (string, bool) {
	switch k {
	case "TEMPORAL_ADDRESS":
		return e.address, true
	case "TEMPORAL_NAMESPACE":
		return e.namespace, true
	case "TEMPORAL_CONFIG_FILE":
		return os.DevNull, true
	}
	return "", false
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
		Certificates:  r.Certs,
		Eraser:        r.Eraser,
		Temporal:      r.temporal,
		Namespace:     cfg.TemporalNamespace,
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
		// On Stop the worker stops polling and lets running activities
		// finish for this long before cancelling them.
		WorkerStopTimeout: r.Cfg.WorkerStopTimeout,
	})
	w.RegisterWorkflowWithOptions(workflows.Signup, workflow.RegisterOptions{Name: workflows.SignupWorkflowName})
	w.RegisterWorkflow(workflows.PasswordReset)
	w.RegisterWorkflowWithOptions(workflows.Purge, workflow.RegisterOptions{Name: workflows.PurgeWorkflowName})
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
	ctx, cancel := context.WithCancel(context.Background())
	r.closers = append(r.closers, cancel)
	go r.keepPurgeSchedule(ctx, c)
	return w, nil
}

// keepPurgeSchedule ensures the purge Schedule, trying again with a growing
// pause while Temporal refuses (a namespace without the permission, a
// server restarting): the worker's sign-ups must not wait for the purge.
func (r *Runtime) keepPurgeSchedule(ctx context.Context, c client.Client) {
	pause := 5 * time.Second
	for {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		err := r.EnsurePurgeSchedule(actx, c)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		r.Log.Warn("purge schedule not ensured; personal data is not erased until it is; trying again",
			"error", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Minute)
	}
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
		Namespace:      cfg.TemporalNamespace,
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

		RateLimits: r.RateLimits,
		Certs:      r.Certs,
		Eraser:     r.Eraser,
	})
}

// OpenRateLimits opens RATE_LIMIT_STORE for the API: memory keeps the
// limits in this process (each replica counts alone, which it says),
// postgres counts in the application database, redis://… in Redis.
func (r *Runtime) OpenRateLimits(ctx context.Context, db *store.DB) error {
	switch v := r.Cfg.RateLimitStore; {
	case r.Cfg.RateLimits != "on":
		return nil
	case v == "memory" || v == "":
		r.Log.Warn("rate limits are counted in this process (RATE_LIMIT_STORE=memory): with several api replicas each one counts alone; use postgres or redis://… there")
	case v == "postgres":
		r.RateLimits = ratelimit.NewSQL(db.DB, string(db.Dialect))
		r.Log.Info("rate limits are counted in the application database", "dialect", db.Dialect)
	default:
		rs, err := ratelimit.OpenRedis(ctx, v, "onboarding:")
		if err != nil {
			return err
		}
		r.RateLimits = rs
		r.closers = append(r.closers, func() { _ = rs.Close() })
		r.Log.Info("rate limits are counted in Redis")
	}
	return nil
}

// Serve runs the HTTP server on ln until ctx ends, then drains it for up
// to 10s.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	return ServeGraceful(ctx, ln, h, log, Shutdown{Timeout: 10 * time.Second})
}

// Shutdown is how a server stops once asked to.
type Shutdown struct {
	// Stopping is called first (readiness turns 503).
	Stopping func()
	// Delay: the server goes on serving (closing each connection after its
	// answer) so that load balancers notice the readiness and stop sending.
	Delay time.Duration
	// Timeout: then the listener closes and in-flight requests get this long.
	Timeout time.Duration
}

// ServeGraceful runs the HTTP server on ln until ctx ends, then stops it as
// sd says: not ready, still serving for Delay, then no new connections and
// up to Timeout for the requests in flight.
func ServeGraceful(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, sd Shutdown) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if sd.Stopping != nil {
		sd.Stopping()
	}
	if sd.Delay > 0 {
		log.Info("stopping: not ready; still serving while load balancers notice", "delay", sd.Delay.String())
		srv.SetKeepAlivesEnabled(false)
		time.Sleep(sd.Delay)
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), sd.Timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown: requests still in flight were cut", "timeout", sd.Timeout.String(), "error", err)
		_ = srv.Close()
	} else if sd.Delay > 0 {
		log.Info("stopped accepting; requests in flight finished", "took", time.Since(start).Round(time.Millisecond).String())
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
