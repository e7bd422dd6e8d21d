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

func (s *state) register(ctx workflow.Context) error {
	type handler struct {
		name      string
		fn        any
		validator any
	}
	handlers := []handler{
		{UpdateAcceptTerms, s.acceptTerms, s.validateAcceptTerms},
		{UpdateAttachCertificate, s.attachCertificate, s.validateAttachCertificate},
		{UpdateVerify, s.verify, s.validateVerify},
		{UpdateUserInfo, s.setUserInfo, s.validateUserInfo},
		{UpdateOrganization, s.setOrganization, s.validateOrganization},
		{UpdateSubmit, s.submit, s.validateSubmit},
		{UpdateRetry, s.retryStep, s.validateRetry},
		{UpdateResendInvite, s.resendInvite, s.validateResend},
		{UpdateCancel, s.cancelSignup, s.validateCancel},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.fn,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	if err := workflow.SetQueryHandler(ctx, QueryAdminView, s.adminView); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, SignalPasswordSet)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var sig PasswordSet
			if !ch.Receive(ctx, &sig) {
				return
			}
			s.passwordSet = true
		}
	})
	return nil
}

func (s *state) adminView() (signup.AdminView, error) {
	v := signup.AdminView{View: s.view, WorkflowID: signup.WorkflowID(s.in.SignupID)}
	if s.lastError != "" {
		v.LastError, v.FailedStep = &s.lastError, &s.failedStep
	}
	return v, nil
}

// lockStep takes the step lock and checks again, under it, that the step is
// still possible: a step queued behind another may find the sign-up moved on.
func (s *state) lockStep(ctx workflow.Context, allowed func(signup.Status) bool) error {
	if err := s.mu.Lock(ctx); err != nil {
		return err
	}
	if !allowed(s.view.Status) || s.submitted || s.cancel != nil {
		s.mu.Unlock()
		return outOfOrder(s.view.Status)
	}
	return nil
}

// commit saves the changed view of a step; the step fails if it cannot be saved.
func (s *state) commit(ctx workflow.Context, next signup.View, action string) (signup.View, error) {
	next.UpdatedAt = workflow.Now(ctx)
	var audit *activities.AuditEntry
	if next.Status != s.view.Status {
		audit = &activities.AuditEntry{Actor: userActor, Action: action, From: s.view.Status, To: next.Status}
	}
	if err := s.persist(shortCtx(ctx), next, audit); err != nil {
		return s.view, err
	}
	s.steps++
	s.lastStepAt = workflow.Now(ctx)
	return s.view, nil
}

