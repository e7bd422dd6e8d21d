package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/bizno"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/terms"
)

// wizardState is what the wizard's steps leave behind.
type wizardState struct {
	verified   *signup.Verification // the last business number verified
	steps      int                  // accepted wizard steps, to notice idleness
	lastStepAt time.Time            // when the last wizard step was accepted
	submitted  bool
}

// awaitSubmit waits for the wizard's steps until submit, abandoning the
// sign-up after IdleTimeout without a step or (version signup-max-age-v1)
// MaxAge after its start. An operator's cancel ends it with errCanceled.
func (w *signupWorkflow) awaitSubmit(ctx workflow.Context) error {
	if w.versions.timers == workflow.DefaultVersion {
		return w.awaitSubmitV0(ctx)
	}
	for !w.wizard.submitted {
		// One timer for the idle window; steps move the window's end, and
		// the timer is set again for what is left only when it fires.
		deadline := w.wizardDeadline()
		fired, err := awaitUntil(ctx, deadline.Sub(workflow.Now(ctx)), func() bool { return w.wizard.submitted || w.ops.cancel != nil })
		if err != nil {
			return err
		}
		if w.wizard.submitted {
			return nil
		}
		if w.ops.cancel != nil {
			return errCanceled
		}
		if !fired || workflow.Now(ctx).Before(w.wizardDeadline()) {
			continue
		}
		// Idle (or too old): but a step may be half-way; take the lock and
		// look again.
		if err := w.mu.Lock(ctx); err != nil {
			return err
		}
		over := !workflow.Now(ctx).Before(w.wizardDeadline()) && !w.wizard.submitted && w.ops.cancel == nil
		w.mu.Unlock()
		if over {
			return w.release(ctx, signup.StatusAbandoned, systemActor, signup.ActionAbandoned, w.abandonReason(ctx))
		}
	}
	return nil
}

// wizardDeadline is when an unsubmitted sign-up is abandoned: IdleTimeout
// after its last step or, at version signup-max-age-v1, MaxAge after its
// start, whichever comes first.
func (w *signupWorkflow) wizardDeadline() time.Time {
	deadline := w.wizard.lastStepAt.Add(w.in.Settings.IdleTimeout)
	if w.versions.maxAge >= 1 && w.in.Settings.MaxAge > 0 {
		if end := w.view.CreatedAt.Add(w.in.Settings.MaxAge); end.Before(deadline) {
			deadline = end
		}
	}
	return deadline
}

// abandonReason says, for the audit trail, which bound ended the sign-up.
func (w *signupWorkflow) abandonReason(ctx workflow.Context) string {
	if workflow.Now(ctx).Before(w.wizard.lastStepAt.Add(w.in.Settings.IdleTimeout)) {
		return "max_age"
	}
	return "idle"
}

// awaitSubmitV0 is awaitSubmit of version 0, with a fresh timer per step.
// It stays for sign-ups started before version 1.
func (w *signupWorkflow) awaitSubmitV0(ctx workflow.Context) error {
	for !w.wizard.submitted {
		steps := w.wizard.steps
		ok, err := workflow.AwaitWithTimeout(ctx, w.in.Settings.IdleTimeout, func() bool {
			return w.wizard.submitted || w.ops.cancel != nil || w.wizard.steps != steps
		})
		if err != nil {
			return err
		}
		if w.wizard.submitted {
			return nil
		}
		if w.ops.cancel != nil {
			return errCanceled
		}
		if ok {
			continue
		}
		// Idle: but a step may be half-way; take the lock and look again.
		if err := w.mu.Lock(ctx); err != nil {
			return err
		}
		idle := w.wizard.steps == steps && !w.wizard.submitted && w.ops.cancel == nil
		w.mu.Unlock()
		if idle {
			return w.release(ctx, signup.StatusAbandoned, systemActor, signup.ActionAbandoned, "")
		}
	}
	return nil
}

// lockStep takes the step lock and checks again, under it, that the step is
// still possible: a step queued behind another may find the sign-up moved on.
func (w *signupWorkflow) lockStep(ctx workflow.Context, allowed func(signup.Status) bool) error {
	if err := w.mu.Lock(ctx); err != nil {
		return err
	}
	if !allowed(w.view.Status) || w.wizard.submitted || w.ops.cancel != nil {
		w.mu.Unlock()
		return outOfOrder(w.view.Status)
	}
	return nil
}

// nextStatus is the first wizard step the sign-up still lacks.
func nextStatus(v signup.View) signup.Status {
	switch {
	case v.Business == nil || v.Business.CompanyName == "":
		return signup.StatusUserInfo
	case v.Organization == nil:
		return signup.StatusOrganizationInfo
	default:
		return signup.StatusReady
	}
}

