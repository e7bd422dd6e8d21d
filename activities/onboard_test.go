package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// ProvisionAndInvite run twice leaves what one run leaves: one organization,
// owner and profile, one live link of the Seq, one audit row of the
// invited save; the second mail repeats the first's Message-ID.
func TestProvisionAndInviteTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := "both"
	f.reserve(t, id, "both-co")
	in := activities.ProvisionAndInviteInput{Provision: provisionInput(id, "both-co"), Invite: invitedInput(id, 1)}
	in.Invite.Save.Version = 2
	for i := 0; i < 2; i++ {
		res, err := f.acts.ProvisionAndInvite(ctx, in)
		if err != nil {
			t.Fatalf("run #%d: %v", i, err)
		}
		if res.SentAt.IsZero() || res.AlreadyActive {
			t.Fatalf("run #%d: %+v", i, res)
		}
	}
	f.wantRows(t, id, []rowCount{
		{"organizations", &models.Organization{}, "signup_id = ?", 1},
		{"business profiles", &models.BusinessProfile{}, "signup_id = ?", 1},
		{"live invitation links", &models.InvitationToken{}, "signup_id = ? AND status = 'pending'", 1},
		{"invitation links", &models.InvitationToken{}, "signup_id = ?", 1},
		{"audit rows of the invited save", &models.AuditEvent{}, "signup_id = ? AND action = 'invitation_sent'", 1},
		{"audit rows of provisioning", &models.AuditEvent{}, "signup_id = ? AND action = 'owner_provisioned'", 1},
		{"sign-up rows invited", &models.Signup{}, "id = ? AND status = 'invited' AND version = 2", 1},
	})
	if msgs := f.box.List(); len(msgs) != 2 || msgs[0].MessageID != msgs[1].MessageID {
		t.Errorf("mails %d, want 2 with one Message-ID: %v", len(msgs), msgs)
	}
}

// A failure names the half it came from, keeping its code and retryability.
func TestProvisionAndInviteNamesTheFailedStep(t *testing.T) {
	tests := []struct {
		name    string
		reserve bool // the sign-up holds its name
		refuse  bool // the mail server refuses the mail
		step    string
		code    string
	}{
		{name: "no reservation", reserve: false, step: activities.StepProvision, code: signup.CodeReservationMissing},
		{name: "mail refused", reserve: true, refuse: true, step: activities.StepSendInvitation, code: signup.CodeMailRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, nil)
			id := "fails"
			if tt.reserve {
				f.reserve(t, id, "fails-co")
			}
			if tt.refuse {
				f.smtp.Refuse(550, "mailbox unavailable")
			}
			_, err := f.acts.ProvisionAndInvite(ctx, activities.ProvisionAndInviteInput{
				Provision: provisionInput(id, "fails-co"),
				Invite:    activities.SendInvitationInput{SignupID: id, Seq: 1, Kind: signup.InvitationFirst, ExpiresAt: time.Now().Add(time.Hour)},
			})
			if err == nil {
				t.Fatal("no error")
			}
			if got := activities.StepOf(err); got != tt.step {
				t.Errorf("step %q, want %q (%v)", got, tt.step, err)
			}
			if got := errType(err); got != tt.code {
				t.Errorf("type %q, want %q (%v)", got, tt.code, err)
			}
			if activities.StepOf(context.DeadlineExceeded) != "" {
				t.Error("a plain error names a step")
			}
			// A retryable failure keeps its cause.
			f.smtp.Refuse(451, "try later")
			_, err = f.acts.ProvisionAndInvite(ctx, activities.ProvisionAndInviteInput{
				Provision: provisionInput(id, "fails-co"),
				Invite:    activities.SendInvitationInput{SignupID: id, Seq: 2, Kind: signup.InvitationFirst, ExpiresAt: time.Now().Add(time.Hour)},
			})
			if tt.reserve && (activities.StepOf(err) != activities.StepSendInvitation || !strings.Contains(err.Error(), "451")) {
				t.Errorf("a mail server's 451: %v (step %q)", err, activities.StepOf(err))
			}
		})
	}
}

// ProvisionOwner writes every field of the organization, owner, profile,
// roles and audit event it is given (on PostgreSQL in one statement, so
// each column is named twice: here against the input).
func TestProvisionOwnerRows(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.reserve(t, "rows", "rows-co")
	in := provisionInput("rows", "rows-co")
	in.CertificateID = f.upload(t, "rows").ID
	res, err := f.acts.ProvisionOwner(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var (
		org     models.Organization
		owner   models.User
		profile models.BusinessProfile
		roles   []models.RoleAssignment
		audit   models.AuditEvent
		held    models.NameReservation
	)
	for _, q := range []struct {
		dest  any
		where string
		arg   string
	}{
		{&org, "id = ?", res.OrganizationID},
		{&owner, "id = ?", res.UserID},
		{&profile, "signup_id = ?", "rows"},
		{&audit, "signup_id = ? AND action = 'owner_provisioned'", "rows"},
		{&held, "signup_id = ?", "rows"},
	} {
		if err := f.db.Where(q.where, q.arg).Take(q.dest).Error; err != nil {
			t.Fatalf("%T: %v", q.dest, err)
		}
	}
	if err := f.db.Where("user_id = ?", res.UserID).Order("role_id").Find(&roles).Error; err != nil {
		t.Fatal(err)
	}
	b, o := in.Business, in.Organization
	checks := []struct {
		what      string
		got, want any
	}{
		{"organization", []any{org.SignupID, org.Name, *org.NameKey, org.Status}, []any{"rows", "rows-co", "rows-co", models.OrganizationActive}},
		{"owner", []any{owner.OrganizationID, owner.Email, owner.Name, owner.Phone, owner.IsOwner, owner.Status, owner.PasswordHash == nil, owner.FailedAttempts},
			[]any{org.ID, o.ContactEmail, o.ContactName, o.MobilePhone, true, models.UserInvited, true, 0}},
		{"profile", []any{profile.OrganizationID, profile.BusinessNumber, profile.CompanyName, profile.BillingEmail, profile.RepresentativeName,
			profile.RepresentativePhone, profile.Address, profile.BusinessType, profile.BusinessCategory, profile.BusinessStatus,
			profile.VerificationSource, profile.VerifiedAt.Unix(), *profile.CertificateID},
			[]any{org.ID, b.BusinessNumber, b.CompanyName, b.BillingEmail, b.RepresentativeName, b.RepresentativePhone, b.Address,
				b.BusinessType, b.BusinessCategory, b.BusinessStatus, b.VerificationSource, b.VerifiedAt.Unix(), in.CertificateID}},
		{"roles", len(roles), len(models.OwnerRoles)},
		{"audit", []any{*audit.UserID, audit.Actor, *audit.DedupeKey}, []any{owner.ID, "system", "rows:provisioned"}},
		{"reservation", *held.OrganizationID, org.ID},
	}
	for _, r := range roles {
		checks = append(checks, struct {
			what      string
			got, want any
		}{"role " + r.RoleID, r.OrganizationID, org.ID})
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}
