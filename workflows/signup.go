package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/terms"
)

// a refers to the activities by method; the worker registers the real value.
var a *activities.Activities

var (
	userActor   = signup.Actor{Kind: signup.ActorUser}
	systemActor = signup.Actor{Kind: signup.ActorSystem}
	errCanceled = errors.New("sign-up cancelled")
)

// Version changes of the sign-up workflow, each behind workflow.GetVersion
// in setup; sign-ups started before a change keep its version 0.
const (
	// changeTimers: one idle timer per window instead of one per step, and
	// timers cancelled once not needed (2026-11).
	changeTimers = "timers-v1"
	// changeHeartbeats: regular activities heartbeat (2026-11).
	changeHeartbeats = "activity-heartbeats-v1"
	// changeMaxAge: an unsubmitted sign-up's age is bounded
	// (SIGNUP_MAX_AGE), histories v5 (2026-11).
	changeMaxAge = "signup-max-age-v1"
	// changeShape is the one version a new sign-up reads (each GetVersion
	// of a new run is a marker and a TemporalChangeVersion upsert):
	// version 1 has the three changes above without reading them, and
	// upserts the business number with the next status change instead of
	// on its own; histories v6 (2026-11). Version 2: the invited view is
	// written by SendInvitation, not by a save of its own; histories v7
	// (2026-11). Version 3: the certificate, Verify and organization steps
	// each write their view in their own local activity's transaction
	// (AttachCertificate, VerifyBusinessNumber, ReserveName), not by a
	// SaveSignup after it; histories v8 (2026-11). Version 4: provisioning
	// and the first invitation are one activity (ProvisionAndInvite); the
	// submit's provisioning status is not upserted (visibility goes from
	// ready to invited; a failure's needs_attention and a retry's
	// provisioning are); and the invitation's timer is left, not cancelled,
	// when the password set ends the sign-up; histories v9 (2026-11).
	// Version 5: a sign-up whose API wrote step 1's audit event with its
	// first row (Input.TermsRecorded) does not save step 1 again: no local
	// activity in its first workflow task; histories v10 (2026-11). A later
	// change is its version 6.
	changeShape = "signup-shape"
)

// signupWorkflow is one running sign-up: its input, the view it last saved,
// and what each concern keeps (wizard.go, invitation.go, operator.go,
// persist.go).
type signupWorkflow struct {
	in       Input
	log      log.Logger
	versions versions
	mu       workflow.Mutex // one wizard step (or release) at a time

	view    signup.View // as last saved to the read model
	saved   savedState
	wizard  wizardState
	ops     operatorRequests
	invite  inviteState
	failure stepFailure
}

// versions are the workflow.GetVersion answers of the sign-up.
type versions struct {
	shape      workflow.Version // changeShape
	timers     workflow.Version // changeTimers
	heartbeats workflow.Version // changeHeartbeats
	maxAge     workflow.Version // changeMaxAge
}

// Signup is the sign-up workflow. It returns the final view.
func Signup(ctx workflow.Context, in Input) (signup.View, error) {
	w := newSignupWorkflow(ctx, in)
	if err := w.setup(ctx); err != nil {
		return w.view, err
	}
	err := w.run(ctx)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.view, err
	}
	return w.view, err
}

func newSignupWorkflow(ctx workflow.Context, in Input) *signupWorkflow {
	now := workflow.Now(ctx)
	if !in.CreatedAt.IsZero() {
		now = in.CreatedAt
	}
	w := &signupWorkflow{
		in:   in,
		log:  workflow.GetLogger(ctx),
		view: signup.View{SignupID: in.SignupID, AcceptedTerms: []string{}, CreatedAt: now, UpdatedAt: now},
		mu:   workflow.NewMutex(ctx),
	}
	w.wizard.lastStepAt = now
	if len(in.AcceptedTerms) > 0 {
		// Step 1 came with the start, before any Update may be handled.
		w.view.AcceptedTerms = terms.Normalize(in.AcceptedTerms)
		w.view.Status = signup.StatusUserInfo
	}
	return w
}

// setup registers the Update, query and signal handlers and reads the
// versions this sign-up runs at. Search attributes given at start need no
// upsert.
func (w *signupWorkflow) setup(ctx workflow.Context) error {
	if st, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(SignupStatusKey); ok {
		w.saved.searchAttrs.status = st
	}
	if err := w.registerHandlers(ctx); err != nil {
		return err
	}
	if shape := workflow.GetVersion(ctx, changeShape, workflow.DefaultVersion, 5); shape >= 1 {
		// The three changes below, read no more: a sign-up that reads
		// changeShape was started after all of them.
		w.versions = versions{shape: shape, timers: 1, heartbeats: 1, maxAge: 1}
		if w.termsRecorded() {
			// The API's row is the first save; the next is numbered after it.
			w.saved.version = signup.FirstSave
		}
		return nil
	}
	// Started before changeShape: read them as it did.
	w.versions = versions{
		timers: workflow.GetVersion(ctx, changeTimers, workflow.DefaultVersion, 1),
		// Regular activities heartbeat, with a heartbeat timeout, so an
		// activity whose worker died is retried after
		// activityHeartbeatTimeout instead of its start-to-close timeout.
		heartbeats: workflow.GetVersion(ctx, changeHeartbeats, workflow.DefaultVersion, 1),
		// An unsubmitted sign-up also ends Settings.MaxAge after its start,
		// however often it steps: the idle window alone let a client hold a
		// name reservation forever by stepping now and then.
		maxAge: workflow.GetVersion(ctx, changeMaxAge, workflow.DefaultVersion, 1),
	}
	return nil
}

