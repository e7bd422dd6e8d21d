// Package workflows holds the durable sign-up: one workflow per sign-up, id
// signup-<signup_id>, driven by Updates (one per wizard step, each with a
// validator) and by the password_set signal, with a timer for idle sign-ups
// and one for the invitation.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// Names of the workflow's handlers. They are part of its history: renaming
// one breaks replay of running sign-ups.
const (
	SignupWorkflowName = "Signup"

	UpdateAcceptTerms       = "accept_terms"
	UpdateAttachCertificate = "attach_certificate"
	UpdateVerify            = "verify_business_number"
	UpdateUserInfo          = "set_user_info"
	UpdateOrganization      = "set_organization"
	UpdateSubmit            = "submit"
	UpdateRetry             = "retry"
	UpdateResendInvite      = "resend_invite"
	UpdateCancel            = "cancel"

	SignalPasswordSet = "password_set"

	QueryAdminView = "admin_view"
)

// Search attributes every sign-up workflow carries.
var (
	SignupStatusKey     = temporal.NewSearchAttributeKeyKeyword("SignupStatus")
	OrganizationNameKey = temporal.NewSearchAttributeKeyKeyword("OrganizationName")
	BusinessNumberKey   = temporal.NewSearchAttributeKeyKeyword("BusinessNumber")
)

// SearchAttributeNames lists the custom search attributes to register.
var SearchAttributeNames = []string{SignupStatusKey.GetName(), OrganizationNameKey.GetName(), BusinessNumberKey.GetName()}

// Settings are the timings a sign-up runs with, fixed when it starts.
type Settings struct {
	InviteTTL            time.Duration
	InviteReminderBefore time.Duration // 0: no reminder
	IdleTimeout          time.Duration
	StepRetryBudget      time.Duration
	VerifyTimeout        time.Duration
	// MaxAge bounds an unsubmitted sign-up from its start however often it
	// steps (SIGNUP_MAX_AGE); 0 (sign-ups started before it): no bound.
	MaxAge time.Duration `json:",omitempty"`
}

// Input starts a sign-up.
type Input struct {
	SignupID  string
	TokenHash string // SHA-256 of the sign-up token; the token itself never enters history
	Settings  Settings
	// AcceptedTerms is step 1, given at start: the API has checked it and
	// written the first read-model row, so creating a sign-up waits for no
	// workflow task. Sign-ups started before it carry terms in the
	// accept_terms Update instead.
	AcceptedTerms []string  `json:",omitempty"`
	CreatedAt     time.Time `json:",omitzero"`
	// TermsRecorded: the API wrote step 1's audit event with the first
	// read-model row, as save signup.FirstSave; from changeShape 5 the
	// workflow does not save step 1 again.
	TermsRecorded bool `json:",omitempty"`
}

// PasswordSet is the signal sent once the owner's password is set, by an
// accepted invitation or a completed reset.
type PasswordSet struct {
	UserID string
	Via    string // invitation or reset
}