// copyView copies the parts of the view a step may change.
func copyView(v signup.View) signup.View {
	if v.Business != nil {
		b := *v.Business
		v.Business = &b
	}
	if v.Organization != nil {
		o := *v.Organization
		v.Organization = &o
	}
	return v
}

func editable(st signup.Status) bool { return st == "" || st.Editable() }

// Step 1: terms. They come with the start (run records them); this Update
// is how sign-ups started before that sent them, and how terms change later.

func (w *signupWorkflow) validateAcceptTerms(in signup.AcceptTermsInput) error {
	if !editable(w.view.Status) {
		return outOfOrder(w.view.Status)
	}
	return checkTerms(in.AcceptedTerms)
}

func (w *signupWorkflow) acceptTerms(ctx workflow.Context, in signup.AcceptTermsInput) (signup.View, error) {
	if err := w.lockStep(ctx, editable); err != nil {
		return w.view, err
	}
	defer w.mu.Unlock()
	next := copyView(w.view)
	next.AcceptedTerms = terms.Normalize(in.AcceptedTerms)
	next.Status = nextStatus(next)
	return w.saveStep(ctx, next, signup.ActionTermsAccepted)
}

// checkTerms refuses unknown or missing required terms.
func checkTerms(accepted []string) error {
	if r := signup.CheckTerms(accepted); r != nil {
		return stepError(r.Code, r.Message, r.Fields)
	}
	return nil
}

// Certificate upload (stored by the API; the workflow keeps its id and hash).

func (w *signupWorkflow) validateAttachCertificate(in signup.CertificateInput) error {
	if !w.view.Status.Editable() {
		return outOfOrder(w.view.Status)
	}
	if in.CertificateID == "" {
		return stepError(signup.CodeCertificateMissing, "certificate_id is required", nil)
	}
	return nil
}

func (w *signupWorkflow) attachCertificate(ctx workflow.Context, in signup.CertificateInput) (signup.View, error) {
	if err := w.lockStep(ctx, signup.Status.Editable); err != nil {
		return w.view, err
	}
	defer w.mu.Unlock()
	next := copyView(w.view)
	attach := activities.AttachCertificateInput{SignupID: w.in.SignupID, CertificateID: in.CertificateID}
	if w.versions.shape >= 3 {
		// The activity saves the view with the certificate it attached, in
		// the attach's transaction: one local activity for the step.
		attach.Save = w.stepSaveInput(ctx, next, signup.ActionCertificateUploaded)
	}
	var cert signup.Certificate
	err := workflow.ExecuteLocalActivity(w.withStepLocalActivity(ctx), a.AttachCertificate, attach).Get(ctx, &cert)
	if err != nil {
		return w.view, passOn(err)
	}
	if attach.Save != nil {
		next = attach.Save.View
		next.Certificate = &cert // as the activity filled it in
		return w.adoptStepView(ctx, next), nil
	}
	next.Certificate = &cert
	return w.saveStep(ctx, next, signup.ActionCertificateUploaded)
}

// Verify button.

func (w *signupWorkflow) validateVerify(in signup.VerifyInput) error {
	if !w.view.Status.Editable() {
		return outOfOrder(w.view.Status)
	}
	if _, err := bizno.Parse(in.BusinessNumber); err != nil {
		return stepError(signup.CodeInvalidBusinessNumber, err.Error(), signup.Fields{"business_number": err.Error()})
	}
	return nil
}

func (w *signupWorkflow) verify(ctx workflow.Context, in signup.VerifyInput) (signup.Verification, error) {
	if err := w.lockStep(ctx, signup.Status.Editable); err != nil {
		return signup.Verification{}, err
	}
	defer w.mu.Unlock()
	// The sign-up id makes the sign-up hold one of the number's
	// MAX_OPEN_SIGNUPS_PER_BUSINESS slots (a local activity's input is not
	// part of the commands: sign-ups replay as before).
	verify := activities.VerifyInput{BusinessNumber: in.BusinessNumber, SignupID: w.in.SignupID}
	if w.versions.shape >= 3 {
		// The activity saves the view with the verification once the
		// number is verified, after the tax service's answer: one local
		// activity for the step.
		verify.Save = w.stepSaveInput(ctx, copyView(w.view), signup.ActionBusinessNumberVerified)
	}
	var v signup.Verification
	err := workflow.ExecuteLocalActivity(w.withVerifyLocalActivity(ctx), a.VerifyBusinessNumber, verify).Get(ctx, &v)
	if err != nil {
		return v, w.verifyError(err)
	}
	w.wizard.verified = &v
	if verify.Save != nil {
		w.adoptStepView(ctx, verify.Save.View.WithVerification(v)) // as the activity filled it in
		return v, nil
	}
	if _, err := w.saveStep(ctx, copyView(w.view).WithVerification(v), signup.ActionBusinessNumberVerified); err != nil {
		return v, err
	}
	return v, nil
}

