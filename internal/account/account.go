// Package account is what happens to console users after provisioning:
// setting the first password from an invitation, password resets, sign-in
// with lockout, and sessions. Every token handed out is random and stored
// only as its hash.
package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/contact"
	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

// MaxFailedAttempts wrong passwords in a row put an account in reset_required.
const MaxFailedAttempts = 5

// PasswordHistoryDepth is how many earlier passwords may not be reused.
const PasswordHistoryDepth = 3

// Errors, each one of the contract's codes.
var (
	ErrInvalidToken          = errors.New("invalid_token")
	ErrInvitationExpired     = errors.New("invitation_expired")
	ErrTokenExpired          = errors.New("token_expired")
	ErrInvalidCredentials    = errors.New("invalid_credentials")
	ErrPasswordResetRequired = errors.New("password_reset_required")
	ErrPasswordNotSet        = errors.New("password_not_set")
	ErrOrganizationNotFound  = errors.New("organization_not_found")
	ErrUnauthorized          = errors.New("unauthorized")
)

// PasswordResetRequest is one "Reset password" request: the input of the
// PasswordReset workflow and its SendPasswordReset activity.
type PasswordResetRequest struct {
	RequestID        string
	OrganizationName string
	Email            string
}

// WeakPasswordError lists the password policy's rules a password breaks.
type WeakPasswordError struct{ Rules []password.Rule }

func (e *WeakPasswordError) Error() string { return "weak password: " + password.Describe(e.Rules) }

// Service does the account operations over the database.
type Service struct {
	db         *store.DB
	hasher     *password.Hasher
	sessionTTL time.Duration
	now        func() time.Time
	// dummyHash is verified when there is no password to compare with (an
	// unknown account), so that every wrong password costs one hash
	// verification at the hasher's own parameters, whatever the account.
	dummyHash string
}

// New returns a Service.
func New(db *store.DB, hasher *password.Hasher, sessionTTL time.Duration, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	filler, _ := secret.NewToken()
	dummy, err := hasher.Hash(filler)
	if err != nil {
		// crypto/rand does not fail on supported platforms; a malformed
		// dummy would only make unknown accounts answer faster.
		dummy = ""
	}
	return &Service{db: db, hasher: hasher, sessionTTL: sessionTTL, now: func() time.Time { return now().UTC() }, dummyHash: dummy}
}

