// Package models holds the database records of organizations, their users and
// roles, and the sign-ups that create them. The schema itself lives in the
// versioned migrations of internal/store; these structs map onto it.
package models

import "time"

// Organization statuses.
const (
	OrganizationActive   = "active"
	OrganizationDisabled = "disabled"
)

// User statuses.
const (
	UserInvited       = "invited"        // provisioned, password not set yet
	UserActive        = "active"         // password set
	UserResetRequired = "reset_required" // invitation expired or too many wrong passwords
	UserDisabled      = "disabled"       // sign-up cancelled after provisioning
)

// Invitation token statuses.
const (
	TokenPending = "pending"
	TokenUsed    = "used"
	TokenRevoked = "revoked" // replaced by a newer link
	TokenExpired = "expired"
)

// Role ids of the catalog (seeded by the first migration) granted to an
// organization's owner at provisioning.
const (
	RoleOrganizationAdmin = "organization_admin"
	RoleBillingAdmin      = "billing_admin"
)

// OwnerRoles are granted to an organization's owner at provisioning.
var OwnerRoles = []string{RoleOrganizationAdmin, RoleBillingAdmin}

// Organization is a cloud organization; its name is the console domain.
type Organization struct {
	ID        string `gorm:"primaryKey"`
	SignupID  string
	Name      string
	NameKey   *string // lower-cased name; NULL once disabled, which frees the name
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NameReservation holds an organization name for one sign-up, from the
// organization step until the sign-up is cancelled or abandoned.
type NameReservation struct {
	NameKey        string `gorm:"primaryKey"`
	Name           string
	SignupID       string
	OrganizationID *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// User is a console user; Email is the login id within the organization.
type User struct {
	ID                string `gorm:"primaryKey"`
	OrganizationID    string
	Email             string
	Name              string
	Phone             string
	IsOwner           bool
	Status            string
	PasswordHash      *string
	FailedAttempts    int
	PasswordChangedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// RoleAssignment grants a role to a user in an organization.
type RoleAssignment struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	UserID         string
	RoleID         string
	CreatedAt      time.Time
}

// BusinessProfile is the business behind an organization, as verified at sign-up.
type BusinessProfile struct {
	ID                  string `gorm:"primaryKey"`
	OrganizationID      string
	SignupID            string
	BusinessNumber      string
	CompanyName         string
	BillingEmail        string
	RepresentativeName  string
	RepresentativePhone string
	Address             string
	BusinessType        string
	BusinessCategory    string
	BusinessStatus      string
	VerificationSource  string
	VerifiedAt          time.Time
	CertificateID       *string
	CreatedAt           time.Time
}

// BusinessNumberSlot is one of the MAX_OPEN_SIGNUPS_PER_BUSINESS places of a
// business number, held by an unsubmitted sign-up that verified it.
type BusinessNumberSlot struct {
	BusinessNumber string `gorm:"primaryKey"`
	Slot           int    `gorm:"primaryKey"`
	SignupID       string
	CreatedAt      time.Time
}

// Certificate is an uploaded business registration certificate: its
// metadata here, its bytes sealed in the certificate store (ObjectKey). Data
// holds the bytes only for rows from before the store, until `onboarding
// migrate certificates` moves them.
type Certificate struct {
	ID          string `gorm:"primaryKey"`
	SignupID    string
	Filename    string
	ContentType string
	Size        int64
	SHA256      string `gorm:"column:sha256"`
	Data        []byte
	ObjectKey   *string
	KeyID       *string // the payload keyring key the object is sealed under
	State       string  `gorm:"default:stored"` // uploading, stored or deleting (internal/certstore)
	CreatedAt   time.Time
}

// InvitationToken is one emailed link to set the first password. Only the
// hash of the token is stored.
type InvitationToken struct {
	ID        string `gorm:"primaryKey"`
	SignupID  string
	UserID    string
	Seq       int
	Kind      string
	TokenHash string
	Status    string
	ExpiresAt time.Time
	SentAt    *time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// Session is a console sign-in; only the token's hash is stored.
type Session struct {
	ID        string `gorm:"primaryKey"`
	TokenHash string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// PasswordResetToken is one emailed reset link.
type PasswordResetToken struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// PasswordHistory keeps earlier password hashes so they are not reused.
type PasswordHistory struct {
	ID           string `gorm:"primaryKey"`
	UserID       string
	PasswordHash string
	CreatedAt    time.Time
}

// TableName keeps the singular table name of the migration.
func (PasswordHistory) TableName() string { return "password_history" }

// Signup is the read model of a sign-up workflow: its latest view, kept by
// the workflow itself, so reads need no workflow task.
type Signup struct {
	ID               string `gorm:"primaryKey"`
	TokenHash        string
	Status           string
	WorkflowID       string
	OrganizationName *string
	BusinessNumber   *string
	ContactEmail     *string
	View             string // JSON SignupView
	LastError        *string
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ErasedAt         *time.Time // personal data erased (retention or a person's request)
}

// AuditEvent records a status change or a security event: who (a
// signup.ActorKind), what (a signup.Action), when.
type AuditEvent struct {
	ID         string `gorm:"primaryKey"`
	SignupID   *string
	UserID     *string
	Actor      string
	Action     string
	FromStatus *string
	ToStatus   *string
	Detail     *string
	DedupeKey  *string
	CreatedAt  time.Time
}

// NTSCacheEntry is a cached National Tax Service answer for one number.
type NTSCacheEntry struct {
	BusinessNumber string `gorm:"primaryKey"`
	Status         string
	StatusCode     string
	TaxType        string
	CheckedAt      time.Time
	ExpiresAt      time.Time
}

// TableName maps to the nts_cache table.
func (NTSCacheEntry) TableName() string { return "nts_cache" }

// SignalOutbox is a password_set signal owed to a sign-up's workflow. Its
// writer holds it first: the row is written with a ClaimToken and, as
// NextAttemptAt, the end of a SignalLease, so that the writer sends it right
// after its commit without claiming it, and a relay takes it only if the
// writer has not delivered it by then.
type SignalOutbox struct {
	ID            string `gorm:"primaryKey"`
	SignupID      string
	UserID        string
	Via           string
	Attempts      int
	LastError     *string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	// ClaimToken is set by whoever holds the row (until NextAttemptAt,
	// its lease): its writer, or the relay that claimed it.
	ClaimToken *string
}

// SignalLease is how long the holder of a SignalOutbox row has it to
// itself: longer than one delivery may take (its 5 s timeout).
const SignalLease = 30 * time.Second

// TableName maps to the signal_outbox table.
func (SignalOutbox) TableName() string { return "signal_outbox" }
