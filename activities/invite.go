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
	return a.sendInvitation(ctx, in, nil)
}

// sendInvitation is SendInvitation without its heartbeat; known, when set,
// are the organization and owner just provisioned, not read again.
func (a *Activities) sendInvitation(ctx context.Context, in SendInvitationInput, known *parties) (SendInvitationResult, error) {
	now := a.now()
	var (
		org   models.Organization
		owner models.User
	)
	if known != nil {
		org, owner = known.org, known.owner
	}
	token, hash := secret.NewToken()
	db := a.db.WithContext(ctx)
	var err error
	if known != nil {
		// One statement at most: no transaction around it.
		err = issueLink(db, in, hash, now, owner)
	} else {
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := linkParties(tx, in.SignupID, &org, &owner); err != nil {
				return err
			}
			return issueLink(tx, in, hash, now, owner)
		})
	}
	if err != nil {
		var app interface{ NonRetryable() bool }
		if errors.As(err, &app) {
			return SendInvitationResult{}, err
		}
		return SendInvitationResult{}, fmt.Errorf("send invitation: %w", err)
	}
	if owner.Status == models.UserActive || owner.Status == models.UserDisabled || owner.ID == "" {
		// No mail needed: the view moves on all the same.
		if err := a.saveWith(ctx, in.Save, nil, nil, nil); err != nil {
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
		return tx.Exec(markLinkSent, in.Seq, sent, in.Seq, models.TokenRevoked, in.SignupID, in.Seq, in.Seq, models.TokenPending).Error
	}
	if err := a.saveWith(ctx, in.Save, record, func(v *signup.View) { v.Invite = sentAt(v.Invite, sent) }, nil); err != nil {
		return SendInvitationResult{}, fmt.Errorf("send invitation: record: %w", err)
	}
	return SendInvitationResult{SentAt: sent}, nil
}

// issueLink makes the link of in.Seq pending with hash (one row a Seq; a
// used one stays used) while the owner still has to set a password.
func issueLink(tx *gorm.DB, in SendInvitationInput, hash string, now time.Time, owner models.User) error {
	if owner.Status == models.UserActive || owner.Status == models.UserDisabled {
		return nil
	}
	return tx.Exec(upsertLink, newID(), in.SignupID, owner.ID, in.Seq, string(in.Kind), hash, models.TokenPending,
		in.ExpiresAt.UTC(), now, models.TokenUsed).Error
}

// linkParties reads the sign-up's organization and its owner in one query.
// No organization is permanent (not provisioned); an organization without
// an owner is gorm.ErrRecordNotFound, retried, as the owner's own read was.
func linkParties(tx *gorm.DB, signupID string, org *models.Organization, owner *models.User) error {
	var row struct {
		OrgID       string
		OrgName     string
		OwnerID     *string
		OwnerName   *string
		OwnerEmail  *string
		OwnerStatus *string
	}
	err := tx.Table("organizations").
		Select("organizations.id AS org_id, organizations.name AS org_name, users.id AS owner_id, "+
			"users.name AS owner_name, users.email AS owner_email, users.status AS owner_status").
		Joins("LEFT JOIN users ON users.organization_id = organizations.id AND users.is_owner = ?", true).
		Where("organizations.signup_id = ?", signupID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return permanent(signup.CodeNotProvisioned, "the sign-up has no organization yet", nil)
	}
	if err != nil {
		return err
	}
	if row.OwnerID == nil {
		return fmt.Errorf("owner of organization %s: %w", row.OrgID, gorm.ErrRecordNotFound)
	}
	*org = models.Organization{ID: row.OrgID, SignupID: signupID, Name: row.OrgName}
	*owner = models.User{ID: *row.OwnerID, OrganizationID: row.OrgID, IsOwner: true,
		Name: deref(row.OwnerName), Email: deref(row.OwnerEmail), Status: deref(row.OwnerStatus)}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// upsertLink makes the link of (sign-up, Seq) pending with a new hash and
// expiry in one statement, inserting it the first time; a used link is
// left as it is (the WHERE), so a retry after acceptance changes nothing.
// It relies on the UNIQUE (signup_id, seq) of the initial schema.
// Arguments: id, signup id, user id, seq, kind, hash, pending, expires,
// created, used.
const upsertLink = `INSERT INTO invitation_tokens (id, signup_id, user_id, seq, kind, token_hash, status, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (signup_id, seq) DO UPDATE SET token_hash = excluded.token_hash, status = excluded.status,
	expires_at = excluded.expires_at
WHERE invitation_tokens.status <> ?`

// markLinkSent records the sent time of the link of Seq and revokes the
// sign-up's pending links of earlier Seqs, in one statement: the link of
// Seq keeps its status (whatever it is) and the others keep their sent
// time. Arguments: seq, sent, seq, revoked, signup id, seq, seq, pending.
const markLinkSent = `UPDATE invitation_tokens
SET sent_at = CASE WHEN seq = ? THEN ? ELSE sent_at END, status = CASE WHEN seq = ? THEN status ELSE ? END
WHERE signup_id = ? AND (seq = ? OR (seq < ? AND status = ?))`

// sentAt is a copy of inv (when there is one) sent at sent.
func sentAt(inv *signup.Invite, sent time.Time) *signup.Invite {
	if inv == nil {
		return nil
	}
	c := *inv
	c.SentAt = &sent
	return &c
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
