package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// SendInvitationInput is the Seq-th link of a sign-up, valid until ExpiresAt.
type SendInvitationInput struct {
	SignupID  string
	Seq       int
	Kind      signup.InvitationKind
	ExpiresAt time.Time
	// Save, when set, is the sign-up's next view (invited), written with
	// the link's sent time in the activity's last transaction instead of
	// by a save of its own; its View.Invite.SentAt is filled in here.
	Save *SaveSignupInput
}

// SendInvitationResult says when the mail went, or that the owner's password
// was set already and no mail was needed.
type SendInvitationResult struct {
	SentAt        time.Time
	AlreadyActive bool
}

// SendInvitation mails the owner a fresh single-use link. The token is random
// and only its hash is stored, in the row for (sign-up, Seq): a retry replaces
// that row's hash, so whatever happens exactly one link of each Seq lives.
// Once the mail is out, the links of earlier Seqs die. The Message-ID is
// fixed per (sign-up, Seq), so a mail repeated by a retry is recognizable.
func (a *Activities) SendInvitation(ctx context.Context, in SendInvitationInput) (SendInvitationResult, error) {
	defer keepAlive(ctx)()
	now := a.now()
	var (
		org   models.Organization
		owner models.User
	)
	token, hash := secret.NewToken()
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return issueLink(tx, in, hash, now, &org, &owner)
	})
	if err != nil {
		var app interface{ NonRetryable() bool }
		if errors.As(err, &app) {
			return SendInvitationResult{}, err
		}
		return SendInvitationResult{}, fmt.Errorf("send invitation: %w", err)
	}
	if owner.Status == models.UserActive || owner.Status == models.UserDisabled || owner.ID == "" {
		// No mail needed: the view moves on all the same.
		if err := a.saveWith(ctx, in.Save, nil, nil); err != nil {
			return SendInvitationResult{}, fmt.Errorf("send invitation: %w", err)
		}
		return SendInvitationResult{AlreadyActive: owner.Status == models.UserActive}, nil
	}

	msg, err := mailer.InvitationMessage(mailer.Invitation{
		OrganizationName: org.Name, ContactName: owner.Name, Email: owner.Email,
		Link: a.publicBaseURL + "/invitations/" + token, ExpiresAt: in.ExpiresAt, Reminder: in.Kind == signup.InvitationReminder,
	}, "invite-"+in.SignupID+"-"+strconv.Itoa(in.Seq)+"@onboarding")
	if err != nil {
		return SendInvitationResult{}, permanent(signup.CodeMailRejected, err.Error(), nil)
	}
	if attempt := activityAttempt(ctx); attempt > 1 {
		a.log.WarnContext(ctx, "sending invitation again", "signup_id", in.SignupID, "seq", in.Seq, "attempt", attempt)
	}
	if err := a.mail.Send(ctx, msg); err != nil {
		var pe *mailer.PermanentError
		if errors.As(err, &pe) {
			return SendInvitationResult{}, permanent(signup.CodeMailRejected, "the mail server refused the invitation: "+err.Error(), nil)
		}
		return SendInvitationResult{}, fmt.Errorf("send invitation: %w", err)
	}
	sent := a.now()
	record := func(tx *gorm.DB) error {
		if err := tx.Model(&models.InvitationToken{}).Where("signup_id = ? AND seq = ?", in.SignupID, in.Seq).
			Update("sent_at", sent).Error; err != nil {
			return err
		}
		return tx.Model(&models.InvitationToken{}).
			Where("signup_id = ? AND seq < ? AND status = ?", in.SignupID, in.Seq, models.TokenPending).
			Update("status", models.TokenRevoked).Error
	}
	if err := a.saveWith(ctx, in.Save, &sent, record); err != nil {
		return SendInvitationResult{}, fmt.Errorf("send invitation: record: %w", err)
	}
	return SendInvitationResult{SentAt: sent}, nil
}