// nextStatus is the first wizard step the sign-up still lacks.
func (s *state) nextStatus(v signup.View) signup.Status {
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

// Step 1: terms (the first Update, sent with the start).

func (s *state) validateAcceptTerms(in signup.AcceptTermsInput) error {
	if !editable(s.view.Status) {
		return outOfOrder(s.view.Status)
	}
	return checkTerms(in.AcceptedTerms)
}

func (s *state) acceptTerms(ctx workflow.Context, in signup.AcceptTermsInput) (signup.View, error) {
	if err := s.lockStep(ctx, editable); err != nil {
		return s.view, err
	}
	defer s.mu.Unlock()
	next := copyView(s.view)
	next.AcceptedTerms = terms.Normalize(in.AcceptedTerms)
	next.Status = s.nextStatus(next)
	return s.commit(ctx, next, "terms_accepted")
}

// Certificate upload (stored by the API; the workflow keeps its id and hash).

func (s *state) validateAttachCertificate(in signup.CertificateInput) error {
	if !s.view.Status.Editable() {
		return outOfOrder(s.view.Status)
	}
	if in.CertificateID == "" {
		return stepError(signup.CodeCertificateMissing, "certificate_id is required", nil)
	}
	return nil
}

func (s *state) attachCertificate(ctx workflow.Context, in signup.CertificateInput) (signup.View, error) {
	if err := s.lockStep(ctx, signup.Status.Editable); err != nil {
		return s.view, err
	}
	defer s.mu.Unlock()
	var cert signup.Certificate
	err := workflow.ExecuteLocalActivity(shortCtx(ctx), a.AttachCertificate, activities.AttachCertificateInput{
		SignupID: s.in.SignupID, CertificateID: in.CertificateID,
	}).Get(ctx, &cert)
	if err != nil {
		return s.view, passOn(err)
	}
	next := copyView(s.view)
	next.Certificate = &cert
	return s.commit(ctx, next, "certificate_uploaded")
}

// Verify button.

func (s *state) validateVerify(in signup.VerifyInput) error {
	if !s.view.Status.Editable() {
		return outOfOrder(s.view.Status)
	}
	if _, err := bizno.Parse(in.BusinessNumber); err != nil {
		return stepError(signup.CodeInvalidBusinessNumber, err.Error(), signup.Fields{"business_number": err.Error()})
	}
	return nil
}

func (s *state) verify(ctx workflow.Context, in signup.VerifyInput) (signup.Verification, error) {
	if err := s.lockStep(ctx, signup.Status.Editable); err != nil {
		return signup.Verification{}, err
	}
	defer s.mu.Unlock()
	budget := s.in.Settings.VerifyTimeout
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: budget,
		StartToCloseTimeout:    budget,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 3 * time.Second},
	})
	var v signup.Verification
	// The sign-up id makes the sign-up hold one of the number's
	// MAX_OPEN_SIGNUPS_PER_BUSINESS slots (a local activity's input is not
	// part of the commands: sign-ups replay as before).
	err := workflow.ExecuteLocalActivity(lctx, a.VerifyBusinessNumber, activities.VerifyInput{BusinessNumber: in.BusinessNumber, SignupID: s.in.SignupID}).Get(ctx, &v)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			switch app.Type() {
			case signup.CodeInvalidBusinessNumber, signup.CodeBusinessNotRegistered, signup.CodeBusinessNotActive, signup.CodeTooManyOpenSignups:
				return v, stepError(app.Type(), app.Message(), signup.Fields{"business_number": app.Message()})
			}
		}
		s.log.Warn("business number verification unavailable", "error", err)
		return v, stepError(signup.CodeVerificationUnavailable,
			"the National Tax Service cannot be reached; try Verify again in a moment", nil)
	}
	s.verified = &v
	next := copyView(s.view)
	if next.Business == nil {
		next.Business = &signup.Business{}
	}
	next.Business.BusinessNumber = v.BusinessNumber
	next.Business.Verified = true
	next.Business.BusinessStatus = v.BusinessStatus
	next.Business.VerificationSource = v.Source
	checked := v.CheckedAt
	next.Business.VerifiedAt = &checked
	if _, err := s.commit(ctx, next, "business_number_verified"); err != nil {
		return v, err
	}
	return v, nil
}

// Step 2: user information.

