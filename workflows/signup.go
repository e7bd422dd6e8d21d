package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/terms"
	"github.com/kcloud/onboarding/models"
)

// a refers to the activities by method; the worker registers the real value.
var a *activities.Activities

var (
	userActor   = signup.Actor{Kind: models.ActorUser}
	systemActor = signup.Actor{Kind: models.ActorSystem}
	errCanceled = errors.New("sign-up cancelled")
)

// state is one running sign-up.
type state struct {
	in       Input
	log      log.Logger
	view     signup.View
	version  int64
	verified *signup.Verification

	lastError  string
	failedStep string

	steps       int       // accepted wizard steps, to notice idleness
	lastStepAt  time.Time // when the last wizard step was accepted
	timers      workflow.Version
	heartbeats  workflow.Version
	maxAge      workflow.Version
	submitted   bool
	cancel      *signup.OperatorInput
	retry       bool
	retryBy     *signup.OperatorInput
	releasing   bool
	transitions int // status changes recorded so far
	resend      *signup.OperatorInput
	passwordSet bool
	inviteSeq   int
	windowStart time.Time

	mu workflow.Mutex // one wizard step (or release) at a time

	searchAttrs [3]string // values last upserted: status, organization name, business number
}

// Signup is the sign-up workflow. It returns the final view.
func Signup(ctx workflow.Context, in Input) (signup.View, error) {
	now := workflow.Now(ctx)
	if !in.CreatedAt.IsZero() {
		now = in.CreatedAt
	}
	s := &state{
		in:   in,
		log:  workflow.GetLogger(ctx),
		view: signup.View{SignupID: in.SignupID, AcceptedTerms: []string{}, CreatedAt: now, UpdatedAt: now},
		mu:   workflow.NewMutex(ctx),
	}
	if len(in.AcceptedTerms) > 0 {
		// Step 1 came with the start, before any Update may be handled.
		s.view.AcceptedTerms = terms.Normalize(in.AcceptedTerms)
		s.view.Status = signup.StatusUserInfo
	}
	// Search attributes given at start need no upsert.
	if st, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(SignupStatusKey); ok {
		s.searchAttrs[0] = st
	}
	if err := s.register(ctx); err != nil {
		return s.view, err
	}
	// Version 1 (2026-11): one idle timer per window instead of one per
	// step, and timers cancelled once not needed, instead of left to fire
	// into needless workflow tasks. Sign-ups started before keep version 0.
	s.timers = workflow.GetVersion(ctx, changeTimers, workflow.DefaultVersion, 1)
	// Version 1 (2026-11): regular activities heartbeat, with a heartbeat
	// timeout, so an activity whose worker died is retried after
	// activityHeartbeatTimeout instead of its start-to-close timeout.
	s.heartbeats = workflow.GetVersion(ctx, changeHeartbeats, workflow.DefaultVersion, 1)
	// Version 1 (2026-11): an unsubmitted sign-up also ends Settings.MaxAge
	// after its start, however often it steps: the idle window alone let a
	// client hold a name reservation forever by stepping now and then.
	s.maxAge = workflow.GetVersion(ctx, changeMaxAge, workflow.DefaultVersion, 1)
	s.lastStepAt = now
	if len(in.AcceptedTerms) > 0 {
		// Record step 1 (audit, metrics); the API wrote the first
		// read-model row already. Under the step lock: a step may arrive
		// while this save runs, and must not be overwritten by it.
		if err := s.mu.Lock(ctx); err != nil {
			return s.view, err
		}
		s.save(ctx, &activities.AuditEntry{Actor: userActor, Action: "terms_accepted", To: signup.StatusUserInfo})
		s.mu.Unlock()
	}
	err := s.run(ctx)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return s.view, err
	}
	return s.view, err
}