// Invitation is what an invitation link shows.
type Invitation struct {
	OrganizationName string    `json:"organization_name"`
	Email            string    `json:"email"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// PasswordSet says whose password was set, and which sign-up to tell.
type PasswordSet struct {
	OrganizationName string `json:"organization_name"`
	Email            string `json:"email"`
	Status           string `json:"status"`
	UserID           string `json:"-"`
	SignupID         string `json:"-"`
	// Owed is the password_set signal owed to the sign-up, written with
	// the change and held by the caller for its lease: the caller sends it
	// (outbox.Relay.DeliverHeld), a relay only after the lease.
	Owed models.SignalOutbox `json:"-"`
}

// owed is the outbox row of the password_set signal the sign-up's workflow
// must get, written with the change it reports, held by its writer for a
// lease (models.SignalOutbox).
func owed(res PasswordSet, via string, now time.Time) models.SignalOutbox {
	claim := uuid.NewString()
	return models.SignalOutbox{ID: uuid.NewString(), SignupID: res.SignupID, UserID: res.UserID, Via: via,
		CreatedAt: now, NextAttemptAt: now.Add(models.SignalLease), ClaimToken: &claim}
}

func (s *Service) invitation(tx *gorm.DB, token string) (models.InvitationToken, models.User, models.Organization, error) {
	var (
		inv  models.InvitationToken
		user models.User
		org  models.Organization
	)
	if !secret.WellFormed(token) {
		return inv, user, org, ErrInvalidToken
	}
	// One query for the link, its user and their organization.
	var row struct {
		models.InvitationToken
		UserStatus     string
		UserEmail      string
		OrganizationID string
		OrgName        string
		OrgSignupID    string
	}
	err := tx.Table("invitation_tokens").
		Select("invitation_tokens.*, users.status AS user_status, users.email AS user_email, users.organization_id AS organization_id, "+
			"organizations.name AS org_name, organizations.signup_id AS org_signup_id").
		Joins("JOIN users ON users.id = invitation_tokens.user_id").
		Joins("JOIN organizations ON organizations.id = users.organization_id").
		Where("invitation_tokens.token_hash = ?", secret.Hash(token)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return inv, user, org, ErrInvalidToken
	}
	if err != nil {
		return inv, user, org, fmt.Errorf("invitation: %w", err)
	}
	inv = row.InvitationToken
	user = models.User{ID: inv.UserID, Status: row.UserStatus, Email: row.UserEmail, OrganizationID: row.OrganizationID}
	org = models.Organization{ID: row.OrganizationID, Name: row.OrgName, SignupID: row.OrgSignupID}
	switch {
	case inv.Status == models.TokenUsed || inv.Status == models.TokenRevoked || user.Status == models.UserDisabled:
		return inv, user, org, ErrInvalidToken
	case inv.Status == models.TokenExpired || !s.now().Before(inv.ExpiresAt):
		return inv, user, org, ErrInvitationExpired
	}
	return inv, user, org, nil
}

// Invitation reads a live invitation link.
func (s *Service) Invitation(ctx context.Context, token string) (Invitation, error) {
	inv, user, org, err := s.invitation(s.db.WithContext(ctx), token)
	if err != nil {
		return Invitation{}, err
	}
	return Invitation{OrganizationName: org.Name, Email: user.Email, ExpiresAt: inv.ExpiresAt}, nil
}

// AcceptInvitation sets the first password through a live invitation link
// and activates the owner. The link works once.
func (s *Service) AcceptInvitation(ctx context.Context, token, pw string) (PasswordSet, error) {
	inv, user, org, err := s.invitation(s.db.WithContext(ctx), token)
	if err != nil {
		return PasswordSet{}, err
	}
	if rules := password.Check(pw); len(rules) > 0 {
		return PasswordSet{}, &WeakPasswordError{Rules: rules}
	}
	hash, err := s.hasher.Hash(pw)
	if err != nil {
		return PasswordSet{}, err
	}
	var res PasswordSet
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// One conditional statement, no re-read: this link becomes used and
		// the sign-up's other pending links revoked, but only while this one
		// is pending and unexpired (the expiry activity and a concurrent
		// accept change the same rows, and only one may win). Whether it
		// was is in the returned ids.
		now := s.now()
		var changed []string
		if err := tx.Raw(acceptLink, inv.ID, models.TokenUsed, models.TokenRevoked, inv.ID, now,
			inv.SignupID, models.TokenPending, inv.ID, now).Scan(&changed).Error; err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if !slices.Contains(changed, inv.ID) {
			// Lost the race: say why as a fresh read does.
			if _, _, _, err := s.invitation(tx, token); err != nil {
				return err
			}
			return ErrInvitationExpired
		}
		res = PasswordSet{OrganizationName: org.Name, Email: user.Email, Status: models.UserActive, UserID: user.ID, SignupID: org.SignupID}
		return s.setPassword(tx, user, hash, "invitation_accepted", &res, "invitation")
	})
	if err != nil {
		return PasswordSet{}, err
	}
	return res, nil
}

// acceptLink marks the accepted link used and the sign-up's other pending
// links revoked, and returns the ids it changed: the accepted link is among
// them only when it was pending and unexpired (otherwise the caller rolls
// back the others). Arguments: link id, used, revoked, link id, now, signup
// id, pending, link id, now.
const acceptLink = `UPDATE invitation_tokens
SET status = CASE WHEN id = ? THEN ? ELSE ? END, used_at = CASE WHEN id = ? THEN ? ELSE used_at END
WHERE signup_id = ? AND status = ? AND (id <> ? OR expires_at > ?)
RETURNING id`

// setPassword stores a new password hash, activates the user, records the
// hash in the history and the change in the audit log, and owes res's
// sign-up the password_set signal (res.Owed).
func (s *Service) setPassword(tx *gorm.DB, user models.User, hash, action string, res *PasswordSet, via string) error {
	now := s.now()
	rows := passwordSetRows{
		history: models.PasswordHistory{ID: uuid.NewString(), UserID: user.ID, PasswordHash: hash, CreatedAt: now},
		audit:   auditEvent(now, user, res.SignupID, action, user.Status, models.UserActive),
		outbox:  owed(*res, via, now),
	}
	set, err := rows.write(tx, user)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if !set {
		return ErrInvalidToken
	}
	res.Owed = rows.outbox
	return nil
}

// passwordSetRows are the rows a set password adds beside the user's.
type passwordSetRows struct {
	history models.PasswordHistory
	audit   models.AuditEvent
	outbox  models.SignalOutbox
}

// write stores the history's hash as user's password and activates the
// user, conditional on the status read before the transaction (a user
// disabled since keeps that status, and the link is not valid: set is
// false, nothing written), then inserts the rows: on PostgreSQL all as one
// statement (the rows read the update's), elsewhere as four.
func (r passwordSetRows) write(tx *gorm.DB, user models.User) (set bool, err error) {
	h, a, o := r.history, r.audit, r.outbox
	if tx.Name() == "postgres" {
		res := tx.Exec(setPasswordPostgres, h.PasswordHash, models.UserActive, h.CreatedAt, h.CreatedAt, user.ID, user.Status,
			h.ID, h.UserID, h.PasswordHash, h.CreatedAt,
			a.ID, a.SignupID, a.UserID, a.Actor, a.Action, a.FromStatus, a.ToStatus, a.CreatedAt,
			o.ID, o.SignupID, o.UserID, o.Via, o.CreatedAt, o.NextAttemptAt, o.ClaimToken)
		return res.RowsAffected > 0, res.Error
	}
	upd := tx.Model(&models.User{}).Where("id = ? AND status = ?", user.ID, user.Status).Updates(map[string]any{
		"password_hash": h.PasswordHash, "status": models.UserActive, "failed_attempts": 0,
		"password_changed_at": h.CreatedAt, "updated_at": h.CreatedAt,
	})
	if upd.Error != nil || upd.RowsAffected == 0 {
		return false, upd.Error
	}
	for _, row := range []any{&r.history, &r.audit, &r.outbox} {
		if err := tx.Create(row).Error; err != nil {
			return false, err
		}
	}
	return true, nil
}

// setPasswordPostgres is passwordSetRows.write on PostgreSQL: the user's
// update, and the history, audit and outbox rows inserted only when it
// updated a row (the outbox insert's count says so). Arguments: the hash,
// active, changed, updated, the user's id and status read before; the
// history's id, user id, hash, created; the audit event's id, signup id,
// user id, actor, action, from, to, created; the outbox row's id, signup
// id, user id, via, created, next attempt, claim token.
const setPasswordPostgres = `WITH upd AS (
	UPDATE users SET password_hash = ?, status = ?, failed_attempts = 0, password_changed_at = ?, updated_at = ?
	WHERE id = ? AND status = ? RETURNING id
), history AS (
	INSERT INTO password_history (id, user_id, password_hash, created_at) SELECT ?, ?, ?, ? FROM upd
), audit AS (
	INSERT INTO audit_events (id, signup_id, user_id, actor, action, from_status, to_status, created_at)
	SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM upd
)
INSERT INTO signal_outbox (id, signup_id, user_id, via, created_at, next_attempt_at, claim_token) SELECT ?, ?, ?, ?, ?, ?, ? FROM upd`

// auditEvent is a user's status change (or, from = to, another action) as
// an audit event.
func auditEvent(now time.Time, user models.User, signupID, action, from, to string) models.AuditEvent {
	e := models.AuditEvent{ID: uuid.NewString(), UserID: &user.ID, Actor: string(signup.ActorUser), Action: action, CreatedAt: now}
	if from != to {
		e.FromStatus, e.ToStatus = &from, &to
	}
	if signupID != "" {
		e.SignupID = &signupID
	}
	return e
}

func audit(tx *gorm.DB, now time.Time, user models.User, signupID, action, from, to string) error {
	e := auditEvent(now, user, signupID, action, from, to)
	if err := tx.Create(&e).Error; err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// ConfirmReset sets a new password through a reset link: the link works
// once, the password may not be one of the last three, and every other
// session of the user ends. A reset_required account becomes active.
func (s *Service) ConfirmReset(ctx context.Context, token, pw string) (PasswordSet, error) {
	if !secret.WellFormed(token) {
		return PasswordSet{}, ErrInvalidToken
	}
	rt, user, err := s.resetToken(s.db.WithContext(ctx), token)
	if err != nil {
		return PasswordSet{}, err
	}
	rules := password.Check(pw)
	if len(rules) == 0 {
		reused, err := s.reused(ctx, user.ID, pw)
		if err != nil {
			return PasswordSet{}, err
		}
		if reused {
			rules = append(rules, password.RuleReused)
		}
	}
	if len(rules) > 0 {
		return PasswordSet{}, &WeakPasswordError{Rules: rules}
	}
	hash, err := s.hasher.Hash(pw)
	if err != nil {
		return PasswordSet{}, err
	}
	var res PasswordSet
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		upd := tx.Model(&models.PasswordResetToken{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", rt.ID, now).
			Update("used_at", now)
		if upd.Error != nil {
			return upd.Error
		}
		if upd.RowsAffected == 0 {
			return ErrInvalidToken
		}
		if err := tx.Model(&models.PasswordResetToken{}).Where("user_id = ? AND used_at IS NULL", user.ID).
			Update("used_at", now).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", user.ID).Delete(&models.Session{}).Error; err != nil {
			return err
		}
		// A reset also settles a pending invitation.
		if err := tx.Model(&models.InvitationToken{}).Where("user_id = ? AND status = ?", user.ID, models.TokenPending).
			Update("status", models.TokenRevoked).Error; err != nil {
			return err
		}
		var org models.Organization
		if err := tx.Where("id = ?", user.OrganizationID).Take(&org).Error; err != nil {
			return err
		}
		res = PasswordSet{OrganizationName: org.Name, Email: user.Email, Status: models.UserActive, UserID: user.ID, SignupID: org.SignupID}
		return s.setPassword(tx, user, hash, "password_reset", &res, "reset")
	})
	if err != nil {
		return PasswordSet{}, err
	}
	return res, nil
}

func (s *Service) resetToken(tx *gorm.DB, token string) (models.PasswordResetToken, models.User, error) {
	var (
		rt   models.PasswordResetToken
		user models.User
	)
	err := tx.Where("token_hash = ?", secret.Hash(token)).Take(&rt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return rt, user, ErrInvalidToken
	}
	if err != nil {
		return rt, user, fmt.Errorf("reset: %w", err)
	}
	if err := tx.Where("id = ?", rt.UserID).Take(&user).Error; err != nil {
		return rt, user, fmt.Errorf("reset: %w", err)
	}
	switch {
	case rt.UsedAt != nil || user.Status == models.UserDisabled:
		return rt, user, ErrInvalidToken
	case !s.now().Before(rt.ExpiresAt):
		return rt, user, ErrTokenExpired
	}
	return rt, user, nil
}

// reused reports whether pw is one of the user's last passwords.
func (s *Service) reused(ctx context.Context, userID, pw string) (bool, error) {
	var hashes []string
	if err := s.db.WithContext(ctx).Model(&models.PasswordHistory{}).Where("user_id = ?", userID).
		Order("created_at DESC").Limit(PasswordHistoryDepth).Pluck("password_hash", &hashes).Error; err != nil {
		return false, fmt.Errorf("password history: %w", err)
	}
	for _, h := range hashes {
		ok, err := s.hasher.Verify(h, pw)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Console is a signed-in user as the console shows it.
type Console struct {
	SessionToken string    `json:"session_token,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	User         struct {
		Email   string `json:"email"`
		Name    string `json:"name"`
		IsOwner bool   `json:"is_owner"`
	} `json:"user"`
	Organization struct {
		OrganizationName string `json:"organization_name"`
	} `json:"organization"`
	Roles []string `json:"roles"`
}