// issueLink reads the sign-up's organization and owner into org and owner
// and, while the owner still has to set a password, makes the link of
// in.Seq pending with hash (one row a Seq; a used one stays used).
func issueLink(tx *gorm.DB, in SendInvitationInput, hash string, now time.Time, org *models.Organization, owner *models.User) error {
	if err := tx.Where("signup_id = ?", in.SignupID).Take(org).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return permanent(signup.CodeNotProvisioned, "the sign-up has no organization yet", nil)
		}
		return err
	}
	if err := tx.Where("organization_id = ? AND is_owner = ?", org.ID, true).Take(owner).Error; err != nil {
		return err
	}
	if owner.Status == models.UserActive || owner.Status == models.UserDisabled {
		return nil
	}
	var row models.InvitationToken
	err := tx.Where("signup_id = ? AND seq = ?", in.SignupID, in.Seq).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		row = models.InvitationToken{ID: newID(), SignupID: in.SignupID, UserID: owner.ID, Seq: in.Seq,
			Kind: string(in.Kind), TokenHash: hash, Status: models.TokenPending, ExpiresAt: in.ExpiresAt.UTC(), CreatedAt: now}
		return tx.Create(&row).Error
	case err != nil:
		return err
	case row.Status == models.TokenUsed:
		return nil
	default:
		return tx.Model(&row).Updates(map[string]any{"token_hash": hash, "status": models.TokenPending,
			"expires_at": in.ExpiresAt.UTC()}).Error
	}
}

// saveWith writes in (if set) as SaveSignup does, with sent as its
// invitation's sent time and alsoInTx in the same transaction; without in
// it only runs alsoInTx.
func (a *Activities) saveWith(ctx context.Context, in *SaveSignupInput, sent *time.Time, alsoInTx func(tx *gorm.DB) error) error {
	if in == nil {
		if alsoInTx == nil {
			return nil
		}
		return a.db.WithContext(ctx).Transaction(alsoInTx)
	}
	saved := *in
	if sent != nil && saved.View.Invite != nil {
		inv := *saved.View.Invite
		inv.SentAt = sent
		saved.View.Invite = &inv
	}
	return a.save(ctx, saved, alsoInTx)
}

func activityAttempt(ctx context.Context) int32 {
	if !activity.IsActivity(ctx) {
		return 1
	}
	return activity.GetInfo(ctx).Attempt
}

// ExpireInput names a sign-up whose invitation ran out.
type ExpireInput struct {
	SignupID string
}

// ExpireResult says whether the password was set after all.
type ExpireResult struct {
	AlreadyActive bool
}

// ExpireInvitation kills the sign-up's live links and puts the owner in
// reset_required, unless the password was set meanwhile (then it changes
// nothing and says so). Acceptance and expiry are both conditional updates,
// so exactly one of them wins a race.
func (a *Activities) ExpireInvitation(ctx context.Context, in ExpireInput) (ExpireResult, error) {
	defer keepAlive(ctx)()
	var res ExpireResult
	now := a.now()
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var org models.Organization
		if err := tx.Where("signup_id = ?", in.SignupID).Take(&org).Error; err != nil {
			return err
		}
		var owner models.User
		if err := tx.Where("organization_id = ? AND is_owner = ?", org.ID, true).Take(&owner).Error; err != nil {
			return err
		}
		if owner.Status == models.UserActive {
			res.AlreadyActive = true
			return nil
		}
		if err := tx.Model(&models.InvitationToken{}).Where("signup_id = ? AND status = ?", in.SignupID, models.TokenPending).
			Update("status", models.TokenExpired).Error; err != nil {
			return err
		}
		upd := tx.Model(&models.User{}).Where("id = ? AND status = ?", owner.ID, models.UserInvited).
			Updates(map[string]any{"status": models.UserResetRequired, "updated_at": now})
		if upd.Error != nil {
			return upd.Error
		}
		if upd.RowsAffected > 0 {
			_, err := a.audit(tx, models.AuditEvent{SignupID: ptr(in.SignupID), UserID: ptr(owner.ID), Actor: string(signup.ActorSystem),
				Action: string(signup.ActionInvitationExpired), FromStatus: ptr(models.UserInvited), ToStatus: ptr(models.UserResetRequired)})
			return err
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("expire invitation: %w", err)
	}
	return res, nil
}
