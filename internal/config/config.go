// Package config reads the service's configuration from the environment, as
// the contract's configuration table lists it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/kcloud/onboarding/internal/secret"
)

// Mode is the role the process runs in.
type Mode string

// The process roles.
const (
	ModeDev    Mode = "dev"
	ModeAPI    Mode = "api"
	ModeWorker Mode = "worker"
	ModeOps    Mode = "ops"
)

// DefaultNTSURL is the National Tax Service business status API.
const DefaultNTSURL = "https://api.odcloud.kr/api/nts-businessman/v1"

// Config is every setting of the service. Durations use Go syntax (168h, 90s).
type Config struct {
	HTTPAddr    string `env:"HTTP_ADDR" envDefault:":8080"`
	DatabaseURL string `env:"DATABASE_URL"`
	DataDir     string `env:"DATA_DIR" envDefault:"./.onboarding"`
	// MigrateOnStart (MIGRATE_ON_START, unset: true) applies pending
	// migrations when a process opens the database. False (a deployment
	// runs `onboarding migrate` as a job first): a process refuses to start
	// on a schema that is behind. Read it with MigratesOnStart.
	MigrateOnStart *bool `env:"MIGRATE_ON_START"`

	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TemporalTaskQueue string `env:"TEMPORAL_TASK_QUEUE" envDefault:"onboarding"`
	TemporalUIAddr    string `env:"TEMPORAL_UI_ADDR" envDefault:"127.0.0.1:8233"`
	// TemporalCompression is gzip or none for the gRPC calls to Temporal;
	// dev mode (loopback) defaults to none.
	TemporalCompression string `env:"TEMPORAL_GRPC_COMPRESSION"`

	SMTPHost     string `env:"SMTP_HOST"`
	SMTPPort     int    `env:"SMTP_PORT"`
	SMTPUsername string `env:"SMTP_USERNAME"`
	SMTPPassword string `env:"SMTP_PASSWORD"`
	// SMTPTLS is none, starttls or tls; unset, it is starttls, or none for
	// dev's capture server and a loopback SMTP_HOST.
	SMTPTLS     string `env:"SMTP_TLS"`
	MailFrom    string `env:"MAIL_FROM" envDefault:"Cloud Console <no-reply@onboarding.local>"`
	DevSMTPAddr string `env:"DEV_SMTP_ADDR" envDefault:"127.0.0.1:1025"`

	PublicBaseURL        string        `env:"PUBLIC_BASE_URL" envDefault:"http://localhost:8080"`
	InviteTTL            time.Duration `env:"INVITE_TTL" envDefault:"168h"`
	InviteReminderBefore time.Duration `env:"INVITE_REMINDER_BEFORE" envDefault:"24h"`
	SignupIdleTimeout    time.Duration `env:"SIGNUP_IDLE_TIMEOUT" envDefault:"72h"`
	// SignupMaxAge bounds an unsubmitted sign-up (and its name reservation)
	// from its start, however often it steps.
	SignupMaxAge time.Duration `env:"SIGNUP_MAX_AGE" envDefault:"168h"`
	// MaxOpenSignupsPerBusiness bounds the unsubmitted sign-ups that have
	// verified one business number (0: no bound). The worker applies it.
	MaxOpenSignupsPerBusiness int           `env:"MAX_OPEN_SIGNUPS_PER_BUSINESS" envDefault:"3"`
	ResetTokenTTL             time.Duration `env:"RESET_TOKEN_TTL" envDefault:"1h"`
	SessionTTL                time.Duration `env:"SESSION_TTL" envDefault:"12h"`
	// StepRetryBudget is how long provisioning and mail activities are
	// retried before the sign-up goes to needs_attention.
	StepRetryBudget time.Duration `env:"STEP_RETRY_BUDGET" envDefault:"30m"`

	NTSAPIURL     string        `env:"NTS_API_URL" envDefault:"https://api.odcloud.kr/api/nts-businessman/v1"`
	NTSServiceKey string        `env:"NTS_SERVICE_KEY"`
	NTSTimeout    time.Duration `env:"NTS_TIMEOUT" envDefault:"3s"`
	NTSCacheTTL   time.Duration `env:"NTS_CACHE_TTL" envDefault:"24h"`
	// VerifyTimeout bounds the verify step, retries included, before it
	// answers 503 verification_unavailable.
	VerifyTimeout time.Duration `env:"VERIFY_TIMEOUT" envDefault:"10s"`

	AdminToken string `env:"ADMIN_TOKEN"`

	// PayloadKeys encrypt what goes into Temporal: "id:base64key,…", the
	// first sealing new payloads. Dev mode makes one in DATA_DIR if unset.
	PayloadKeys string `env:"PAYLOAD_ENCRYPTION_KEYS"`
	// CodecToken lets operators decode payloads (the codec server); unset,
	// the codec server is off. It is a secret of its own, not ADMIN_TOKEN.
	CodecToken       string   `env:"CODEC_TOKEN"`
	CodecCORSOrigins []string `env:"CODEC_CORS_ORIGINS" envSeparator:","`
	// MetricsAddr is where the worker serves /metrics (default :9090) and,
	// when set, where the api does instead of on HTTP_ADDR (dev always
	// serves it on HTTP_ADDR).
	MetricsAddr string `env:"METRICS_ADDR"`
	RateLimits  string `env:"RATE_LIMITS" envDefault:"on"`
	// PprofAddr, when set, serves net/http/pprof there (keep it on loopback).
	PprofAddr          string   `env:"PPROF_ADDR"`
	TrustedProxies     []string `env:"TRUSTED_PROXIES" envSeparator:","`
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	// WorkerCacheSize bounds the workflows a worker keeps in memory between
	// tasks (the sticky cache); waiting sign-ups beyond it are replayed on
	// their next task instead of held.
	WorkerCacheSize int `env:"WORKER_CACHE_SIZE" envDefault:"1000"`
	// WorkerPollers is how many workflow-task polls a worker keeps open:
	// enough waiting polls let a new sign-up's first task match at once
	// instead of going through the task queue's backlog.
	WorkerPollers int `env:"WORKER_POLLERS" envDefault:"8"`
	// CertificateStore is where certificates live, sealed: file:///dir,
	// s3://bucket?… or gs://bucket; default a directory under DATA_DIR.
	CertificateStore string `env:"CERTIFICATE_STORE"`
	// PIIRetention is how long an abandoned or cancelled sign-up keeps its
	// personal data; PIIPurgeEvery how often the purge Schedule runs.
	PIIRetention  time.Duration `env:"PII_RETENTION" envDefault:"720h"`
	PIIPurgeEvery time.Duration `env:"PII_PURGE_EVERY" envDefault:"1h"`
	// CertificateSweepAfter: an upload unfinished for this long belongs to
	// a crashed process; the purge removes it (and the backend's debris).
	CertificateSweepAfter time.Duration `env:"CERTIFICATE_SWEEP_AFTER" envDefault:"15m"`
	// DevCapture is set in dev mode when SMTP_HOST is unset: the process runs
	// its own SMTP capture server on DEV_SMTP_ADDR and sends mail there.
	DevCapture bool   `env:"-"`
	LogFormat  string `env:"LOG_FORMAT"`
	LogLevel   string `env:"LOG_LEVEL" envDefault:"info"`

	// RateLimitStore is where the abuse limits count: memory (per process),
	// postgres (the application database) or redis://host:port/N.
	RateLimitStore string `env:"RATE_LIMIT_STORE" envDefault:"memory"`
	// WorkerStopTimeout is how long a stopping worker lets running
	// activities finish.
	WorkerStopTimeout time.Duration `env:"WORKER_STOP_TIMEOUT" envDefault:"30s"`
	// ShutdownDelay is how long a stopping api answers /readyz 503 while
	// still serving, so load balancers take it out first (api 5s, dev 0).
	ShutdownDelay time.Duration `env:"SHUTDOWN_DELAY"`
	// ShutdownTimeout is how long in-flight requests get to finish after
	// the listener stops accepting.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
}

