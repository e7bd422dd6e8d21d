package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// AuditEntry is a status change to record beside the new view.
type AuditEntry struct {
	Actor  signup.Actor
	Action string
	From   signup.Status
	To     signup.Status
	Detail string
}

// SaveSignupInput is the sign-up's latest view, numbered by Version.
type SaveSignupInput struct {
	View       signup.View
	TokenHash  string
	Version    int64
	LastError  string
	FailedStep string
	Audit      *AuditEntry
}

// SaveSignup writes the read model of a sign-up and, with a status change,
// its audit event. A save older than the stored one is ignored, so retries and
// replays never move the read model backwards; nor does any save bring back
// the personal data of an erased sign-up.
func (a *Activities) SaveSignup(ctx context.Context, in SaveSignupInput) error {
	viewJSON, err := json.Marshal(in.View)
	if err != nil {
		return fmt.Errorf("save sign-up: %w", err)
	}
	v := in.View
	var orgName, bizNo, email *string
	if v.Organization != nil {
		orgName, email = ptr(v.Organization.OrganizationName), ptr(v.Organization.ContactEmail)
	}
	if v.Business != nil && v.Business.BusinessNumber != "" {
		bizNo = ptr(v.Business.BusinessNumber)
	}
	var lastErr *string
	if in.LastError != "" {
		lastErr = ptr(in.LastError)
	}
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO signups (id, token_hash, status, workflow_id, organization_name, business_number,
				contact_email, view, last_error, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, organization_name = excluded.organization_name,
				business_number = excluded.business_number, contact_email = excluded.contact_email,
				view = excluded.view, last_error = excluded.last_error, version = excluded.version,
				updated_at = excluded.updated_at
			WHERE signups.version < excluded.version AND signups.erased_at IS NULL`,
			v.SignupID, in.TokenHash, string(v.Status), signup.WorkflowID(v.SignupID), orgName, bizNo,
			email, string(viewJSON), lastErr, in.Version, v.CreatedAt.UTC(), v.UpdatedAt.UTC())
		if res.Error != nil {
			return fmt.Errorf("save sign-up: %w", res.Error)
		}
		if in.Audit == nil {
			return nil
		}
		if in.Audit.From.Editable() && !in.Audit.To.Editable() {
			// Submitted, abandoned or cancelled: no longer an open sign-up
			// of its business number.
			if err := releaseBusinessNumbers(tx, v.SignupID); err != nil {
				return fmt.Errorf("save sign-up: %w", err)
			}
		}
		inserted, err := a.audit(tx, models.AuditEvent{
			SignupID: ptr(v.SignupID), Actor: in.Audit.Actor.Kind, Action: in.Audit.Action,
			FromStatus: nonEmpty(string(in.Audit.From)), ToStatus: nonEmpty(string(in.Audit.To)),
			Detail:    nonEmpty(auditDetail(in.Audit)),
			DedupeKey: ptr(v.SignupID + ":" + strconv.FormatInt(in.Version, 10)),
			CreatedAt: v.UpdatedAt.UTC(),
		})
		if err != nil {
			return err
		}
		if event := eventOf(in.Audit); inserted && event != "" {
			// Counted once: a retried save finds its audit row and counts nothing.
			a.events(event)
		}
		return nil
	})
}

// eventOf names the metrics event of a status change, if it is one.
func eventOf(e *AuditEntry) string {
	switch e.Action {
	case "terms_accepted":
		if e.From == "" {
			return "started"
		}
	case "submitted":
		return "submitted"
	case "invitation_sent":
		return "invited"
	case "password_set":
		return "active"
	case "invitation_expired":
		return "expired"
	case "abandoned":
		return "abandoned"
	case "step_failed":
		return "needs_attention"
	case "cancelled":
		return "cancelled"
	}
	return ""
}

func auditDetail(e *AuditEntry) string {
	switch {
	case e.Actor.Name != "" && e.Detail != "":
		return e.Actor.Name + ": " + e.Detail
	case e.Actor.Name != "":
		return e.Actor.Name
	}
	return e.Detail
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// audit inserts an event once per dedupe key, reporting whether it did.
func (a *Activities) audit(tx *gorm.DB, e models.AuditEvent) (bool, error) {
	e.ID = newID()
	if e.CreatedAt.IsZero() {
		e.CreatedAt = a.now()
	}
	res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "dedupe_key"}}, DoNothing: true}).Create(&e)
	if res.Error != nil {
		return false, fmt.Errorf("audit: %w", res.Error)
	}
	return res.RowsAffected > 0, nil
}

// AttachCertificateInput names an uploaded certificate to attach.
type AttachCertificateInput struct {
	SignupID      string
	CertificateID string
}

// AttachCertificate makes the upload the sign-up's certificate and deletes
// the ones it replaces (rows and sealed objects). It returns the stored
// metadata (never the bytes). Run again, it finds the same certificate and
// nothing left to delete.
func (a *Activities) AttachCertificate(ctx context.Context, in AttachCertificateInput) (signup.Certificate, error) {
	var (
		c        models.Certificate
		replaced []certstore.Pending
	)
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Select("id", "signup_id", "filename", "content_type", "size", "sha256", "created_at").
			Where("id = ? AND signup_id = ? AND state = ?", in.CertificateID, in.SignupID, certstore.StateStored).Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return permanent(signup.CodeCertificateMissing, "the uploaded certificate is gone; upload it again", nil)
		}
		if err != nil {
			return fmt.Errorf("attach certificate: %w", err)
		}
		replaced, err = certstore.Retire(tx, "signup_id = ? AND id <> ? AND state = ?", in.SignupID, in.CertificateID, certstore.StateStored)
		if err != nil {
			return fmt.Errorf("attach certificate: %w", err)
		}
		return nil
	})
	if err != nil {
		return signup.Certificate{}, err
	}
	a.removeCertificates(ctx, replaced)
	return signup.Certificate{ID: c.ID, Filename: c.Filename, ContentType: c.ContentType, Size: c.Size, SHA256: c.SHA256}, nil
}

// removeCertificates deletes retired certificates after the transaction
// that retired them. A failure is logged, not returned: the rows stay
// retired and the purge workflow's sweep finishes them.
func (a *Activities) removeCertificates(ctx context.Context, pending []certstore.Pending) {
	if len(pending) == 0 {
		return
	}
	if err := a.certs.Remove(ctx, pending); err != nil {
		a.log.WarnContext(ctx, "certificates retired but not yet deleted; the sweep will", "error", err)
	}
}

// ReleaseInput names a sign-up to release, and why.
type ReleaseInput struct {
	SignupID string
	Reason   string // abandoned or cancelled
}

// ReleaseSignup gives back what a sign-up holds: its name reservation and,
// before provisioning, its certificates (rows and sealed objects). After
// provisioning it disables the organization (freeing the name) and its
// users, kills their links and sessions, and keeps the certificate with the
// disabled business profile.
func (a *Activities) ReleaseSignup(ctx context.Context, in ReleaseInput) error {
	defer keepAlive(ctx)()
	now := a.now()
	var retired []certstore.Pending
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("signup_id = ?", in.SignupID).Delete(&models.NameReservation{}).Error; err != nil {
			return fmt.Errorf("release: reservation: %w", err)
		}
		if err := releaseBusinessNumbers(tx, in.SignupID); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		var org models.Organization
		err := tx.Where("signup_id = ?", in.SignupID).Take(&org).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			if retired, err = certstore.Retire(tx, "signup_id = ?", in.SignupID); err != nil {
				return fmt.Errorf("release: certificates: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if err := tx.Model(&models.Organization{}).Where("id = ?", org.ID).
			Updates(map[string]any{"status": models.OrganizationDisabled, "name_key": nil, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("release: organization: %w", err)
		}
		var userIDs []string
		if err := tx.Model(&models.User{}).Where("organization_id = ?", org.ID).Pluck("id", &userIDs).Error; err != nil {
			return fmt.Errorf("release: users: %w", err)
		}
		if err := tx.Model(&models.User{}).Where("organization_id = ?", org.ID).
			Updates(map[string]any{"status": models.UserDisabled, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("release: users: %w", err)
		}
		if len(userIDs) > 0 {
			if err := tx.Where("user_id IN ?", userIDs).Delete(&models.Session{}).Error; err != nil {
				return fmt.Errorf("release: sessions: %w", err)
			}
			if err := tx.Model(&models.PasswordResetToken{}).Where("user_id IN ? AND used_at IS NULL", userIDs).
				Update("used_at", now).Error; err != nil {
				return fmt.Errorf("release: reset links: %w", err)
			}
		}
		if err := tx.Model(&models.InvitationToken{}).Where("signup_id = ? AND status = ?", in.SignupID, models.TokenPending).
			Update("status", models.TokenRevoked).Error; err != nil {
			return fmt.Errorf("release: invitations: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.removeCertificates(ctx, retired)
	return nil
}
