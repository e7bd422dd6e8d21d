package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
)

// operatorRequests are operators' actions waiting to be acted on.
type operatorRequests struct {
	cancel    *signup.OperatorInput
	retry     bool
	retryBy   *signup.OperatorInput
	resend    *signup.OperatorInput
	releasing bool // a release has begun: a cancel has nothing left to do
}

// stepFailure is the step that failed for good, while the sign-up needs
// attention.
type stepFailure struct {
	message string
	step    string
}

func (w *signupWorkflow) adminView() (signup.AdminView, error) {
	v := signup.AdminView{View: w.view, WorkflowID: signup.WorkflowID(w.in.SignupID)}
	if w.failure.message != "" {
		v.LastError, v.FailedStep = &w.failure.message, &w.failure.step
	}
	return v, nil
}

// attempt runs a step; when it fails for good (non-retryable, or out of its
// retry budget) the sign-up goes to needs_attention with the error, and waits
// for an operator's retry (run it again) or cancel (errCanceled).
func (w *signupWorkflow) attempt(ctx workflow.Context, step string, fn func(workflow.Context) error) error {
	for {
		if w.ops.cancel != nil {
			return errCanceled
		}
		err := fn(ctx)
		if err == nil {
			if w.failure.message != "" {
				w.failure = stepFailure{}
			}
			return nil
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) {
			return err
		}
		prev := w.view.Status
		failed := step
		if s := activities.StepOf(err); s != "" {
			// An activity of two steps names the one that failed.
			failed = s
		}
		w.failure = stepFailure{message: failureMessage(err), step: failed}
		w.log.Warn("step failed; sign-up needs attention", "step", failed, "error", w.failure.message)
		w.transition(ctx, signup.StatusNeedsAttention, systemActor, signup.ActionStepFailed, failed+": "+w.failure.message)
		if err := workflow.Await(ctx, func() bool { return w.ops.retry || w.ops.cancel != nil }); err != nil {
			return err
		}
		if !w.ops.retry {
			return errCanceled
		}
		w.ops.retry = false
		w.transition(ctx, prev, w.operatorOrSystem(w.ops.retryBy), signup.ActionRetried, failed)
	}
}

// releaseIfCancelled releases the sign-up as cancelled when err is an
// operator's cancel, and passes any other err on.
func (w *signupWorkflow) releaseIfCancelled(ctx workflow.Context, err error) error {
	if errors.Is(err, errCanceled) {
		return w.release(ctx, signup.StatusCancelled, w.cancelActor(), signup.ActionCancelled, "")
	}
	return err
}

// release gives back what the sign-up holds and ends it as abandoned or
// cancelled; detail goes to the audit trail.
func (w *signupWorkflow) release(ctx workflow.Context, to signup.Status, actor signup.Actor, action signup.Action, detail string) error {
	if err := w.mu.Lock(ctx); err != nil {
		return err
	}
	defer w.mu.Unlock()
	// A failed release waits for an operator like any other step; a cancel
	// is then what is being retried, so only retry may end the wait.
	w.ops.cancel = nil
	w.ops.releasing = true
	err := w.attempt(ctx, "release", func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(w.withRegularActivity(ctx), a.ReleaseSignup,
			activities.ReleaseInput{SignupID: w.in.SignupID, Reason: to}).Get(ctx, nil)
	})
	if err != nil {
		return err
	}
	w.transition(ctx, to, actor, action, detail)
	return nil
}

// cancelActor is the operator who asked for the cancel.
func (w *signupWorkflow) cancelActor() signup.Actor {
	if w.ops.cancel != nil {
		return signup.Actor{Kind: signup.ActorOperator, Name: w.ops.cancel.Operator}
	}
	return signup.Actor{Kind: signup.ActorOperator}
}

func (w *signupWorkflow) operatorOrSystem(op *signup.OperatorInput) signup.Actor {
	if op == nil {
		return systemActor
	}
	return signup.Actor{Kind: signup.ActorOperator, Name: op.Operator}
}

// The operators' Updates: retry, resend, cancel.

func (w *signupWorkflow) validateRetry(signup.OperatorInput) error {
	if w.view.Status != signup.StatusNeedsAttention {
		return stepError(signup.CodeNotNeedsAttention, "only a sign-up in needs_attention can be retried; it is "+string(w.view.Status), nil)
	}
	return nil
}

func (w *signupWorkflow) retryStep(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if w.view.Status != signup.StatusNeedsAttention {
		return w.view, w.validateRetry(in)
	}
	// Answer once the step has run again: the first transition after the
	// "retried" one (to the next status, or back to needs_attention).
	n := w.saved.transitions
	w.ops.retry = true
	w.ops.retryBy = &in
	err := workflow.Await(ctx, func() bool { return w.saved.transitions >= n+2 })
	return w.view, err
}

func (w *signupWorkflow) validateResend(signup.OperatorInput) error {
	if w.view.Status != signup.StatusInvited && w.view.Status != signup.StatusResetRequired {
		return stepError(signup.CodeNotInvited, "only an invited sign-up can be sent a new invitation; it is "+string(w.view.Status), nil)
	}
	if w.ops.resend != nil {
		return stepError(signup.CodeNotInvited, "a new invitation is being sent", nil)
	}
	return nil
}

func (w *signupWorkflow) resendInvite(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if err := w.validateResend(in); err != nil {
		return w.view, err
	}
	seq := w.invite.seq
	w.ops.resend = &in
	err := workflow.Await(ctx, func() bool {
		return (w.invite.seq > seq && w.ops.resend == nil) || w.view.Status == signup.StatusNeedsAttention || w.view.Status.Final()
	})
	return w.view, err
}

func (w *signupWorkflow) validateCancel(signup.OperatorInput) error {
	if w.view.Status.Final() {
		return stepError(signup.CodeNotCancellable, "a sign-up that is "+string(w.view.Status)+" cannot be cancelled", nil)
	}
	return nil
}

func (w *signupWorkflow) cancelSignup(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if err := w.validateCancel(in); err != nil {
		return w.view, err
	}
	if w.ops.cancel == nil && !w.ops.releasing {
		w.ops.cancel = &in
	}
	err := workflow.Await(ctx, func() bool { return w.view.Status.Final() })
	return w.view, err
}