// Load reads the environment for the given mode and checks the result.
func Load(mode Mode) (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, settingErrors(err)
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if mode == ModeDev {
			c.LogFormat = "text"
		}
	}
	if !isSet("SHUTDOWN_DELAY") && mode == ModeAPI {
		c.ShutdownDelay = 5 * time.Second
	}
	if c.TemporalCompression == "" {
		c.TemporalCompression = "gzip"
		if mode == ModeDev {
			c.TemporalCompression = "none"
		}
	}
	if !isSet("HTTP_ADDR") && mode == ModeDev {
		// Dev mode is for this machine: it listens on loopback unless told.
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if !isSet("METRICS_ADDR") && mode == ModeWorker {
		c.MetricsAddr = ":9090"
	}
	if mode == ModeDev {
		if len(c.CodecCORSOrigins) == 0 {
			c.CodecCORSOrigins = []string{"http://" + c.TemporalUIAddr}
			if h, p, err := net.SplitHostPort(c.TemporalUIAddr); err == nil && (h == "127.0.0.1" || h == "localhost") {
				c.CodecCORSOrigins = append(c.CodecCORSOrigins, "http://localhost:"+p, "http://127.0.0.1:"+p)
			}
		}
		if c.DatabaseURL == "" {
			c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "onboarding.db")
		}
		if c.SMTPHost == "" {
			c.DevCapture = true
			host, port, err := net.SplitHostPort(c.DevSMTPAddr)
			if err != nil {
				return c, fmt.Errorf("config: DEV_SMTP_ADDR %q: %w", c.DevSMTPAddr, err)
			}
			c.SMTPHost = host
			if c.SMTPHost == "" {
				c.SMTPHost = "127.0.0.1"
			}
			c.SMTPPort, _ = strconv.Atoi(port)
			c.SMTPTLS = "none"
		}
	}
	if c.CertificateStore == "" {
		dir, err := filepath.Abs(filepath.Join(c.DataDir, "certificates"))
		if err != nil {
			return c, fmt.Errorf("config: DATA_DIR: %w", err)
		}
		c.CertificateStore = "file://" + filepath.ToSlash(dir)
	}
	if c.SMTPTLS == "" {
		// Mail leaves encrypted unless it stays on this machine.
		c.SMTPTLS = "starttls"
		if loopbackHost(c.SMTPHost) {
			c.SMTPTLS = "none"
		}
	}
	if c.SMTPPort == 0 {
		switch c.SMTPTLS {
		case "tls":
			c.SMTPPort = 465
		case "starttls":
			c.SMTPPort = 587
		default:
			c.SMTPPort = 25
		}
	}
	return c, c.validate(mode)
}