func (s *state) run(ctx workflow.Context) error {
	if err := s.wizard(ctx); err != nil {
		if errors.Is(err, errCanceled) {
			return s.release(ctx, signup.StatusCancelled, s.operator(), "cancelled", "")
		}
		return err
	}
	if s.view.Status.Final() {
		return nil
	}
	var prov activities.ProvisionResult
	err := s.attempt(ctx, "provision", func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(s.stepCtx(ctx), a.ProvisionOwner, activities.ProvisionInput{
			SignupID: s.in.SignupID, Business: *s.view.Business, Organization: *s.view.Organization,
			CertificateID: s.view.Certificate.ID,
		}).Get(ctx, &prov)
	})
	if err != nil {
		return s.afterFailure(ctx, err)
	}
	if s.cancel != nil {
		return s.release(ctx, signup.StatusCancelled, s.operator(), "cancelled", "")
	}
	if err := s.sendInvite(ctx, activities.KindInvite, s.operatorOrSystem(nil), "invitation_sent"); err != nil {
		return s.afterFailure(ctx, err)
	}
	return s.awaitPassword(ctx)
}

func (s *state) afterFailure(ctx workflow.Context, err error) error {
	if errors.Is(err, errCanceled) {
		return s.release(ctx, signup.StatusCancelled, s.operator(), "cancelled", "")
	}
	return err
}

// changeTimers names the version change of the timers.
const changeTimers = "timers-v1"

// changeHeartbeats names the version change that gave regular activities a
// heartbeat timeout.
const changeHeartbeats = "activity-heartbeats-v1"

// changeMaxAge names the version change that bounds an unsubmitted sign-up's
// age (SIGNUP_MAX_AGE), histories v5.
const changeMaxAge = "signup-max-age-v1"

// activityHeartbeatTimeout is how long a regular activity may go without a
// heartbeat before Temporal retries it elsewhere (activities heartbeat
// every third of it; see activities.keepAlive).
const activityHeartbeatTimeout = 15 * time.Second

// wizard waits for the steps until submit, abandoning the sign-up after
// IdleTimeout without a step or (version signup-max-age-v1) MaxAge after its
// start, or releasing it on an operator's cancel.
func (s *state) wizard(ctx workflow.Context) error {
	if s.timers == workflow.DefaultVersion {
		return s.wizardV0(ctx)
	}
	for !s.submitted {
		// One timer for the idle window; steps move the window's end, and
		// the timer is set again for what is left only when it fires.
		deadline := s.wizardDeadline()
		fired, err := awaitUntil(ctx, deadline.Sub(workflow.Now(ctx)), func() bool { return s.submitted || s.cancel != nil })
		if err != nil {
			return err
		}
		if s.submitted {
			return nil
		}
		if s.cancel != nil {
			return errCanceled
		}
		if !fired || workflow.Now(ctx).Before(s.wizardDeadline()) {
			continue
		}
		// Idle (or too old): but a step may be half-way; take the lock and
		// look again.
		if err := s.mu.Lock(ctx); err != nil {
			return err
		}
		over := !workflow.Now(ctx).Before(s.wizardDeadline()) && !s.submitted && s.cancel == nil
		s.mu.Unlock()
		if over {
			return s.release(ctx, signup.StatusAbandoned, systemActor, "abandoned", s.abandonReason(ctx))
		}
	}
	return nil
}

// wizardDeadline is when an unsubmitted sign-up is abandoned: IdleTimeout
// after its last step or, at version signup-max-age-v1, MaxAge after its
// start, whichever comes first.
func (s *state) wizardDeadline() time.Time {
	deadline := s.lastStepAt.Add(s.in.Settings.IdleTimeout)
	if s.maxAge >= 1 && s.in.Settings.MaxAge > 0 {
		if end := s.view.CreatedAt.Add(s.in.Settings.MaxAge); end.Before(deadline) {
			deadline = end
		}
	}
	return deadline
}

// abandonReason says, for the audit trail, which bound ended the sign-up.
func (s *state) abandonReason(ctx workflow.Context) string {
	if workflow.Now(ctx).Before(s.lastStepAt.Add(s.in.Settings.IdleTimeout)) {
		return "max_age"
	}
	return "idle"
}

// awaitUntil waits for cond or for d to pass, whichever comes first, and
// cancels the timer when cond came first. It reports whether time ran out.
func awaitUntil(ctx workflow.Context, d time.Duration, cond func() bool) (bool, error) {
	if cond() {
		return false, nil
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(tctx, max(d, 0))
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		return false, err
	}
	return !cond(), nil
}