// LookupOrganization is the first page of console sign-in.
func (s *Service) LookupOrganization(ctx context.Context, name string) (string, error) {
	key, err := orgname.Normalize(name)
	if err != nil {
		return "", ErrOrganizationNotFound
	}
	var org models.Organization
	err = s.db.WithContext(ctx).Where("name_key = ? AND status = ?", key, models.OrganizationActive).Take(&org).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrOrganizationNotFound
	}
	if err != nil {
		return "", fmt.Errorf("lookup: %w", err)
	}
	return org.Name, nil
}

// SignIn checks an organization, email and password. It does not let anyone
// probe accounts (contract v1.1, "no probing"): a wrong password is 401
// invalid_credentials whether the account is unknown, active, locked or
// reset_required, and every such answer costs one password hash
// verification (of a dummy hash when there is no account), so they take
// about the same time. 403 password_reset_required comes only with the right
// password; 403 password_not_set, to an owner with no password yet (nothing
// to check). Five wrong passwords in a row put an active account in
// reset_required.
func (s *Service) SignIn(ctx context.Context, orgName, email, pw string) (Console, error) {
	key, kerr := orgname.Normalize(orgName)
	mail, merr := contact.NormalizeEmail(email)
	var (
		org   models.Organization
		user  models.User
		roles []string
	)
	db := s.db.WithContext(ctx)
	found := kerr == nil && merr == nil
	if found {
		var err error
		user, org, roles, err = signInAccount(db, key, mail)
		if errors.Is(err, gorm.ErrRecordNotFound) {
			found = false
		} else if err != nil {
			return Console{}, fmt.Errorf("sign in: %w", err)
		}
	}
	if !found {
		_, _ = s.hasher.Verify(s.dummyHash, pw)
		return Console{}, ErrInvalidCredentials
	}
	if user.Status == models.UserInvited || user.PasswordHash == nil {
		// No password to check: the owner has not used the invitation (or
		// it expired unused, reset_required: a reset sets the first one).
		if user.Status == models.UserResetRequired {
			return Console{}, ErrPasswordResetRequired
		}
		return Console{}, ErrPasswordNotSet
	}
	ok, err := s.hasher.Verify(*user.PasswordHash, pw)
	if err != nil {
		return Console{}, fmt.Errorf("sign in: %w", err)
	}
	if !ok {
		if user.Status == models.UserActive {
			if err := s.failedAttempt(ctx, user, org); err != nil {
				return Console{}, err
			}
		}
		return Console{}, ErrInvalidCredentials
	}
	if user.Status == models.UserResetRequired {
		// The right password of a locked or expired account: only now may
		// the answer say what to do.
		return Console{}, ErrPasswordResetRequired
	}
	token, hash := secret.NewToken()
	now := s.now()
	sess := models.Session{ID: uuid.NewString(), TokenHash: hash, UserID: user.ID, ExpiresAt: now.Add(s.sessionTTL), CreatedAt: now}
	if user.FailedAttempts != 0 {
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&models.User{}).Where("id = ?", user.ID).Update("failed_attempts", 0).Error; err != nil {
				return err
			}
			return tx.Create(&sess).Error
		})
	} else {
		err = db.Create(&sess).Error
	}
	if err != nil {
		return Console{}, fmt.Errorf("sign in: %w", err)
	}
	c := console(user, org, sess.ExpiresAt, roles)
	c.SessionToken = token
	return c, nil
}

