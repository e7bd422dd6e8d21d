package activities_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// statements counts the statements GORM runs on db from now on, as the
// service's onboarding_db_statements_total does.
func statements(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	if err := metrics.OnStatement(db, "test", func(*gorm.DB) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return &n
}

// The statements each call runs, as the bench counts them per sign-up; the
// figures are upper bounds, so that a change that adds a round trip fails.
func TestStatementsPerCall(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	n := statements(t, f.db.DB)
	postgres := f.db.Name() == "postgres"
	either := func(pg, lite int64) int64 {
		if postgres {
			return pg
		}
		return lite
	}
	firstCert := f.upload(t, "s")
	var nextCert models.Certificate
	attach := func(id string) func() error {
		return func() error {
			_, err := f.acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: "s", CertificateID: id})
			return err
		}
	}
	calls := []struct {
		name string
		call func() error
		max  int64
		// prepare, if set, runs before the call, uncounted.
		prepare func()
	}{
		{"ReserveName, first name", func() error {
			return f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "s", Name: "stmt-co"})
		}, either(1, 2), nil},
		{"ReserveName, same name again", func() error {
			return f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "s", Name: "stmt-co"})
		}, either(1, 2), nil},
		{"ReserveName, taken", func() error {
			if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "t", Name: "stmt-co"}); err == nil {
				t.Error("taken name reserved")
			}
			return nil
		}, either(1, 2), nil},
		// The sign-up's stored certificates in one read; replacing one adds
		// its retirement and, after the commit, its row's delete.
		{"AttachCertificate, first", attach(firstCert.ID), 1, nil},
		{"AttachCertificate, again", attach(firstCert.ID), 1, nil},
		{"AttachCertificate, replacing one", func() error { return attach(nextCert.ID)() }, 3,
			func() { nextCert = f.upload(t, "s") }},
		// The organization, the reservation it takes, the owner, the
		// profile, the roles and the audit event: one statement on
		// PostgreSQL.
		{"ProvisionOwner", func() error {
			_, err := f.acts.ProvisionOwner(ctx, provisionInput("s", "stmt-co"))
			return err
		}, either(1, 6), nil},
		// Organization and owner, the link's upsert, its sent time with the
		// older links' revocation, and the invited view's save.
		{"SendInvitation with the invited view", func() error {
			_, err := f.acts.SendInvitation(ctx, invitedInput("s", 1))
			return err
		}, either(4, 5), nil},
		{"SendInvitation, run again", func() error {
			_, err := f.acts.SendInvitation(ctx, invitedInput("s", 1))
			return err
		}, either(4, 5), nil},
		{"SendInvitation, reminder", func() error {
			_, err := f.acts.SendInvitation(ctx, invitedInput("s", 2))
			return err
		}, either(4, 5), nil},
		// A submit's save gives back the business number's slots: with the
		// row and its audit event, one statement on PostgreSQL.
		{"SaveSignup leaving the wizard", func() error {
			now := time.Now().UTC()
			return f.acts.SaveSignup(ctx, activities.SaveSignupInput{
				View:    signup.View{SignupID: "s", Status: signup.StatusProvisioning, CreatedAt: now, UpdatedAt: now},
				Version: 40, TokenHash: "h", Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorUser},
					Action: signup.ActionSubmitted, From: signup.StatusReady, To: signup.StatusProvisioning}})
		}, either(1, 3), nil},
		// Provisioning's 1 (SQLite 6), then SendInvitation's 4 (SQLite 5)
		// less its read of the organization and owner provisioning made.
		{"ProvisionAndInvite, first run", func() error {
			_, err := f.acts.ProvisionAndInvite(ctx, activities.ProvisionAndInviteInput{
				Provision: provisionInput("b", "both-co"), Invite: invitedInput("b", 1)})
			return err
		}, either(1+3, 6+4), func() {
			f.reserve(t, "b", "both-co")
		}},
		// Run again: provisioning finds what it made and reads it (3),
		// and the invitation uses those (3, SQLite 4).
		{"ProvisionAndInvite, run again", func() error {
			_, err := f.acts.ProvisionAndInvite(ctx, activities.ProvisionAndInviteInput{
				Provision: provisionInput("b", "both-co"), Invite: invitedInput("b", 1)})
			return err
		}, either(3+3, 3+4), nil},
	}
	for _, c := range calls {
		if c.prepare != nil {
			c.prepare()
		}
		before := n.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := n.Load() - before
		t.Logf("%s: %d statements", c.name, got)
		if got > c.max {
			t.Errorf("%s: %d statements, want ≤ %d", c.name, got, c.max)
		}
	}
}

