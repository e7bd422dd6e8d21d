// Package app wires the service's parts together for the process roles
// (dev, api, worker): logging, the database, the Temporal client, the
// worker and the HTTP server.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/api"
	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/workflows"
)

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
func OpenDB(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "versions", applied, "dialect", db.Dialect)
	}
	return db, nil
}

// Dial connects a Temporal client, waiting up to wait for the frontend.
func Dial(ctx context.Context, cfg config.Config, log *slog.Logger, wait time.Duration) (client.Client, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  cfg.TemporalAddress,
			Namespace: cfg.TemporalNamespace,
			Logger:    tlog.NewStructuredLogger(log.With("component", "temporal-sdk")),
		})
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("temporal at %s: %w", cfg.TemporalAddress, err)
		}
		log.Warn("waiting for Temporal", "address", cfg.TemporalAddress, "error", err)
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
	}
}

// Activities builds the activities over their real dependencies.
func Activities(cfg config.Config, db *store.DB, log *slog.Logger) *activities.Activities {
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
		Log:           log.With("component", "activities"),
	})
}

// NewWorker registers the workflows and activities on the task queue.
func NewWorker(c client.Client, cfg config.Config, acts *activities.Activities) worker.Worker {
	w := worker.New(c, cfg.TemporalTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.Signup, workflow.RegisterOptions{Name: workflows.SignupWorkflowName})
	w.RegisterWorkflow(workflows.PasswordReset)
	w.RegisterActivity(acts)
	return w
}

// NewAPI builds the HTTP API. box is dev mode's mailbox (nil otherwise).
func NewAPI(cfg config.Config, db *store.DB, c client.Client, box *mailbox.Store, log *slog.Logger) *api.Server {
	return api.New(api.Config{
		TaskQueue:  cfg.TemporalTaskQueue,
		Settings:   Settings(cfg),
		AdminToken: cfg.AdminToken,
	}, api.Deps{
		DB:       db,
		Temporal: c,
		Accounts: account.New(db, password.NewHasher(password.DefaultParams), cfg.SessionTTL, nil),
		Mailbox:  box,
		Log:      log.With("component", "api"),
	})
}

// Serve runs the HTTP server on ln until ctx ends, then drains it for up
// to 10s.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
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

// URL turns a listen address into a URL people can open.
func URL(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "http://localhost" + addr
	}
	return "http://" + addr
}
