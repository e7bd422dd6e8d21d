// Package signup is the sign-up's domain, shared by the API, the workflow,
// the activities and the metrics: the shapes a sign-up has on the wire and in
// workflow history (signup.go, input.go), its words (vocabulary.go: actors,
// audit actions, metrics events, invitation kinds, the terms check), the
// error codes its steps answer with (errors.go), and the Store that owns its
// read model, the signups table (store.go).
package signup

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kcloud/onboarding/models"
)

// Status is where a sign-up is in its journey.
type Status string

// The statuses of the contract.
const (
	StatusUserInfo         Status = "user_info"
	StatusOrganizationInfo Status = "organization_info"
	StatusReady            Status = "ready"
	StatusProvisioning     Status = "provisioning"
	StatusInvited          Status = "invited"
	StatusActive           Status = "active"
	StatusResetRequired    Status = "reset_required"
	StatusAbandoned        Status = "abandoned"
	StatusCancelled        Status = "cancelled"
	StatusNeedsAttention   Status = "needs_attention"
)

// Statuses lists every status, for validation of filters.
var Statuses = []Status{
	StatusUserInfo, StatusOrganizationInfo, StatusReady, StatusProvisioning, StatusInvited,
	StatusActive, StatusResetRequired, StatusAbandoned, StatusCancelled, StatusNeedsAttention,
}

// Editable reports whether the wizard steps may still change the sign-up.
func (s Status) Editable() bool {
	return s == StatusUserInfo || s == StatusOrganizationInfo || s == StatusReady
}

// Final reports whether nothing more happens to the sign-up.
func (s Status) Final() bool {
	return s == StatusActive || s == StatusAbandoned || s == StatusCancelled
}

// View is the SignupView of the contract.
type View struct {
	SignupID      string        `json:"signup_id"`
	Status        Status        `json:"status"`
	AcceptedTerms []string      `json:"accepted_terms"`
	Certificate   *Certificate  `json:"certificate"`
	Business      *Business     `json:"business"`
	Organization  *Organization `json:"organization"`
	Invite        *Invite       `json:"invite"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// Certificate describes an uploaded business registration certificate.
type Certificate struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Verification is the outcome of the Verify button.
type Verification struct {
	BusinessNumber string    `json:"business_number"` // 123-45-67890
	Verified       bool      `json:"verified"`
	BusinessStatus string    `json:"business_status"` // active
	Source         string    `json:"source"`          // nts or checksum
	CheckedAt      time.Time `json:"checked_at"`
}

// Verification sources.
const (
	SourceNTS      = "nts"
	SourceChecksum = "checksum"
)

// Business is step 2 of the wizard. Phones are E.164, emails lower-case.
type Business struct {
	BusinessNumber      string     `json:"business_number"`
	Verified            bool       `json:"verified"`
	BusinessStatus      string     `json:"business_status,omitempty"`
	VerificationSource  string     `json:"verification_source,omitempty"`
	VerifiedAt          *time.Time `json:"verified_at,omitempty"`
	BillingEmail        string     `json:"billing_email"`
	CompanyName         string     `json:"company_name"`
	RepresentativeName  string     `json:"representative_name"`
	RepresentativePhone string     `json:"representative_phone"`
	Address             string     `json:"address"`
	BusinessType        string     `json:"business_type"`
	BusinessCategory    string     `json:"business_category"`
}

// SetVerification records on b that its business number was verified as v
// says: the number, its status, the source and when it was checked.
func (b *Business) SetVerification(v Verification) {
	b.BusinessNumber = v.BusinessNumber
	b.Verified = true
	b.BusinessStatus = v.BusinessStatus
	b.VerificationSource = v.Source
	checked := v.CheckedAt
	b.VerifiedAt = &checked
}

// WithVerification is the view with its business number verified as v
// says, in a Business of its own (the view it was called on keeps its).
func (view View) WithVerification(v Verification) View {
	var b Business
	if view.Business != nil {
		b = *view.Business
	}
	b.SetVerification(v)
	view.Business = &b
	return view
}

// Organization is step 3 of the wizard.
type Organization struct {
	OrganizationName string `json:"organization_name"`
	ContactName      string `json:"contact_name"`
	ContactEmail     string `json:"contact_email"`
	MobilePhone      string `json:"mobile_phone"`
}

// Invite is the invitation mailed after provisioning.
type Invite struct {
	SentAt    *time.Time `json:"sent_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	Reminded  bool       `json:"reminded,omitempty"`
}

// AdminView is what operators see: the view plus why it is stuck and where
// its workflow is.
type AdminView struct {
	View
	LastError  *string `json:"last_error"`
	FailedStep *string `json:"failed_step"`
	WorkflowID string  `json:"workflow_id"`
	RunID      string  `json:"run_id,omitempty"`
	// ErasedAt is when the sign-up's personal data was erased.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// AdminViewOf is a read-model row as operators see it.
func AdminViewOf(row models.Signup) (AdminView, error) {
	var v AdminView
	if err := json.Unmarshal([]byte(row.View), &v.View); err != nil {
		return v, fmt.Errorf("sign-up %s: view: %w", row.ID, err)
	}
	v.LastError = row.LastError
	v.WorkflowID = row.WorkflowID
	v.ErasedAt = row.ErasedAt
	return v, nil
}

// WorkflowID is the id of a sign-up's workflow.
func WorkflowID(signupID string) string { return "signup-" + signupID }