func (s *state) validateUserInfo(in signup.UserInfoInput) error {
	if !s.view.Status.Editable() {
		return outOfOrder(s.view.Status)
	}
	b, fields := in.Normalize()
	if len(fields) > 0 {
		return stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	if s.verified == nil || s.verified.BusinessNumber != b.BusinessNumber {
		return stepError(signup.CodeBusinessNumberNotVerif, "verify this business number first",
			signup.Fields{"business_number": "press Verify for this number first"})
	}
	if s.view.Certificate == nil {
		return stepError(signup.CodeCertificateRequired, "upload the business registration certificate first",
			signup.Fields{"certificate": "upload the business registration certificate"})
	}
	return nil
}

func (s *state) setUserInfo(ctx workflow.Context, in signup.UserInfoInput) (signup.View, error) {
	if err := s.lockStep(ctx, signup.Status.Editable); err != nil {
		return s.view, err
	}
	defer s.mu.Unlock()
	if err := s.validateUserInfo(in); err != nil {
		return s.view, err
	}
	b, _ := in.Normalize()
	v := s.verified
	b.Verified = true
	b.BusinessStatus = v.BusinessStatus
	b.VerificationSource = v.Source
	checked := v.CheckedAt
	b.VerifiedAt = &checked
	next := copyView(s.view)
	next.Business = &b
	next.Status = s.nextStatus(next)
	return s.commit(ctx, next, "user_info_set")
}

// Step 3: cloud organization.

func orgStep(st signup.Status) bool {
	return st == signup.StatusOrganizationInfo || st == signup.StatusReady
}

func (s *state) validateOrganization(in signup.OrganizationInput) error {
	if !orgStep(s.view.Status) {
		return outOfOrder(s.view.Status)
	}
	if _, fields := in.Normalize(); len(fields) > 0 {
		return stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	return nil
}

func (s *state) setOrganization(ctx workflow.Context, in signup.OrganizationInput) (signup.View, error) {
	if err := s.lockStep(ctx, orgStep); err != nil {
		return s.view, err
	}
	defer s.mu.Unlock()
	org, fields := in.Normalize()
	if len(fields) > 0 {
		return s.view, stepError(signup.CodeValidationFailed, "some fields are not valid", fields)
	}
	err := workflow.ExecuteLocalActivity(shortCtx(ctx), a.ReserveName, activities.ReserveNameInput{
		SignupID: s.in.SignupID, Name: org.OrganizationName,
	}).Get(ctx, nil)
	if err != nil {
		return s.view, passOn(err)
	}
	next := copyView(s.view)
	next.Organization = &org
	next.Status = s.nextStatus(next)
	return s.commit(ctx, next, "organization_set")
}

// Submit.

func (s *state) validateSubmit() error {
	if s.view.Status != signup.StatusReady {
		return outOfOrder(s.view.Status)
	}
	return nil
}

func (s *state) submit(ctx workflow.Context) (signup.View, error) {
	if err := s.lockStep(ctx, func(st signup.Status) bool { return st == signup.StatusReady }); err != nil {
		return s.view, err
	}
	defer s.mu.Unlock()
	next := copyView(s.view)
	next.Status = signup.StatusProvisioning
	view, err := s.commit(ctx, next, "submitted")
	if err != nil {
		return view, err
	}
	s.submitted = true
	return view, nil
}

// Operators: retry, resend, cancel.

func (s *state) validateRetry(signup.OperatorInput) error {
	if s.view.Status != signup.StatusNeedsAttention {
		return stepError(signup.CodeNotNeedsAttention, "only a sign-up in needs_attention can be retried; it is "+string(s.view.Status), nil)
	}
	return nil
}

func (s *state) retryStep(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if s.view.Status != signup.StatusNeedsAttention {
		return s.view, s.validateRetry(in)
	}
	// Answer once the step has run again: the first transition after the
	// "retried" one (to the next status, or back to needs_attention).
	n := s.transitions
	s.retry = true
	s.retryBy = &in
	err := workflow.Await(ctx, func() bool { return s.transitions >= n+2 })
	return s.view, err
}

func (s *state) validateResend(signup.OperatorInput) error {
	if s.view.Status != signup.StatusInvited && s.view.Status != signup.StatusResetRequired {
		return stepError(signup.CodeNotInvited, "only an invited sign-up can be sent a new invitation; it is "+string(s.view.Status), nil)
	}
	if s.resend != nil {
		return stepError(signup.CodeNotInvited, "a new invitation is being sent", nil)
	}
	return nil
}

func (s *state) resendInvite(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if err := s.validateResend(in); err != nil {
		return s.view, err
	}
	seq := s.inviteSeq
	s.resend = &in
	err := workflow.Await(ctx, func() bool {
		return (s.inviteSeq > seq && s.resend == nil) || s.view.Status == signup.StatusNeedsAttention || s.view.Status.Final()
	})
	return s.view, err
}

func (s *state) validateCancel(signup.OperatorInput) error {
	if s.view.Status.Final() {
		return stepError(signup.CodeNotCancellable, "a sign-up that is "+string(s.view.Status)+" cannot be cancelled", nil)
	}
	return nil
}

func (s *state) cancelSignup(ctx workflow.Context, in signup.OperatorInput) (signup.View, error) {
	if err := s.validateCancel(in); err != nil {
		return s.view, err
	}
	if s.cancel == nil && !s.releasing {
		s.cancel = &in
	}
	err := workflow.Await(ctx, func() bool { return s.view.Status.Final() })
	return s.view, err
}

// passOn returns an activity's application error as the step's error, with
// the activity wrapping taken off so the API sees the contract's code.
func passOn(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return stepError(app.Type(), app.Message(), nil)
	}
	return err
}