// ProvisionOwner needs the sign-up's reservation of the name: without it
// nothing is created; run again it returns what the first run made.
func TestProvisionOwnerReservation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	for _, r := range []activities.ReserveNameInput{{SignupID: "other-name", Name: "held-co"}, {SignupID: "taken", Name: "prov-co"}} {
		if err := f.acts.ReserveName(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		signup, name, wantErr string
	}{
		{"none", "none-co", signup.CodeReservationMissing},
		{"other-name", "else-co", signup.CodeReservationMissing},
		{"other-name", "prov-co", signup.CodeOrganizationNameTaken},
		{"other-name", "held-co", ""},
	}
	for _, c := range cases {
		_, err := f.acts.ProvisionOwner(ctx, provisionInput(c.signup, c.name))
		if errType(err) != c.wantErr || (c.wantErr == "" && err != nil) {
			t.Errorf("%s provisions %s: %v, want %q", c.signup, c.name, err, c.wantErr)
		}
		want := int64(0)
		if c.wantErr == "" {
			want = 1
		}
		if got := f.count(t, &models.Organization{}, "signup_id = ?", c.signup); got != want {
			t.Errorf("%s provisions %s: %d organizations, want %d", c.signup, c.name, got, want)
		}
		if got := f.count(t, &models.User{}, "organization_id IN (SELECT id FROM organizations WHERE signup_id = ?)", c.signup); got != want {
			t.Errorf("%s provisions %s: %d owners, want %d", c.signup, c.name, got, want)
		}
	}
	n := statements(t, f.db.DB)
	first, _ := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co"))
	again, err := f.acts.ProvisionOwner(ctx, provisionInput("taken", "prov-co"))
	if err != nil || again != first || first.UserID == "" {
		t.Errorf("run again: %+v, %v; first %+v", again, err, first)
	}
	if got := n.Load(); got != 6 {
		t.Errorf("two runs after the first: %d statements, want 6 (insert nothing, read organization and owner, twice)", got)
	}
}

// SendInvitation with the next view writes it with the link's sent time in
// its last transaction; run twice, it leaves one live link, one audit row
// and the view of the last run.
func TestSendInvitationSavesView(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := "fold"
	f.reserve(t, id, "fold-co")
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput(id, "fold-co")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	in := activities.SendInvitationInput{SignupID: id, Seq: 1, Kind: signup.InvitationFirst, ExpiresAt: exp,
		Save: &activities.SaveSignupInput{
			View:    signup.View{SignupID: id, Status: signup.StatusInvited, Invite: &signup.Invite{ExpiresAt: exp}, CreatedAt: now, UpdatedAt: now},
			Version: 7, TokenHash: "h",
			Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorSystem}, Action: signup.ActionInvitationSent,
				From: signup.StatusProvisioning, To: signup.StatusInvited},
		}}
	var sent []time.Time
	for i := 0; i < 2; i++ {
		res, err := f.acts.SendInvitation(ctx, in)
		if err != nil || res.SentAt.IsZero() {
			t.Fatalf("invite #%d: %+v, %v", i, res, err)
		}
		sent = append(sent, res.SentAt)
	}
	if in.Save.View.Invite.SentAt != nil {
		t.Error("the input's view was changed")
	}
	var row models.Signup
	if err := f.db.Where("id = ?", id).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	var v signup.View
	if err := json.Unmarshal([]byte(row.View), &v); err != nil {
		t.Fatal(err)
	}
	if row.Status != string(signup.StatusInvited) || row.Version != 7 || v.Invite == nil || v.Invite.SentAt == nil ||
		!v.Invite.SentAt.Equal(sent[0]) {
		t.Errorf("read model %s v%d, invite %+v; want invited v7 sent at %v (the first run's: the second's save is not newer)", row.Status, row.Version, v.Invite, sent[0])
	}
	for _, c := range []struct {
		what  string
		model any
		where string
	}{
		{"audit rows", &models.AuditEvent{}, "signup_id = ? AND action = 'invitation_sent'"},
		{"live links", &models.InvitationToken{}, "signup_id = ? AND status = 'pending' AND sent_at IS NOT NULL"},
	} {
		if got := f.count(t, c.model, c.where, id); got != 1 {
			t.Errorf("%d %s, want 1", got, c.what)
		}
	}
}

// invitedInput is the Seq-th link of sign-up id with the invited view to
// save, as the workflow sends it.
func invitedInput(id string, seq int) activities.SendInvitationInput {
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	return activities.SendInvitationInput{SignupID: id, Seq: seq, Kind: signup.InvitationFirst, ExpiresAt: exp,
		Save: &activities.SaveSignupInput{
			View:    signup.View{SignupID: id, Status: signup.StatusInvited, Invite: &signup.Invite{ExpiresAt: exp}, CreatedAt: now, UpdatedAt: now},
			Version: int64(6 + seq), TokenHash: "h",
			Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorSystem}, Action: signup.ActionInvitationSent,
				From: signup.StatusProvisioning, To: signup.StatusInvited},
		}}
}