func (c Config) validate(mode Mode) error {
	var errs []error
	if mode == ModeAPI || mode == ModeWorker {
		if c.DatabaseURL == "" {
			errs = append(errs, errors.New("DATABASE_URL is required (postgres://… or sqlite:///path/file.db)"))
		}
		errs = append(errs, c.checkSecrets()...)
		if c.SMTPHost == "" && mode == ModeWorker {
			errs = append(errs, errors.New("SMTP_HOST is required for the worker"))
		}
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		errs = append(errs, fmt.Errorf("DATABASE_URL must start with postgres:// or sqlite://"))
	}
	switch c.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		errs = append(errs, fmt.Errorf("SMTP_TLS must be none, starttls or tls, not %q", c.SMTPTLS))
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL must be an http(s) URL, not %q", c.PublicBaseURL))
	}
	errs = append(errs, c.checkDurations()...)
	switch u, err := url.Parse(c.CertificateStore); {
	case err != nil:
		errs = append(errs, fmt.Errorf("CERTIFICATE_STORE: %w", err))
	case u.Scheme != "file" && u.Scheme != "s3" && u.Scheme != "gs":
		errs = append(errs, errors.New("CERTIFICATE_STORE must be file:///dir, s3://bucket?… or gs://bucket"))
	}
	switch c.TemporalCompression {
	case "gzip", "none":
	default:
		errs = append(errs, fmt.Errorf("TEMPORAL_GRPC_COMPRESSION must be gzip or none, not %q", c.TemporalCompression))
	}
	switch c.RateLimits {
	case "on", "off":
	default:
		errs = append(errs, fmt.Errorf("RATE_LIMITS must be on or off, not %q", c.RateLimits))
	}
	if c.WorkerPollers < 2 {
		errs = append(errs, errors.New("WORKER_POLLERS must be at least 2"))
	}
	if c.WorkerCacheSize < 1 {
		errs = append(errs, errors.New("WORKER_CACHE_SIZE must be at least 1"))
	}
	if err := checkRateLimitStore(c.RateLimitStore, c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be json or text, not %q", c.LogFormat))
	}
	return errors.Join(errs...)
}

