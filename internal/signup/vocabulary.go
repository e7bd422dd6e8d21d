package signup

import (
	"strings"

	"github.com/kcloud/onboarding/internal/terms"
)

// ActorKind says who asked for a change, for the audit trail.
type ActorKind string

// The actors of the audit trail.
const (
	ActorUser     ActorKind = "user"
	ActorSystem   ActorKind = "system"
	ActorOperator ActorKind = "operator"
)

// Action is what an audit event records. The workflow's actions are part of
// the read model's history: renaming one splits the audit trail.
type Action string

// The audit actions.
const (
	ActionTermsAccepted          Action = "terms_accepted"
	ActionCertificateUploaded    Action = "certificate_uploaded"
	ActionBusinessNumberVerified Action = "business_number_verified"
	ActionUserInfoSet            Action = "user_info_set"
	ActionOrganizationSet        Action = "organization_set"
	ActionSubmitted              Action = "submitted"
	ActionOwnerProvisioned       Action = "owner_provisioned"
	ActionInvitationSent         Action = "invitation_sent"
	ActionInvitationResent       Action = "invitation_resent"
	ActionReminderSent           Action = "reminder_sent"
	ActionReminderFailed         Action = "reminder_failed"
	ActionInvitationExpired      Action = "invitation_expired"
	ActionPasswordSet            Action = "password_set"
	ActionAbandoned              Action = "abandoned"
	ActionCancelled              Action = "cancelled"
	ActionStepFailed             Action = "step_failed"
	ActionRetried                Action = "retried"
	ActionPersonalDataErased     Action = "personal_data_erased"
)

// Event is a sign-up event counted by onboarding_signup_events_total.
type Event string

// The counted events.
const (
	EventStarted        Event = "started"
	EventSubmitted      Event = "submitted"
	EventInvited        Event = "invited"
	EventActive         Event = "active"
	EventExpired        Event = "expired"
	EventAbandoned      Event = "abandoned"
	EventNeedsAttention Event = "needs_attention"
	EventCancelled      Event = "cancelled"
)

// Events lists every counted event.
var Events = []Event{EventStarted, EventSubmitted, EventInvited, EventActive, EventExpired,
	EventAbandoned, EventNeedsAttention, EventCancelled}

// Event is the counted event of a status change, or "" when it is none.
func (e *AuditEntry) Event() Event {
	if e == nil {
		return ""
	}
	switch e.Action {
	case ActionTermsAccepted:
		if e.From == "" {
			return EventStarted
		}
	case ActionSubmitted:
		return EventSubmitted
	case ActionInvitationSent:
		return EventInvited
	case ActionPasswordSet:
		return EventActive
	case ActionInvitationExpired:
		return EventExpired
	case ActionAbandoned:
		return EventAbandoned
	case ActionStepFailed:
		return EventNeedsAttention
	case ActionCancelled:
		return EventCancelled
	}
	return ""
}

// InvitationKind is which mail an invitation link goes out in.
type InvitationKind string

// The invitation mails.
const (
	InvitationFirst    InvitationKind = "invite"
	InvitationReminder InvitationKind = "reminder"
	InvitationResend   InvitationKind = "resend"
)

// Refusal is a refused input: the contract's code, a message, and why each
// field was refused.
type Refusal struct {
	Code    string
	Message string
	Fields  Fields
}

// CheckTerms refuses unknown terms, and missing required ones. The API (at
// the start) and the workflow (the accept_terms Update) answer the same.
func CheckTerms(accepted []string) *Refusal {
	unknown, missing := terms.Check(accepted)
	if len(unknown) > 0 {
		list := strings.Join(unknown, ", ")
		return &Refusal{Code: CodeUnknownTerm, Message: "unknown term: " + list,
			Fields: Fields{"accepted_terms": "unknown term " + list}}
	}
	if len(missing) > 0 {
		list := strings.Join(missing, ", ")
		return &Refusal{Code: CodeRequiredTermsMissing, Message: "all required terms must be accepted: " + list,
			Fields: Fields{"accepted_terms": "missing required term " + list}}
	}
	return nil
}
