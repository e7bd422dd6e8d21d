package activities

import (
	"context"
	"errors"
	"time"

	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
)

// PurgeBatchInput asks to erase sign-ups that ended before Cutoff.
type PurgeBatchInput struct {
	Cutoff time.Time
	Limit  int
}

// PurgeBatchResult says how many were erased and whether more are due.
type PurgeBatchResult struct {
	Erased int
	More   bool
}

// PurgeBatch erases the personal data of up to Limit sign-ups that ended
// (abandoned or cancelled) before Cutoff, and deletes their closed workflows
// from Temporal. Erasing is idempotent: a retried batch finds the sign-ups
// it erased gone from the due list, and counts only what it erased itself.
func (a *Activities) PurgeBatch(ctx context.Context, in PurgeBatchInput) (PurgeBatchResult, error) {
	defer keepAlive(ctx)()
	ids, err := a.eraser.Due(ctx, in.Cutoff, in.Limit)
	if err != nil {
		return PurgeBatchResult{}, err
	}
	res := PurgeBatchResult{More: len(ids) == in.Limit}
	for _, id := range ids {
		_, erased, err := a.eraser.Erase(ctx, id, signup.Actor{Kind: signup.ActorSystem}, "", retention.TriggerRetention)
		if errors.Is(err, retention.ErrNotEnded) || errors.Is(err, retention.ErrNotFound) {
			continue // changed since it was listed
		}
		if err != nil {
			return res, err
		}
		if erased {
			res.Erased++
		}
		a.forgetWorkflow(ctx, id)
	}
	return res, nil
}

// EraseInput is an operator's erase of one sign-up (a person's request).
type EraseInput struct {
	SignupID string
	Operator string
	Reason   string
}

// EraseSignup erases one ended sign-up now. It fails for good with
// not_ended before the sign-up is abandoned or cancelled, and with
// signup_not_found for an unknown id. Erasing twice is erasing once.
func (a *Activities) EraseSignup(ctx context.Context, in EraseInput) (signup.AdminView, error) {
	defer keepAlive(ctx)()
	actor := signup.Actor{Kind: signup.ActorOperator, Name: in.Operator}
	row, _, err := a.eraser.Erase(ctx, in.SignupID, actor, in.Reason, retention.TriggerRequest)
	switch {
	case errors.Is(err, retention.ErrNotEnded):
		return signup.AdminView{}, permanent(signup.CodeNotEnded, "only an abandoned or cancelled sign-up can be erased; it is "+row.Status, nil)
	case errors.Is(err, retention.ErrNotFound):
		return signup.AdminView{}, permanent(signup.CodeSignupNotFound, "no such sign-up", nil)
	case err != nil:
		return signup.AdminView{}, err
	}
	a.forgetWorkflow(ctx, in.SignupID)
	return signup.AdminViewOf(row)
}

// forgetWorkflow deletes an erased sign-up's closed workflow from Temporal
// (its history and search attributes). A failure is logged: the namespace's
// retention removes it in time anyway.
func (a *Activities) forgetWorkflow(ctx context.Context, signupID string) {
	if a.temporal == nil {
		return
	}
	// The workflow writes the ended status just before it completes: give
	// it a few seconds to close.
	for try := 0; ; try++ {
		err := retention.ForgetWorkflow(ctx, a.temporal, a.namespace, signupID)
		if errors.Is(err, retention.ErrStillRunning) && try < 5 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
				continue
			}
		}
		if err != nil {
			a.log.WarnContext(ctx, "erased sign-up's workflow not deleted from Temporal", "signup_id", signupID, "error", err)
		}
		return
	}
}

// SweepInput asks to remove what crashed uploads and deletions left before
// Before.
type SweepInput struct {
	Before time.Time
}

// SweepCertificates removes unfinished uploads (a process killed mid-way),
// retired certificates not yet deleted, and the backend's debris.
func (a *Activities) SweepCertificates(ctx context.Context, in SweepInput) (int, error) {
	defer keepAlive(ctx)()
	res, err := a.certs.Sweep(ctx, in.Before, 200)
	n := res.Unfinished + res.Retired + res.Debris
	if n > 0 {
		a.log.InfoContext(ctx, "certificate sweep", "unfinished_uploads", res.Unfinished, "retired", res.Retired, "debris", res.Debris)
	}
	return n, err
}