// run is the sign-up's story, top to bottom. The wizard's steps themselves
// are Updates (wizard.go); run waits for them between the numbered steps.
func (w *signupWorkflow) run(ctx workflow.Context) error {
	// 1. Terms: accepted with the start (sign-ups started before that send
	// them in the accept_terms Update instead).
	if err := w.recordStartTerms(ctx); err != nil {
		return err
	}
	// 2. User information, 3. organization: Updates, until submit, idleness,
	// age or an operator's cancel.
	if err := w.awaitSubmit(ctx); err != nil {
		return w.releaseIfCancelled(ctx, err)
	}
	if w.view.Status.Final() {
		return nil
	}
	// 4. Provisioning: the organization, its owner and the business profile,
	// 5. and the invitation: the owner is mailed a link to set a password.
	if w.versions.shape >= 4 {
		if err := w.provisionAndInvite(ctx); err != nil {
			return w.releaseIfCancelled(ctx, err)
		}
		return w.awaitPassword(ctx)
	}
	if err := w.provision(ctx); err != nil {
		return w.releaseIfCancelled(ctx, err)
	}
	if w.ops.cancel != nil {
		return w.releaseIfCancelled(ctx, errCanceled)
	}
	// 5. Invitation: the owner is mailed a link to set a password.
	if err := w.sendInvite(ctx, signup.InvitationFirst, w.operatorOrSystem(nil), signup.ActionInvitationSent); err != nil {
		return w.releaseIfCancelled(ctx, err)
	}
	// 6. Expiry: wait for the password against the invitation's expiry, with
	// a reminder before it and a reset after it.
	return w.awaitPassword(ctx)
}

// recordStartTerms records step 1 (audit, metrics) when it came with the
// start; the API wrote the first read-model row already. Under the step
// lock: a step may arrive while this save runs, and must not be overwritten
// by it.
func (w *signupWorkflow) recordStartTerms(ctx workflow.Context) error {
	if len(w.in.AcceptedTerms) == 0 || w.termsRecorded() {
		return nil
	}
	if err := w.mu.Lock(ctx); err != nil {
		return err
	}
	defer w.mu.Unlock()
	w.saveOrLog(ctx, &signup.AuditEntry{Actor: userActor, Action: signup.ActionTermsAccepted, To: signup.StatusUserInfo})
	return nil
}

// termsRecorded reports whether the API recorded step 1 with the first
// read-model row (from changeShape 5, when it says so).
func (w *signupWorkflow) termsRecorded() bool {
	return w.versions.shape >= 5 && w.in.TermsRecorded && len(w.in.AcceptedTerms) > 0
}

// provision creates the organization and its owner (step 4; before
// changeShape 4, in an activity of its own).
func (w *signupWorkflow) provision(ctx workflow.Context) error {
	var prov activities.ProvisionResult
	return w.attempt(ctx, activities.StepProvision, func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(w.withRegularActivity(ctx), a.ProvisionOwner, *w.provisionInput()).Get(ctx, &prov)
	})
}

// provisionInput is what provisioning needs of the submitted sign-up.
func (w *signupWorkflow) provisionInput() *activities.ProvisionInput {
	return &activities.ProvisionInput{SignupID: w.in.SignupID, Business: *w.view.Business,
		Organization: *w.view.Organization, CertificateID: w.view.Certificate.ID}
}

// awaitUntil waits for cond or for d to pass, whichever comes first, and
// cancels the timer when cond came first. It reports whether time ran out.
func awaitUntil(ctx workflow.Context, d time.Duration, cond func() bool) (bool, error) {
	return awaitUntilOrEnd(ctx, d, cond, nil)
}

// awaitUntilOrEnd is awaitUntil, but leaves the timer when ends reports
// true after cond came first: the sign-up is about to end, and cancelling a
// timer that will never matter is one more event in its history.
func awaitUntilOrEnd(ctx workflow.Context, d time.Duration, cond, ends func() bool) (bool, error) {
	if cond() {
		return false, nil
	}
	tctx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(tctx, max(d, 0))
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		cancel()
		return false, err
	}
	if ends == nil || !cond() || !ends() {
		cancel()
	}
	return !cond(), nil
}

// registerHandlers registers the Updates (each with its validator), the
// admin_view query and the password_set signal.
func (w *signupWorkflow) registerHandlers(ctx workflow.Context) error {
	handlers := []struct {
		name      string
		fn        any
		validator any
	}{
		{UpdateAcceptTerms, w.acceptTerms, w.validateAcceptTerms},
		{UpdateAttachCertificate, w.attachCertificate, w.validateAttachCertificate},
		{UpdateVerify, w.verify, w.validateVerify},
		{UpdateUserInfo, w.setUserInfo, w.validateUserInfo},
		{UpdateOrganization, w.setOrganization, w.validateOrganization},
		{UpdateSubmit, w.submit, w.validateSubmit},
		{UpdateRetry, w.retryStep, w.validateRetry},
		{UpdateResendInvite, w.resendInvite, w.validateResend},
		{UpdateCancel, w.cancelSignup, w.validateCancel},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.fn,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	if err := workflow.SetQueryHandler(ctx, QueryAdminView, w.adminView); err != nil {
		return err
	}
	w.receivePasswordSet(ctx)
	return nil
}