// wizardV0 is the wizard of version 0, with a fresh timer per step. It
// stays for sign-ups started before version 1.
func (s *state) wizardV0(ctx workflow.Context) error {
	for !s.submitted {
		steps := s.steps
		ok, err := workflow.AwaitWithTimeout(ctx, s.in.Settings.IdleTimeout, func() bool {
			return s.submitted || s.cancel != nil || s.steps != steps
		})
		if err != nil {
			return err
		}
		if s.submitted {
			return nil
		}
		if s.cancel != nil {
			return errCanceled
		}
		if ok {
			continue
		}
		// Idle: but a step may be half-way; take the lock and look again.
		if err := s.mu.Lock(ctx); err != nil {
			return err
		}
		idle := s.steps == steps && !s.submitted && s.cancel == nil
		s.mu.Unlock()
		if idle {
			return s.release(ctx, signup.StatusAbandoned, systemActor, "abandoned", "")
		}
	}
	return nil
}

// release gives back what the sign-up holds and ends it as abandoned or
// cancelled; detail goes to the audit trail.
func (s *state) release(ctx workflow.Context, to signup.Status, actor signup.Actor, action, detail string) error {
	if err := s.mu.Lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	// A failed release waits for an operator like any other step; a cancel
	// is then what is being retried, so only retry may end the wait.
	s.cancel = nil
	s.releasing = true
	err := s.attempt(ctx, "release", func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(s.stepCtx(ctx), a.ReleaseSignup,
			activities.ReleaseInput{SignupID: s.in.SignupID, Reason: string(to)}).Get(ctx, nil)
	})
	if err != nil {
		return err
	}
	s.transition(ctx, to, actor, action, detail)
	return nil
}

// attempt runs a step; when it fails for good (non-retryable, or out of its
// retry budget) the sign-up goes to needs_attention with the error, and waits
// for an operator's retry (run it again) or cancel (errCanceled).
func (s *state) attempt(ctx workflow.Context, step string, fn func(workflow.Context) error) error {
	for {
		if s.cancel != nil {
			return errCanceled
		}
		err := fn(ctx)
		if err == nil {
			if s.lastError != "" {
				s.lastError, s.failedStep = "", ""
			}
			return nil
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) {
			return err
		}
		prev := s.view.Status
		s.lastError, s.failedStep = failureMessage(err), step
		s.log.Warn("step failed; sign-up needs attention", "step", step, "error", s.lastError)
		s.transition(ctx, signup.StatusNeedsAttention, systemActor, "step_failed", step+": "+s.lastError)
		if err := workflow.Await(ctx, func() bool { return s.retry || s.cancel != nil }); err != nil {
			return err
		}
		if !s.retry {
			return errCanceled
		}
		s.retry = false
		s.transition(ctx, prev, s.operatorOrSystem(s.retryBy), "retried", step)
	}
}

// failureMessage is the innermost message of an activity failure.
func failureMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg := app.Error()
		if t := app.Type(); t != "" && t != "wrapError" {
			return t + ": " + msg
		}
		return msg
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "retry budget used up: " + err.Error()
	}
	return err.Error()
}

// sendInvite mails the next link with a fresh expiry window.
func (s *state) sendInvite(ctx workflow.Context, kind string, actor signup.Actor, action string) error {
	var res activities.SendInvitationResult
	var expires time.Time
	err := s.attempt(ctx, "send_invitation", func(ctx workflow.Context) error {
		s.inviteSeq++
		s.windowStart = workflow.Now(ctx)
		expires = s.windowStart.Add(s.in.Settings.InviteTTL)
		return workflow.ExecuteActivity(s.stepCtx(ctx), a.SendInvitation, activities.SendInvitationInput{
			SignupID: s.in.SignupID, Seq: s.inviteSeq, Kind: kind, ExpiresAt: expires,
		}).Get(ctx, &res)
	})
	if err != nil {
		return err
	}
	if res.AlreadyActive {
		s.passwordSet = true
	}
	sent := res.SentAt
	s.view.Invite = &signup.Invite{ExpiresAt: expires}
	if !sent.IsZero() {
		s.view.Invite.SentAt = &sent
	}
	s.transition(ctx, signup.StatusInvited, actor, action, "")
	return nil
}

