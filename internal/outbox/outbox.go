// Package outbox delivers the signals owed to sign-up workflows. The API
// writes each one in the same transaction as the change it reports, held
// by itself for a lease (models.SignalLease), and sends it at once
// (DeliverHeld); the relay here retries the ones that did not get through
// (Temporal down, the API killed in between) until they do.
//
// Every api replica runs a relay. Before sending, a relay claims the row
// with one conditional UPDATE (next_attempt_at must be due, that is, no
// one's lease is running; it becomes the end of the relay's lease, with a
// claim token of its own), so that one row is sent by one holder however
// many run; a holder that dies lets the row go when its lease ends. This
// works alike on PostgreSQL and SQLite.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
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

// errTaken says someone else holds the row (its writer or another relay),
// or it is delivered.
var errTaken = errors.New("outbox: row held by another or delivered")

// claim takes a due row for this relay unless someone holds it: it must
// still be due now (no one's lease running), and a claim moves
// next_attempt_at to the end of this relay's lease, past now, so the
// condition fails for a second claimant.
func (r *Relay) claim(ctx context.Context, row models.SignalOutbox) (models.SignalOutbox, error) {
	token := uuid.NewString()
	now := r.now()
	until := now.Add(models.SignalLease)
	res := r.db.WithContext(ctx).Model(&models.SignalOutbox{}).
		Where("id = ? AND next_attempt_at <= ?", row.ID, now).
		Updates(map[string]any{"claim_token": token, "next_attempt_at": until})
	if res.Error != nil {
		return row, fmt.Errorf("outbox: claim: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return row, errTaken
	}
	row.ClaimToken, row.NextAttemptAt = &token, until
	return row, nil
}

// deliver sends one claimed row and, once Temporal has it (or the workflow
// is gone), forgets it. A failure releases it for a later attempt.
func (r *Relay) deliver(ctx context.Context, row models.SignalOutbox) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := r.temporal.SignalWorkflow(ctx, signup.WorkflowID(row.SignupID), "", workflows.SignalPasswordSet,
		workflows.PasswordSet{UserID: row.UserID, Via: row.Via})
	mine := r.db.WithContext(context.WithoutCancel(ctx)).Model(&models.SignalOutbox{}).
		Where("id = ? AND claim_token = ?", row.ID, *row.ClaimToken)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		msg := err.Error()
		backoff := min(time.Duration(1<<min(row.Attempts, 8))*time.Second, 5*time.Minute)
		_ = mine.Updates(map[string]any{"attempts": row.Attempts + 1, "last_error": msg,
			"next_attempt_at": r.now().Add(backoff), "claim_token": nil}).Error
		return fmt.Errorf("signal %s: %w", row.SignupID, err)
	}
	if err := mine.Delete(&models.SignalOutbox{}).Error; err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// claimAndDeliver claims row and sends it, reporting whether this relay
// sent it (false, nil: another relay holds it).
func (r *Relay) claimAndDeliver(ctx context.Context, row models.SignalOutbox) (bool, error) {
	claimed, err := r.claim(ctx, row)
	if errors.Is(err, errTaken) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, r.deliver(ctx, claimed)
}

// DeliverHeld sends an owed signal its caller holds: the row as its writer
// wrote it, with its claim token, in the lease it wrote (no claim, so the
// one statement is the delete once sent). Should the lease have run out
// and a relay have claimed the row since, the relay's claim stands: the
// row stays for it (and the workflow may get the signal twice, which it
// takes as once).
func (r *Relay) DeliverHeld(ctx context.Context, row models.SignalOutbox) error {
	if row.ClaimToken == nil {
		return fmt.Errorf("outbox: row %s is not held", row.ID)
	}
	return r.deliver(ctx, row)
}

// RunOnce delivers the rows that are due, returning how many this relay
// sent (claimed and delivered).
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	var due []models.SignalOutbox
	if err := r.db.WithContext(ctx).Where("next_attempt_at <= ?", r.now()).Order("next_attempt_at").Limit(100).Find(&due).Error; err != nil {
		return 0, fmt.Errorf("signal outbox unreadable: %w", err)
	}
	sent := 0
	for _, row := range due {
		if ctx.Err() != nil {
			break
		}
		ok, err := r.claimAndDeliver(ctx, row)
		if err != nil {
			r.log.Warn("owed signal not delivered yet", "signup_id", row.SignupID, "attempts", row.Attempts+1, "error", err)
			continue
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// Run retries due signals every interval until ctx ends; the delivery in
// hand when it ends is finished first.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("signal outbox", "error", err)
		}
	}
}
