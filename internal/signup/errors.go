package signup

// Error codes the sign-up steps (and its activities) answer with. The
// workflow and activities raise them as application error types; the API
// maps them onto HTTP statuses.
const (
	CodeStepOutOfOrder          = "step_out_of_order"
	CodeRequiredTermsMissing    = "required_terms_missing"
	CodeUnknownTerm             = "unknown_term"
	CodeValidationFailed        = "validation_failed"
	CodeInvalidBusinessNumber   = "invalid_business_number"
	CodeBusinessNotRegistered   = "business_not_registered"
	CodeBusinessNotActive       = "business_not_active"
	CodeVerificationUnavailable = "verification_unavailable"
	CodeBusinessNumberNotVerif  = "business_number_not_verified"
	CodeCertificateRequired     = "certificate_required"
	CodeCertificateMissing      = "certificate_missing"
	CodeOrganizationNameTaken   = "organization_name_taken"
	CodeNotNeedsAttention       = "not_needs_attention"
	CodeNotInvited              = "not_invited"
	CodeNotCancellable          = "not_cancellable"
	CodeNotEnded                = "not_ended"
	// CodeTooManyOpenSignups: the business number has
	// MAX_OPEN_SIGNUPS_PER_BUSINESS unsubmitted sign-ups already (409).
	CodeTooManyOpenSignups = "too_many_open_signups"
	CodeSignupNotFound     = "signup_not_found"

	// Codes of activities that fail for good; the sign-up then needs
	// attention, and operators read them in last_error.
	CodeMailRejected       = "mail_rejected"       // the mail server refused the message
	CodeNotProvisioned     = "not_provisioned"     // an invitation before the organization exists
	CodeReservationMissing = "reservation_missing" // provisioning without the name reserved
	// CodeNTSRejected: the tax service refused the request for good (a bad
	// service key, say).
	CodeNTSRejected = "nts_rejected"
)

// Fields maps an input field to why it was refused.
type Fields map[string]string
