// Package outbox delivers the signals owed to sign-up workflows. The API
// writes each one in the same transaction as the change it reports and
// tries it at once; the relay here retries the ones that did not get
// through (Temporal down, the API killed in between) until they do.
//
// Every api replica runs a relay. Before sending, a relay claims the row
// with one conditional UPDATE (next_attempt_at must still be due; it
// becomes the end of the relay's lease, with a claim token of its own), so that one
// row is sent by one relay however many run; a relay that dies holding a
// row lets it go when the lease ends. This works alike on PostgreSQL and
// SQLite.
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
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// Lease is how long a claimed row is left to its relay: longer than one
// delivery may take (its 5 s timeout).
const Lease = 30 * time.Second

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

// errTaken says another relay holds the row, or it is delivered.
var errTaken = errors.New("outbox: row taken by another relay or delivered")

// claim takes row for this relay unless another has taken it since it was
// read: a claim moves next_attempt_at to the end of a lease, past both the
// time the row was due and now, so the condition fails for the second
// claimant.
func (r *Relay) claim(ctx context.Context, row models.SignalOutbox) (models.SignalOutbox, error) {
	token := uuid.NewString()
	now := r.now()
	until := now.Add(Lease)
	threshold := row.NextAttemptAt
	if threshold.Before(now) {
		threshold = now
	}
	res := r.db.WithContext(ctx).Model(&models.SignalOutbox{}).
		Where("id = ? AND next_attempt_at <= ?", row.ID, threshold).
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

// Deliver claims and sends one owed signal; a row another relay holds is
// left to it.
func (r *Relay) Deliver(ctx context.Context, row models.SignalOutbox) error {
	_, err := r.claimAndDeliver(ctx, row)
	return err
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

// DeliverID delivers the owed signal with this id, if it is still owed (a
// row that is gone is gorm.ErrRecordNotFound).
//
// It claims the row as it reads it, in one UPDATE … RETURNING. Reading first
// and claiming on the read's next_attempt_at (as Deliver does) took the row
// whatever its lease, unless another claim came between the two statements;
// the one statement takes it likewise, with nothing in between.
func (r *Relay) DeliverID(ctx context.Context, id string) error {
	token := uuid.NewString()
	until := r.now().Add(Lease)
	var rows []models.SignalOutbox
	if err := r.db.WithContext(ctx).Raw(claimByID, token, until, id).Scan(&rows).Error; err != nil {
		return fmt.Errorf("outbox: claim: %w", err)
	}
	if len(rows) == 0 {
		return gorm.ErrRecordNotFound
	}
	row := rows[0]
	row.ClaimToken, row.NextAttemptAt = &token, until
	return r.deliver(ctx, row)
}

// claimByID claims a row by id and returns what deliver needs of it.
// Arguments: claim token, lease end, id.
const claimByID = `UPDATE signal_outbox SET claim_token = ?, next_attempt_at = ? WHERE id = ?
RETURNING id, signup_id, user_id, via, attempts`

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
