package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"
)

// The steps a failure of ProvisionAndInvite names, as the workflow reports
// them (signup.AdminView's failed_step).
const (
	StepProvision      = "provision"
	StepSendInvitation = "send_invitation"
)

// ProvisionAndInviteInput is a submitted sign-up and its first link.
type ProvisionAndInviteInput struct {
	Provision ProvisionInput
	Invite    SendInvitationInput
}

// ProvisionAndInvite is ProvisionOwner then SendInvitation, as one activity:
// one task for the two, not a task and a workflow task each, and the
// organization and owner provisioning made or found are not read again.
// Each half is idempotent as on its own, so a retry provisions nothing
// twice and replaces the link of the same Seq. A failure names its half
// (StepOf).
func (a *Activities) ProvisionAndInvite(ctx context.Context, in ProvisionAndInviteInput) (SendInvitationResult, error) {
	defer keepAlive(ctx)()
	p, err := a.provisionOwner(ctx, in.Provision)
	if err != nil {
		return SendInvitationResult{}, inStep(ctx, StepProvision, err)
	}
	res, err := a.sendInvitation(ctx, in.Invite, &p)
	if err != nil {
		return SendInvitationResult{}, inStep(ctx, StepSendInvitation, err)
	}
	return res, nil
}

// inStep is err as an application error that names step in its details,
// with err's type, message and retryability; any other error becomes its
// message, once (the step is in the details, not repeated before it). Once
// the activity's own context has ended (cancelled, past its deadline) err
// is passed on as it is, so that the SDK still reports the end as such: it
// is not a step's failure. A step's error that only wraps a context error
// of its own (a connection's timeout) still names its step.
func inStep(ctx context.Context, step string, err error) error {
	opts := temporal.ApplicationErrorOptions{Details: []any{step}}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		opts.NonRetryable, opts.Cause = app.NonRetryable(), app.Unwrap()
		return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), opts)
	}
	if ctx.Err() != nil {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), "", opts)
}

// StepOf is the step an activity's failure names (inStep), or "".
func StepOf(err error) string {
	var app *temporal.ApplicationError
	var step string
	if errors.As(err, &app) && app.HasDetails() && app.Details(&step) == nil {
		return step
	}
	return ""
}
