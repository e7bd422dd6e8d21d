package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// AuditEntry is a status change to record beside the new view.
type AuditEntry = signup.AuditEntry

// SaveSignupInput is the sign-up's latest view, numbered by Version.
type SaveSignupInput struct {
	View       signup.View
	TokenHash  string
	Version    int64
	LastError  string
	FailedStep string
	Audit      *AuditEntry
}

// SaveSignup writes the read model of a sign-up (signup.Store.Save) and,
// when the sign-up leaves the wizard (submitted, abandoned or cancelled),
// gives back its business number slots in the same transaction.
func (a *Activities) SaveSignup(ctx context.Context, in SaveSignupInput) error {
	var leavesWizard *signup.Also
	if in.Audit != nil && in.Audit.From.Editable() && !in.Audit.To.Editable() {
		leavesWizard = releaseSlots(in.View.SignupID)
	}
	return a.saveWith(ctx, &in, nil, nil, leavesWizard)
}

// saveWith runs step (if any) and writes save (if any) in one transaction,
// as signup.Store.Save does: a wizard step's write and its view, the
// invitation's record and its view, or a status change and the slots it
// gives back land together or not at all, in one local activity of the
// workflow. fill, if set, puts into the view what step learnt (the workflow
// cannot know it before); it gets a copy of save. also, if set, goes with
// the save's own statement (signup.Also). A new audit event's
// metrics event is counted after the commit. A step's refusal (an
// application error) comes back unwrapped, so the workflow sees its code.
func (a *Activities) saveWith(ctx context.Context, save *SaveSignupInput, step func(tx *gorm.DB) error, fill func(v *signup.View), also *signup.Also) error {
	var (
		next    SaveSignupInput
		audited bool
		err     error
	)
	switch {
	case save != nil:
		audited, err = a.signups.Save(ctx, func(tx *gorm.DB) (signup.Saved, error) {
			if step != nil {
				if err := step(tx); err != nil {
					return signup.Saved{}, err
				}
			}
			next = *save
			if fill != nil {
				fill(&next.View)
			}
			return signup.Saved{View: next.View, TokenHash: next.TokenHash, Version: next.Version, LastError: next.LastError,
				Audit: next.Audit, Also: also}, nil
		})
	case step != nil:
		err = a.db.WithContext(ctx).Transaction(step)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app
	}
	if err != nil {
		return err
	}
	if event := next.Audit.Event(); audited && event != "" {
		// Counted once: a retried save finds its audit row and counts nothing.
		a.events(event)
	}
	return nil
}

// audit inserts an event once per dedupe key, reporting whether it did.
func (a *Activities) audit(tx *gorm.DB, e models.AuditEvent) (bool, error) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = a.now()
	}
	return signup.InsertAudit(tx, e)
}

// AttachCertificateInput names an uploaded certificate to attach.
type AttachCertificateInput struct {
	SignupID      string
	CertificateID string
	// Save, when set, is the sign-up's next view, written in the attach's
	// transaction instead of by a SaveSignup of its own; its Certificate is
	// filled in here.
	Save *SaveSignupInput `json:",omitempty"`
}

// AttachCertificate makes the upload the sign-up's certificate and deletes
// the ones it replaces (rows and sealed objects). It returns the stored
// metadata (never the bytes). Run again, it finds the same certificate and
// nothing left to delete (and a save it made already is not newer than the
// stored one: nothing changes).
func (a *Activities) AttachCertificate(ctx context.Context, in AttachCertificateInput) (signup.Certificate, error) {
	var (
		cert     signup.Certificate
		replaced []certstore.Pending
	)
	err := a.saveWith(ctx, in.Save, func(tx *gorm.DB) error {
		// One read for the certificate to attach and those it replaces: the
		// sign-up's stored certificates.
		var (
			c              models.Certificate
			stored, others []models.Certificate
		)
		if err := tx.Select("id", "signup_id", "filename", "content_type", "size", "sha256", "object_key", "created_at").
			Where("signup_id = ? AND state = ?", in.SignupID, certstore.StateStored).Find(&stored).Error; err != nil {
			return fmt.Errorf("attach certificate: %w", err)
		}
		for _, row := range stored {
			if row.ID == in.CertificateID {
				c = row
			} else {
				others = append(others, row)
			}
		}
		if c.ID == "" {
			return permanent(signup.CodeCertificateMissing, "the uploaded certificate is gone; upload it again", nil)
		}
		cert = signup.Certificate{ID: c.ID, Filename: c.Filename, ContentType: c.ContentType, Size: c.Size, SHA256: c.SHA256}
		var err error
		if replaced, err = certstore.RetireRows(tx, others); err != nil {
			return fmt.Errorf("attach certificate: %w", err)
		}
		return nil
	}, func(v *signup.View) {
		attached := cert
		v.Certificate = &attached
	}, nil)
	if err != nil {
		return signup.Certificate{}, err
	}
	a.removeCertificates(ctx, replaced)
	return cert, nil
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
	Reason   signup.Status // the status it ends in: abandoned or cancelled
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