// signInAccount reads, in one query, the user of an active organization with
// this email (unless disabled), that organization and the user's roles: the
// join gives one row per role (one with no role when there is none). No
// such user is gorm.ErrRecordNotFound.
func signInAccount(db *gorm.DB, key, mail string) (models.User, models.Organization, []string, error) {
	var rows []struct {
		models.User
		OrgName     string
		OrgSignupID string
		RoleID      *string
	}
	err := db.Table("users").
		Select("users.*, organizations.name AS org_name, organizations.signup_id AS org_signup_id, role_assignments.role_id AS role_id").
		Joins("JOIN organizations ON organizations.id = users.organization_id").
		Joins("LEFT JOIN role_assignments ON role_assignments.user_id = users.id").
		Where("organizations.name_key = ? AND organizations.status = ? AND users.email = ? AND users.status <> ?",
			key, models.OrganizationActive, mail, models.UserDisabled).
		Find(&rows).Error
	if err != nil {
		return models.User{}, models.Organization{}, nil, err
	}
	if len(rows) == 0 {
		return models.User{}, models.Organization{}, nil, gorm.ErrRecordNotFound
	}
	user := rows[0].User
	org := models.Organization{ID: user.OrganizationID, SignupID: rows[0].OrgSignupID, Name: rows[0].OrgName,
		NameKey: &key, Status: models.OrganizationActive}
	var roles []string
	for _, r := range rows {
		if r.RoleID != nil {
			roles = append(roles, *r.RoleID)
		}
	}
	return user, org, roles, nil
}

