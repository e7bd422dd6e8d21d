package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
)

// PurgeWorkflowName is the purge workflow's type name; the Schedule and
// recorded histories refer to it.
const PurgeWorkflowName = "Purge"

// PurgeInput is one purge run: the Schedule's (Retention set), or an
// operator's erase of one sign-up (SignupID set).
type PurgeInput struct {
	// Retention: erase sign-ups that ended (abandoned or cancelled) longer
	// ago than this.
	Retention time.Duration `json:",omitempty"`
	// BatchSize is how many sign-ups one activity erases.
	BatchSize int `json:",omitempty"`
	// SweepAfter: uploads unfinished for longer than this belong to a
	// crashed process and are removed, with other crash debris.
	SweepAfter time.Duration `json:",omitempty"`

	// SignupID erases this one sign-up now, for Operator (a person's
	// request), instead of the retention run.
	SignupID string `json:",omitempty"`
	Operator string `json:",omitempty"`
	Reason   string `json:",omitempty"`
}

// PurgeResult says what a run did.
type PurgeResult struct {
	Erased int
	Swept  int
	// Signup is the erased sign-up of an operator's erase.
	Signup *signup.AdminView `json:",omitempty"`
}

// maxPurgeBatches bounds one run's history; what is left is the next run's.
const maxPurgeBatches = 100

// Purge erases ended sign-ups' personal data in batches, then sweeps what
// crashed uploads left; or, given a SignupID, erases that sign-up now. Each
// activity is idempotent, so a retried batch or a run started again erases
// nothing twice.
func Purge(ctx workflow.Context, in PurgeInput) (PurgeResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    activityHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{signup.CodeNotEnded, signup.CodeSignupNotFound},
		},
	})
	var res PurgeResult
	if in.SignupID != "" {
		var v signup.AdminView
		err := workflow.ExecuteActivity(ctx, a.EraseSignup, activities.EraseInput{
			SignupID: in.SignupID, Operator: in.Operator, Reason: in.Reason,
		}).Get(ctx, &v)
		if err != nil {
			return res, err
		}
		res.Erased, res.Signup = 1, &v
		return res, nil
	}
	batch := max(in.BatchSize, 1)
	cutoff := workflow.Now(ctx).Add(-in.Retention)
	for range maxPurgeBatches {
		var b activities.PurgeBatchResult
		if err := workflow.ExecuteActivity(ctx, a.PurgeBatch, activities.PurgeBatchInput{Cutoff: cutoff, Limit: batch}).Get(ctx, &b); err != nil {
			return res, err
		}
		res.Erased += b.Erased
		if !b.More {
			break
		}
	}
	if in.SweepAfter > 0 {
		before := workflow.Now(ctx).Add(-in.SweepAfter)
		if err := workflow.ExecuteActivity(ctx, a.SweepCertificates, activities.SweepInput{Before: before}).Get(ctx, &res.Swept); err != nil {
			return res, err
		}
	}
	workflow.GetLogger(ctx).Info("purge done", "erased", res.Erased, "swept", res.Swept)
	return res, nil
}