// awaitPassword waits for the password_set signal against the invitation's
// expiry, sending a reminder before it, and afterwards (reset_required) for
// the password to be set by a reset. Operators may resend or cancel.
func (s *state) awaitPassword(ctx workflow.Context) error {
	wake := func() bool { return s.passwordSet || s.resend != nil || s.cancel != nil }
	for {
		timedOut := false
		if s.view.Status == signup.StatusInvited {
			now := workflow.Now(ctx)
			next := s.view.Invite.ExpiresAt
			if s.reminderDue() {
				next = next.Add(-s.in.Settings.InviteReminderBefore)
			}
			if s.timers == workflow.DefaultVersion {
				ok, err := workflow.AwaitWithTimeout(ctx, max(next.Sub(now), 0), wake)
				if err != nil {
					return err
				}
				timedOut = !ok
			} else {
				fired, err := awaitUntil(ctx, next.Sub(now), wake)
				if err != nil {
					return err
				}
				timedOut = fired
			}
		} else if err := workflow.Await(ctx, wake); err != nil {
			return err
		}

		switch {
		case s.passwordSet:
			s.transition(ctx, signup.StatusActive, userActor, "password_set", "")
			return nil
		case s.cancel != nil:
			return s.release(ctx, signup.StatusCancelled, s.operator(), "cancelled", "")
		case s.resend != nil:
			op := s.resend
			if err := s.sendInvite(ctx, activities.KindResend, s.operatorOrSystem(op), "invitation_resent"); err != nil {
				return s.afterFailure(ctx, err)
			}
			s.resend = nil
		case timedOut && !workflow.Now(ctx).Before(s.view.Invite.ExpiresAt):
			if err := s.expire(ctx); err != nil {
				return s.afterFailure(ctx, err)
			}
		case timedOut:
			s.remind(ctx)
		}
	}
}

func (s *state) reminderDue() bool {
	before := s.in.Settings.InviteReminderBefore
	return before > 0 && before < s.in.Settings.InviteTTL && !s.view.Invite.Reminded
}

// remind mails a fresh link (killing the old one once it is out). A reminder
// that cannot be sent is logged and skipped: the earlier link still works.
func (s *state) remind(ctx workflow.Context) {
	expires := s.view.Invite.ExpiresAt
	budget := min(s.in.Settings.StepRetryBudget, expires.Sub(workflow.Now(ctx)))
	actx := workflow.WithActivityOptions(ctx, s.withHeartbeat(stepOptions(max(budget, time.Second))))
	s.inviteSeq++
	var res activities.SendInvitationResult
	err := workflow.ExecuteActivity(actx, a.SendInvitation, activities.SendInvitationInput{
		SignupID: s.in.SignupID, Seq: s.inviteSeq, Kind: activities.KindReminder, ExpiresAt: expires,
	}).Get(ctx, &res)
	s.view.Invite.Reminded = true
	if err != nil {
		s.log.Warn("reminder not sent", "error", err)
		s.save(ctx, &activities.AuditEntry{Actor: systemActor, Action: "reminder_failed", From: s.view.Status,
			To: s.view.Status, Detail: failureMessage(err)})
		return
	}
	if res.AlreadyActive {
		s.passwordSet = true
	}
	s.save(ctx, &activities.AuditEntry{Actor: systemActor, Action: "reminder_sent", From: s.view.Status, To: s.view.Status})
}

func (s *state) expire(ctx workflow.Context) error {
	var res activities.ExpireResult
	err := s.attempt(ctx, "expire_invitation", func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(s.stepCtx(ctx), a.ExpireInvitation,
			activities.ExpireInput{SignupID: s.in.SignupID}).Get(ctx, &res)
	})
	if err != nil {
		return err
	}
	if res.AlreadyActive {
		s.passwordSet = true
		return nil
	}
	s.transition(ctx, signup.StatusResetRequired, systemActor, "invitation_expired", "")
	return nil
}

func (s *state) operator() signup.Actor {
	if s.cancel != nil {
		return signup.Actor{Kind: models.ActorOperator, Name: s.cancel.Operator}
	}
	return signup.Actor{Kind: models.ActorOperator}
}

func (s *state) operatorOrSystem(op *signup.OperatorInput) signup.Actor {
	if op == nil {
		return systemActor
	}
	return signup.Actor{Kind: models.ActorOperator, Name: op.Operator}
}