func (s *Service) failedAttempt(ctx context.Context, user models.User, org models.Organization) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&models.User{}).Where("id = ?", user.ID).
			Update("failed_attempts", gorm.Expr("failed_attempts + 1")).Error; err != nil {
			return fmt.Errorf("sign in: %w", err)
		}
		locked := tx.Model(&models.User{}).
			Where("id = ? AND status = ? AND failed_attempts >= ?", user.ID, models.UserActive, MaxFailedAttempts).
			Updates(map[string]any{"status": models.UserResetRequired, "updated_at": s.now()})
		if locked.Error != nil {
			return fmt.Errorf("sign in: %w", locked.Error)
		}
		if locked.RowsAffected > 0 {
			if err := tx.Where("user_id = ?", user.ID).Delete(&models.Session{}).Error; err != nil {
				return err
			}
			return audit(tx, s.now(), user, org.SignupID, "locked_out", models.UserActive, models.UserResetRequired)
		}
		return nil
	})
}

// console is what the console shows of a signed-in user with these roles.
func console(user models.User, org models.Organization, expires time.Time, roles []string) Console {
	var c Console
	// A copy, sorted, and never nil: the answer lists roles as [] when none.
	c.Roles = slices.Clip(append([]string{}, roles...))
	sort.Strings(c.Roles)
	c.ExpiresAt = expires
	c.User.Email, c.User.Name, c.User.IsOwner = user.Email, user.Name, user.IsOwner
	c.Organization.OrganizationName = org.Name
	return c
}

