package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// activityHeartbeatTimeout is how long a regular activity may go without a
// heartbeat before Temporal retries it elsewhere (activities heartbeat
// every third of it; see activities.keepAlive).
const activityHeartbeatTimeout = 15 * time.Second

// withRegularActivity gives regular activities (provision, invitation,
// expiry, release) their budget: retried with backoff for StepRetryBudget,
// then the sign-up needs attention.
func (w *signupWorkflow) withRegularActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, w.withHeartbeat(regularActivityOptions(w.in.Settings.StepRetryBudget)))
}

// withHeartbeat adds the heartbeat timeout for sign-ups at the version that
// has it.
func (w *signupWorkflow) withHeartbeat(o workflow.ActivityOptions) workflow.ActivityOptions {
	if w.versions.heartbeats >= 1 {
		o.HeartbeatTimeout = activityHeartbeatTimeout
	}
	return o
}

// regularActivityOptions retry a regular activity with backoff for budget.
func regularActivityOptions(budget time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToCloseTimeout: budget,
		StartToCloseTimeout:    min(time.Minute, budget),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// withStepLocalActivity is for the quick local activities of the wizard
// steps (and their saves): the caller is waiting on the other side of an
// HTTP request.
func (w *signupWorkflow) withStepLocalActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 15 * time.Second,
		StartToCloseTimeout:    5 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 2 * time.Second},
	})
}

// withSaveLocalActivity is for saves outside the wizard steps: nobody
// waits, so they retry for StepRetryBudget.
func (w *signupWorkflow) withSaveLocalActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: w.in.Settings.StepRetryBudget,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
}

// withVerifyLocalActivity is for the Verify button's local activity: the
// National Tax Service gets VerifyTimeout, retries included.
func (w *signupWorkflow) withVerifyLocalActivity(ctx workflow.Context) workflow.Context {
	budget := w.in.Settings.VerifyTimeout
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: budget,
		StartToCloseTimeout:    budget,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 3 * time.Second},
	})
}
