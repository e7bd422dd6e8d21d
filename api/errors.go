package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/signup"
)

// ErrorDetail is the body of every non-2xx answer.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

type errorBody struct {
	Error ErrorDetail `json:"error"`
}

// Problem is an error that knows its HTTP answer.
type Problem struct {
	Status int
	ErrorDetail
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

func problem(status int, code, msg string) *Problem {
	return &Problem{Status: status, ErrorDetail: ErrorDetail{Code: code, Message: msg}}
}

func invalid(fields map[string]string) *Problem {
	p := problem(http.StatusUnprocessableEntity, signup.CodeValidationFailed, "some fields are not valid")
	p.Fields = fields
	return p
}

// statusOf maps the step codes the workflow raises onto HTTP statuses.
var statusOf = map[string]int{
	signup.CodeStepOutOfOrder:          http.StatusConflict,
	signup.CodeRequiredTermsMissing:    http.StatusUnprocessableEntity,
	signup.CodeUnknownTerm:             http.StatusUnprocessableEntity,
	signup.CodeValidationFailed:        http.StatusUnprocessableEntity,
	signup.CodeInvalidBusinessNumber:   http.StatusUnprocessableEntity,
	signup.CodeBusinessNotRegistered:   http.StatusUnprocessableEntity,
	signup.CodeBusinessNotActive:       http.StatusUnprocessableEntity,
	signup.CodeVerificationUnavailable: http.StatusServiceUnavailable,
	signup.CodeBusinessNumberNotVerif:  http.StatusConflict,
	signup.CodeCertificateRequired:     http.StatusConflict,
	signup.CodeCertificateMissing:      http.StatusUnprocessableEntity,
	signup.CodeOrganizationNameTaken:   http.StatusConflict,
	signup.CodeNotNeedsAttention:       http.StatusConflict,
	signup.CodeNotInvited:              http.StatusConflict,
	signup.CodeNotCancellable:          http.StatusConflict,
	signup.CodeNotEnded:                http.StatusConflict,
	signup.CodeTooManyOpenSignups:      http.StatusConflict,
}

// fromWorkflow turns a refused Update into the contract's answer, or nil
// when err is not a step refusal.
func fromWorkflow(err error) *Problem {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return nil
	}
	status, ok := statusOf[app.Type()]
	if !ok {
		return nil
	}
	p := problem(status, app.Type(), app.Message())
	if app.HasDetails() {
		var fields signup.Fields
		if app.Details(&fields) == nil && len(fields) > 0 {
			p.Fields = fields
		}
	}
	return p
}

// fromAccount turns an account error into the contract's answer.
func fromAccount(err error) *Problem {
	var weak *account.WeakPasswordError
	switch {
	case errors.As(err, &weak):
		p := problem(http.StatusUnprocessableEntity, "weak_password", "the password does not meet the policy: "+password.Describe(weak.Rules))
		p.Fields = map[string]string{"password": password.Describe(weak.Rules)}
		return p
	case errors.Is(err, account.ErrInvalidToken):
		return problem(http.StatusNotFound, "invalid_token", "this link is not valid or was already used")
	case errors.Is(err, account.ErrInvitationExpired):
		return problem(http.StatusGone, "invitation_expired", "this invitation has expired; use Reset password on the sign-in page")
	case errors.Is(err, account.ErrTokenExpired):
		return problem(http.StatusGone, "token_expired", "this reset link has expired; ask for a new one")
	case errors.Is(err, account.ErrInvalidCredentials):
		return problem(http.StatusUnauthorized, "invalid_credentials", "the organization, email or password is wrong")
	case errors.Is(err, account.ErrPasswordResetRequired):
		return problem(http.StatusForbidden, "password_reset_required", "this account must reset its password; use Reset password")
	case errors.Is(err, account.ErrPasswordNotSet):
		return problem(http.StatusForbidden, "password_not_set", "set your password from the invitation mail first")
	case errors.Is(err, account.ErrOrganizationNotFound):
		return problem(http.StatusNotFound, "organization_not_found", "no organization has this name")
	case errors.Is(err, account.ErrUnauthorized):
		return problem(http.StatusUnauthorized, "unauthorized", "sign in first")
	}
	return nil
}

// fail answers with err: a *Problem as it is, anything else as a 500 whose
// detail goes to the log only.
func (s *Server) fail(c *gin.Context, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		if q := fromAccount(err); q != nil {
			p = q
		} else {
			s.log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "error", err)
			p = problem(http.StatusInternalServerError, "internal_error", "something went wrong on our side; try again")
		}
	}
	if p.Status >= 400 && p.Status < 500 && p.Status != http.StatusNotFound && p.Status != http.StatusTooManyRequests &&
		c.GetBool(knownTokenKey) && s.rowEnded(c) {
		// A refusal for a sign-up let in by a remembered token: if it has
		// ended, the answer is signupAuth's, as if the row had been read
		// first.
		p = noSuchSignup()
	}
	c.AbortWithStatusJSON(p.Status, errorBody{Error: p.ErrorDetail})
}