// roles lists the ids of the user's roles.
func (s *Service) roles(ctx context.Context, userID string) ([]string, error) {
	var roles []string
	if err := s.db.WithContext(ctx).Model(&models.RoleAssignment{}).Where("user_id = ?", userID).
		Pluck("role_id", &roles).Error; err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return roles, nil
}

// Me returns the signed-in user of a live session.
func (s *Service) Me(ctx context.Context, token string) (Console, error) {
	if !secret.WellFormed(token) {
		return Console{}, ErrUnauthorized
	}
	db := s.db.WithContext(ctx)
	var sess models.Session
	err := db.Where("token_hash = ? AND expires_at > ?", secret.Hash(token), s.now()).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Console{}, ErrUnauthorized
	}
	if err != nil {
		return Console{}, fmt.Errorf("session: %w", err)
	}
	var user models.User
	if err := db.Where("id = ? AND status = ?", sess.UserID, models.UserActive).Take(&user).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Console{}, ErrUnauthorized
		}
		return Console{}, fmt.Errorf("session: %w", err)
	}
	var org models.Organization
	if err := db.Where("id = ? AND status = ?", user.OrganizationID, models.OrganizationActive).Take(&org).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Console{}, ErrUnauthorized
		}
		return Console{}, fmt.Errorf("session: %w", err)
	}
	roles, err := s.roles(ctx, user.ID)
	if err != nil {
		return Console{}, err
	}
	return console(user, org, sess.ExpiresAt, roles), nil
}

// SignOut ends a session. An unknown token is already signed out.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if !secret.WellFormed(token) {
		return nil
	}
	if err := s.db.WithContext(ctx).Where("token_hash = ?", secret.Hash(token)).Delete(&models.Session{}).Error; err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}