// checkDurations refuses lifetimes, bounds and timeouts that cannot work.
func (c Config) checkDurations() []error {
	var errs []error
	if c.InviteTTL <= 0 {
		errs = append(errs, errors.New("INVITE_TTL must be positive"))
	}
	if c.InviteReminderBefore < 0 {
		errs = append(errs, errors.New("INVITE_REMINDER_BEFORE must not be negative"))
	}
	if c.SignupIdleTimeout <= 0 {
		errs = append(errs, errors.New("SIGNUP_IDLE_TIMEOUT must be positive"))
	}
	if c.SignupMaxAge <= 0 {
		errs = append(errs, errors.New("SIGNUP_MAX_AGE must be positive"))
	}
	if c.MaxOpenSignupsPerBusiness < 0 {
		errs = append(errs, errors.New("MAX_OPEN_SIGNUPS_PER_BUSINESS must not be negative (0: no bound)"))
	}
	if c.ResetTokenTTL <= 0 || c.SessionTTL <= 0 || c.StepRetryBudget <= 0 || c.NTSTimeout <= 0 || c.VerifyTimeout <= 0 {
		errs = append(errs, errors.New("RESET_TOKEN_TTL, SESSION_TTL, STEP_RETRY_BUDGET, NTS_TIMEOUT and VERIFY_TIMEOUT must be positive"))
	}
	if c.PIIRetention < 0 {
		errs = append(errs, errors.New("PII_RETENTION must not be negative"))
	}
	if c.PIIPurgeEvery < time.Second {
		errs = append(errs, errors.New("PII_PURGE_EVERY must be at least 1s"))
	}
	if c.CertificateSweepAfter <= 0 {
		errs = append(errs, errors.New("CERTIFICATE_SWEEP_AFTER must be positive"))
	}
	if c.WorkerStopTimeout < 0 || c.ShutdownDelay < 0 || c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("WORKER_STOP_TIMEOUT, SHUTDOWN_DELAY and SHUTDOWN_TIMEOUT must not be negative"))
	}
	return errs
}

// checkRateLimitStore accepts memory, postgres (the application database)
// or a redis:// URL.
func checkRateLimitStore(v, databaseURL string) error {
	switch {
	case v == "memory":
		return nil
	case v == "postgres":
		if databaseURL == "" {
			return errors.New("RATE_LIMIT_STORE=postgres counts in the application database: set DATABASE_URL")
		}
		return nil
	case strings.HasPrefix(v, "redis://") || strings.HasPrefix(v, "rediss://"):
		if _, err := url.Parse(v); err != nil {
			// The URL may hold a password: name the setting, not its value.
			return errors.New("RATE_LIMIT_STORE is not a valid redis://[user:password@]host:port/N URL")
		}
		return nil
	}
	// Not the value itself: a mistyped scheme may still carry a password.
	return errors.New("RATE_LIMIT_STORE must be memory, postgres or redis://host:port/N")
}

// checkSecrets refuses operator secrets that protect nothing: too little
// entropy, or a sample value of the repository (api and worker; dev may use
// anything). The messages name the variable, never the value.
func (c Config) checkSecrets() []error {
	var errs []error
	for _, s := range []struct{ name, value string }{{"ADMIN_TOKEN", c.AdminToken}, {"CODEC_TOKEN", c.CodecToken}} {
		if s.value == "" {
			continue
		}
		if err := secret.CheckStrong(s.value); err != nil {
			errs = append(errs, fmt.Errorf("%s %w", s.name, err))
		}
	}
	if c.PayloadKeys != "" {
		if err := secret.CheckKeySpec(c.PayloadKeys); err != nil {
			errs = append(errs, fmt.Errorf("PAYLOAD_ENCRYPTION_KEYS %w (make one with `onboarding keygen`)", err))
		}
	}
	return errs
}

// loopbackHost reports whether an SMTP host is this machine.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PublicURL joins a path to PUBLIC_BASE_URL.
func (c Config) PublicURL(path string) string {
	return strings.TrimRight(c.PublicBaseURL, "/") + path
}

// isSet reports whether the environment gives k a value; an empty one (as
// a compose file or chart leaves behind) counts as unset.
func isSet(k string) bool {
	v, ok := os.LookupEnv(k)
	return ok && strings.TrimSpace(v) != ""
}

// MigratesOnStart reports whether a process applies pending migrations
// when it opens the database (MIGRATE_ON_START; unset: yes).
func (c Config) MigratesOnStart() bool { return c.MigrateOnStart == nil || *c.MigrateOnStart }

// settingErrors names the environment variable of each value that does
// not parse, rather than the Go field env.Parse names.
func settingErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok && f.Tag.Get("env") != "" {
				errs = append(errs, fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		errs = append(errs, fmt.Errorf("config: %w", e))
	}
	return errors.Join(errs...)
}