// verifyError passes on the number's refusals; any other failure means the
// National Tax Service could not answer.
func (w *signupWorkflow) verifyError(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case signup.CodeInvalidBusinessNumber, signup.CodeBusinessNotRegistered, signup.CodeBusinessNotActive, signup.CodeTooManyOpenSignups:
			return stepError(app.Type(), app.Message(), signup.Fields{"business_number": app.Message()})
		}
	}
	w.log.Warn("business number verification unavailable", "error", err)
	return stepError(signup.CodeVerificationUnavailable,
		"the National Tax Service cannot be reached; try Verify again in a moment", nil)
}

// Step 2: user information.

func (w *signupWorkflow) validateUserInfo(in signup.UserInfoInput) error {
	if !w.view.Status.Editable() {
		return outOfOrder(w.view.Status)
	}
	b, fields := in.Normalize()
	if len(fields) > 0 {
		return stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	if w.wizard.verified == nil || w.wizard.verified.BusinessNumber != b.BusinessNumber {
		return stepError(signup.CodeBusinessNumberNotVerif, "verify this business number first",
			signup.Fields{"business_number": "press Verify for this number first"})
	}
	if w.view.Certificate == nil {
		return stepError(signup.CodeCertificateRequired, "upload the business registration certificate first",
			signup.Fields{"certificate": "upload the business registration certificate"})
	}
	return nil
}

func (w *signupWorkflow) setUserInfo(ctx workflow.Context, in signup.UserInfoInput) (signup.View, error) {
	if err := w.lockStep(ctx, signup.Status.Editable); err != nil {
		return w.view, err
	}
	defer w.mu.Unlock()
	if err := w.validateUserInfo(in); err != nil {
		return w.view, err
	}
	b, _ := in.Normalize()
	b.SetVerification(*w.wizard.verified) // of this number (validateUserInfo)
	next := copyView(w.view)
	next.Business = &b
	next.Status = nextStatus(next)
	return w.saveStep(ctx, next, signup.ActionUserInfoSet)
}

// Step 3: cloud organization.

func orgStep(st signup.Status) bool {
	return st == signup.StatusOrganizationInfo || st == signup.StatusReady
}

func (w *signupWorkflow) validateOrganization(in signup.OrganizationInput) error {
	if !orgStep(w.view.Status) {
		return outOfOrder(w.view.Status)
	}
	if _, fields := in.Normalize(); len(fields) > 0 {
		return stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	return nil
}

func (w *signupWorkflow) setOrganization(ctx workflow.Context, in signup.OrganizationInput) (signup.View, error) {
	if err := w.lockStep(ctx, orgStep); err != nil {
		return w.view, err
	}
	defer w.mu.Unlock()
	org, fields := in.Normalize()
	if len(fields) > 0 {
		return w.view, stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	next := copyView(w.view)
	next.Organization = &org
	next.Status = nextStatus(next)
	reserve := activities.ReserveNameInput{SignupID: w.in.SignupID, Name: org.OrganizationName}
	if w.versions.shape >= 3 {
		// The activity saves the view in the reservation's transaction: one
		// local activity for the step.
		reserve.Save = w.stepSaveInput(ctx, next, signup.ActionOrganizationSet)
	}
	err := workflow.ExecuteLocalActivity(w.withStepLocalActivity(ctx), a.ReserveName, reserve).Get(ctx, nil)
	if err != nil {
		return w.view, passOn(err)
	}
	if reserve.Save != nil {
		return w.adoptStepView(ctx, reserve.Save.View), nil
	}
	return w.saveStep(ctx, next, signup.ActionOrganizationSet)
}

// Submit: ends the wizard (run goes on to provisioning).

func (w *signupWorkflow) validateSubmit() error {
	if w.view.Status != signup.StatusReady {
		return outOfOrder(w.view.Status)
	}
	return nil
}

func (w *signupWorkflow) submit(ctx workflow.Context) (signup.View, error) {
	if err := w.lockStep(ctx, func(st signup.Status) bool { return st == signup.StatusReady }); err != nil {
		return w.view, err
	}
	defer w.mu.Unlock()
	next := copyView(w.view)
	next.Status = signup.StatusProvisioning
	view, err := w.saveStep(ctx, next, signup.ActionSubmitted)
	if err != nil {
		return view, err
	}
	w.wizard.submitted = true
	return view, nil
}
