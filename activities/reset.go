package activities

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/contact"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// SendPasswordReset mails a single-use reset link when the organization and
// user exist and are not disabled, and does nothing otherwise: the request
// was answered 202 either way, so nobody learns which accounts exist. The
// link's row is keyed by the request id, so a retry replaces its hash.
func (a *Activities) SendPasswordReset(ctx context.Context, in account.PasswordResetRequest) error {
	key, err := orgname.Normalize(in.OrganizationName)
	if err != nil {
		return nil
	}
	email, err := contact.NormalizeEmail(in.Email)
	if err != nil {
		return nil
	}
	now := a.now()
	var (
		org  models.Organization
		user models.User
	)
	token, hash := secret.NewToken()
	expires := now.Add(a.resetTokenTTL)
	found := false
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("name_key = ? AND status = ?", key, models.OrganizationActive).Take(&org).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		err = tx.Where("organization_id = ? AND email = ? AND status <> ?", org.ID, email, models.UserDisabled).Take(&user).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		row := models.PasswordResetToken{ID: in.RequestID, UserID: user.ID, TokenHash: hash, ExpiresAt: expires, CreatedAt: now}
		var existing models.PasswordResetToken
		err = tx.Where("id = ?", in.RequestID).Take(&existing).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return tx.Create(&row).Error
		case err != nil:
			return err
		case existing.UsedAt != nil:
			found = false
			return nil
		default:
			return tx.Model(&existing).Updates(map[string]any{"token_hash": hash, "expires_at": expires}).Error
		}
	})
	if err != nil {
		return fmt.Errorf("password reset: %w", err)
	}
	if !found {
		return nil
	}
	msg, err := mailer.PasswordResetMessage(mailer.PasswordReset{OrganizationName: org.Name, Email: user.Email,
		Link: a.publicBaseURL + "/password-reset/" + token, ExpiresAt: expires}, "reset-"+in.RequestID+"@onboarding")
	if err != nil {
		return permanent(signup.CodeMailRejected, err.Error(), nil)
	}
	if err := a.mail.Send(ctx, msg); err != nil {
		var pe *mailer.PermanentError
		if errors.As(err, &pe) {
			return permanent(signup.CodeMailRejected, "the mail server refused the reset mail: "+err.Error(), nil)
		}
		return fmt.Errorf("password reset: %w", err)
	}
	return nil
}
