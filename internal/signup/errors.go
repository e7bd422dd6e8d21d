package signup

// Error codes the sign-up steps answer with. The workflow raises them as
// application error types; the API maps them onto HTTP statuses.
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
)

// Fields maps an input field to why it was refused.
type Fields map[string]string