// transition moves the sign-up to a status and records it. Outside the
// steps a failed save is logged, not fatal: the workflow holds the truth
// and the next save carries it.
func (s *state) transition(ctx workflow.Context, to signup.Status, actor signup.Actor, action, detail string) {
	from := s.view.Status
	s.view.Status = to
	s.transitions++
	s.save(ctx, &activities.AuditEntry{Actor: actor, Action: action, From: from, To: to, Detail: detail})
}

func (s *state) save(ctx workflow.Context, audit *activities.AuditEntry) {
	next := s.view
	next.UpdatedAt = workflow.Now(ctx)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: s.in.Settings.StepRetryBudget,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
	if err := s.persist(lctx, next, audit); err != nil {
		s.log.Error("saving the sign-up view failed", "error", err)
	}
}

// persist writes next (and its audit entry) to the read model and, on
// success, makes it the current view and upserts the search attributes.
// The version moves on even when the save fails, so a save that did land
// after a timeout can never hide a later one.
func (s *state) persist(ctx workflow.Context, next signup.View, audit *activities.AuditEntry) error {
	s.version++
	err := workflow.ExecuteLocalActivity(ctx, a.SaveSignup, activities.SaveSignupInput{
		View: next, TokenHash: s.in.TokenHash, Version: s.version,
		LastError: s.lastError, FailedStep: s.failedStep, Audit: audit,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	s.view = next
	s.upsertSearchAttributes(ctx)
	return nil
}

// upsertSearchAttributes tells Temporal's visibility the sign-up's status,
// organization name and business number whenever one of them changed.
func (s *state) upsertSearchAttributes(ctx workflow.Context) {
	var now [3]string
	now[0] = string(s.view.Status)
	if s.view.Organization != nil {
		now[1] = s.view.Organization.OrganizationName
	}
	if s.view.Business != nil {
		now[2] = s.view.Business.BusinessNumber
	}
	if now == s.searchAttrs {
		return
	}
	keys := [3]temporal.SearchAttributeKeyKeyword{SignupStatusKey, OrganizationNameKey, BusinessNumberKey}
	var updates []temporal.SearchAttributeUpdate
	for i := range now {
		if now[i] != s.searchAttrs[i] && now[i] != "" {
			updates = append(updates, keys[i].ValueSet(now[i]))
		}
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		s.log.Error("upserting search attributes failed", "error", err)
		return
	}
	s.searchAttrs = now
}

// stepCtx gives regular activities their budget: retried with backoff for
// StepRetryBudget, then the sign-up needs attention.
func (s *state) stepCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, s.withHeartbeat(stepOptions(s.in.Settings.StepRetryBudget)))
}

// withHeartbeat adds the heartbeat timeout for sign-ups at the version that
// has it.
func (s *state) withHeartbeat(o workflow.ActivityOptions) workflow.ActivityOptions {
	if s.heartbeats >= 1 {
		o.HeartbeatTimeout = activityHeartbeatTimeout
	}
	return o
}

func stepOptions(budget time.Duration) workflow.ActivityOptions {
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

// shortCtx is for the quick local activities of the wizard steps: the caller
// is waiting on the other side of an HTTP request.
func shortCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 15 * time.Second,
		StartToCloseTimeout:    5 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 2 * time.Second},
	})
}

// stepError is a refusal of a step, carried to the API as an application
// error whose type is the contract's code.
func stepError(code, msg string, fields signup.Fields) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: true}
	if len(fields) > 0 {
		opts.Details = []any{fields}
	}
	return temporal.NewApplicationErrorWithOptions(msg, code, opts)
}

func outOfOrder(st signup.Status) error {
	return stepError(signup.CodeStepOutOfOrder, "this step is not possible while the sign-up is "+string(st), nil)
}

// checkTerms refuses unknown or missing required terms.
func checkTerms(accepted []string) error {
	unknown, missing := terms.Check(accepted)
	if len(unknown) > 0 {
		return stepError(signup.CodeUnknownTerm, "unknown term: "+unknown[0], signup.Fields{"accepted_terms": "unknown term " + unknown[0]})
	}
	if len(missing) > 0 {
		return stepError(signup.CodeRequiredTermsMissing, "all required terms must be accepted",
			signup.Fields{"accepted_terms": "missing required term " + missing[0]})
	}
	return nil
}

func editable(st signup.Status) bool { return st == "" || st.Editable() }
