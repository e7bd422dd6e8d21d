// Package outbox delivers the signals owed to sign-up workflows. The API
// writes each one in the same transaction as the change it reports and
// tries it at once; the relay here retries the ones that did not get
// through (Temporal down, the API killed in between) until they do.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// Relay sends owed signals.
type Relay struct {
	db       *store.DB
	temporal client.Client
	log      *slog.Logger
	now      func() time.Time
}

// New returns a relay.
func New(db *store.DB, c client.Client, log *slog.Logger) *Relay {
	return &Relay{db: db, temporal: c, log: log, now: func() time.Time { return time.Now().UTC() }}
}

// Deliver sends one owed signal and, once Temporal has it (or the workflow
// is gone), forgets it. A failure leaves it for the relay.
func (r *Relay) Deliver(ctx context.Context, row models.SignalOutbox) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := r.temporal.SignalWorkflow(ctx, signup.WorkflowID(row.SignupID), "", workflows.SignalPasswordSet,
		workflows.PasswordSet{UserID: row.UserID, Via: row.Via})
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		msg := err.Error()
		backoff := min(time.Duration(1<<min(row.Attempts, 8))*time.Second, 5*time.Minute)
		_ = r.db.WithContext(context.WithoutCancel(ctx)).Model(&models.SignalOutbox{}).Where("id = ?", row.ID).
			Updates(map[string]any{"attempts": row.Attempts + 1, "last_error": msg, "next_attempt_at": r.now().Add(backoff)}).Error
		return fmt.Errorf("signal %s: %w", row.SignupID, err)
	}
	if err := r.db.WithContext(context.WithoutCancel(ctx)).Where("id = ?", row.ID).Delete(&models.SignalOutbox{}).Error; err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// DeliverID delivers the owed signal with this id, if it is still owed.
func (r *Relay) DeliverID(ctx context.Context, id string) error {
	var row models.SignalOutbox
	if err := r.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return err
	}
	return r.Deliver(ctx, row)
}

// Run retries due signals every interval until ctx ends.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var due []models.SignalOutbox
		if err := r.db.WithContext(ctx).Where("next_attempt_at <= ?", r.now()).Order("next_attempt_at").Limit(100).Find(&due).Error; err != nil {
			if ctx.Err() == nil {
				r.log.Warn("signal outbox unreadable", "error", err)
			}
			continue
		}
		for _, row := range due {
			if err := r.Deliver(ctx, row); err != nil {
				r.log.Warn("owed signal not delivered yet", "signup_id", row.SignupID, "attempts", row.Attempts+1, "error", err)
			}
		}
	}
}
