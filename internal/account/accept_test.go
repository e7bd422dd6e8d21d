package account

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

// invitedOwner seeds the invited owner of accounts' organization with two
// links of one sign-up (an older and a newer pending one) and an expired
// link; it returns the three tokens and the sign-up id.
func invitedOwner(t *testing.T, db *store.DB) (older, newer, expired, signupID string) {
	t.Helper()
	var user models.User
	if err := db.Where("email = ?", "invited@example.com").Take(&user).Error; err != nil {
		t.Fatal(err)
	}
	var org models.Organization
	if err := db.Where("id = ?", user.OrganizationID).Take(&org).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tokens := make([]string, 3)
	for i, exp := range []time.Time{now.Add(time.Hour), now.Add(2 * time.Hour), now.Add(-time.Minute)} {
		token, hash := secret.NewToken()
		tokens[i] = token
		status := models.TokenPending
		if i == 2 {
			status = models.TokenRevoked
		}
		row := models.InvitationToken{ID: uuid.NewString(), SignupID: org.SignupID, UserID: user.ID, Seq: i + 1, Kind: "invitation",
			TokenHash: hash, Status: status, ExpiresAt: exp, CreatedAt: now}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	return tokens[0], tokens[1], tokens[2], org.SignupID
}

func statuses(t *testing.T, db *store.DB, signupID string) map[int]string {
	t.Helper()
	var rows []models.InvitationToken
	if err := db.Where("signup_id = ?", signupID).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, r := range rows {
		got[r.Seq] = r.Status
	}
	return got
}

// Accepting a link uses it, revokes the sign-up's other pending links and
// activates the owner, in 6 statements (4 on PostgreSQL); a used, revoked, expired link or a
// disabled owner changes nothing.
func TestAcceptInvitation(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		prepare func(t *testing.T, db *store.DB)
		// clockJumps: the link's read sees it live; the clock then passes
		// both pending links' expiry before the transaction.
		clockJumps bool
		pick       func(older, newer, expired string) string
		want       error
		statuses   map[int]string
	}{
		{"newer link", nil, false, func(_, n, _ string) string { return n }, nil,
			map[int]string{1: models.TokenRevoked, 2: models.TokenUsed, 3: models.TokenRevoked}},
		{"older link, still pending", nil, false, func(o, _, _ string) string { return o }, nil,
			map[int]string{1: models.TokenUsed, 2: models.TokenRevoked, 3: models.TokenRevoked}},
		{"past its expiry", func(t *testing.T, db *store.DB) {
			if err := db.Model(&models.InvitationToken{}).Where("seq = 2").Update("expires_at", time.Now().UTC().Add(-time.Second)).Error; err != nil {
				t.Fatal(err)
			}
		}, false, func(_, n, _ string) string { return n }, ErrInvitationExpired,
			map[int]string{1: models.TokenPending, 2: models.TokenPending, 3: models.TokenRevoked}},
		{"expires between the read and the update", nil, true, func(_, n, _ string) string { return n }, ErrInvitationExpired,
			map[int]string{1: models.TokenPending, 2: models.TokenPending, 3: models.TokenRevoked}},
		{"revoked link", nil, false, func(_, _, e string) string { return e }, ErrInvalidToken,
			map[int]string{1: models.TokenPending, 2: models.TokenPending, 3: models.TokenRevoked}},
		{"disabled owner", func(t *testing.T, db *store.DB) {
			if err := db.Model(&models.User{}).Where("email = ?", "invited@example.com").Update("status", models.UserDisabled).Error; err != nil {
				t.Fatal(err)
			}
		}, false, func(_, n, _ string) string { return n }, ErrInvalidToken,
			map[int]string{1: models.TokenPending, 2: models.TokenPending, 3: models.TokenRevoked}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, db := accounts(t)
			older, newer, expired, signupID := invitedOwner(t, db)
			if c.prepare != nil {
				c.prepare(t, db)
			}
			if c.clockJumps {
				var calls atomic.Int32
				svc.now = func() time.Time {
					if calls.Add(1) == 1 {
						return time.Now().UTC()
					}
					return time.Now().UTC().Add(3 * time.Hour)
				}
			}
			n := countStatements(t, db.DB)
			res, err := svc.AcceptInvitation(ctx, c.pick(older, newer, expired), rightPassword)
			ran := n.Load()
			if !errors.Is(err, c.want) {
				t.Fatalf("accept: %v, want %v", err, c.want)
			}
			if got := statuses(t, db, signupID); len(got) != 3 || got[1] != c.statuses[1] || got[2] != c.statuses[2] || got[3] != c.statuses[3] {
				t.Errorf("links %v, want %v", got, c.statuses)
			}
			var user models.User
			if err := db.Where("email = ?", "invited@example.com").Take(&user).Error; err != nil {
				t.Fatal(err)
			}
			if c.want != nil {
				if user.Status == models.UserActive || res.Owed.ID != "" {
					t.Errorf("owner %s, outbox %+v after a refused link", user.Status, res.Owed)
				}
				return
			}
			if user.Status != models.UserActive || user.PasswordHash == nil || res.Owed.ID == "" {
				t.Errorf("owner %s, password set %v, outbox %+v", user.Status, user.PasswordHash != nil, res.Owed)
			}
			checkPasswordSet(t, db, user, signupID, "invitation_accepted", models.UserInvited, res.Owed, "invitation")
			// The read of the link, the link update, the user, and the
			// password history, the audit row and the owed signal (the
			// user and the three rows one statement on PostgreSQL).
			want := int64(6)
			if db.Dialect == store.Postgres {
				want = 3
			}
			t.Logf("accept: %d statements", ran)
			if ran != want {
				t.Errorf("%d statements, want %d", ran, want)
			}
			if _, err := svc.AcceptInvitation(ctx, c.pick(older, newer, expired), rightPassword); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("second accept: %v, want %v", err, ErrInvalidToken)
			}
		})
	}
}

// countStatements counts the statements GORM runs on db from now on, as
// onboarding_db_statements_total does.
func countStatements(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	if err := metrics.OnStatement(db, "test", func(*gorm.DB) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return &n
}

// Signing in reads the user, their organization and roles in one query and
// inserts the session: 2 statements, roles sorted, [] when there are none.
// Me still reads session, user, organization and roles.
func TestSignInStatements(t *testing.T) {
	ctx := context.Background()
	svc, db := accounts(t)
	var user models.User
	if err := db.Where("email = ?", "active@example.com").Take(&user).Error; err != nil {
		t.Fatal(err)
	}
	n := countStatements(t, db.DB)
	for _, c := range []struct {
		name  string
		roles []string
	}{
		{"no roles", []string{}},
		{"owner roles", []string{models.RoleBillingAdmin, models.RoleOrganizationAdmin}},
	} {
		if len(c.roles) > 0 {
			for _, role := range []string{models.RoleOrganizationAdmin, models.RoleBillingAdmin} {
				if err := db.Create(&models.RoleAssignment{ID: uuid.NewString(), OrganizationID: user.OrganizationID, UserID: user.ID,
					RoleID: role, CreatedAt: time.Now().UTC()}).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		before := n.Load()
		con, err := svc.SignIn(ctx, "acme-cloud", "active@example.com", rightPassword)
		ran := n.Load() - before
		t.Logf("sign-in, %s: %d statements", c.name, ran)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if con.Roles == nil || !slices.Equal(con.Roles, c.roles) || con.Organization.OrganizationName != "acme-cloud" ||
			con.User.Email != "active@example.com" || !con.User.IsOwner || con.SessionToken == "" {
			t.Errorf("%s: console %+v, want roles %v", c.name, con, c.roles)
		}
		if ran != 2 {
			t.Errorf("%s: sign-in ran %d statements, want 2", c.name, ran)
		}
		before = n.Load()
		me, err := svc.Me(ctx, con.SessionToken)
		t.Logf("me, %s: %d statements", c.name, n.Load()-before)
		if err != nil || !slices.Equal(me.Roles, c.roles) || me.Organization.OrganizationName != "acme-cloud" {
			t.Errorf("%s: me %+v, %v", c.name, me, err)
		}
		if got := n.Load() - before; got > 4 {
			t.Errorf("%s: me ran %d statements, want ≤ 4", c.name, got)
		}
	}
}

// checkPasswordSet checks what a set password writes beside the user: one
// history row with the user's hash, the audit event of the change and the
// owed signal.
func checkPasswordSet(t *testing.T, db *store.DB, user models.User, signupID, action, from string, held models.SignalOutbox, via string) {
	t.Helper()
	var history []models.PasswordHistory
	if err := db.Where("user_id = ?", user.ID).Find(&history).Error; err != nil {
		t.Fatal(err)
	}
	if len(history) != 1 || user.PasswordHash == nil || history[0].PasswordHash != *user.PasswordHash {
		t.Errorf("password history %+v, want the one hash set", history)
	}
	var events []models.AuditEvent
	if err := db.Where("user_id = ? AND action = ?", user.ID, action).Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].SignupID == nil || *events[0].SignupID != signupID || events[0].FromStatus == nil ||
		*events[0].FromStatus != from || events[0].ToStatus == nil || *events[0].ToStatus != models.UserActive {
		t.Errorf("audit events %+v, want one %s of sign-up %s from %s to active", events, action, signupID, from)
	}
	var owed models.SignalOutbox
	if err := db.Where("id = ?", held.ID).Take(&owed).Error; err != nil {
		t.Fatalf("owed signal %q: %v", held.ID, err)
	}
	if owed.SignupID != signupID || owed.UserID != user.ID || owed.Via != via {
		t.Errorf("owed signal %+v, want sign-up %s, user %s, via %s", owed, signupID, user.ID, via)
	}
	// Held by its writer, who sends it without claiming it: the caller's
	// token, and due to a relay only when the writer's lease has run out.
	if owed.ClaimToken == nil || held.ClaimToken == nil || *owed.ClaimToken != *held.ClaimToken ||
		!owed.NextAttemptAt.Equal(owed.CreatedAt.Add(models.SignalLease)) {
		t.Errorf("owed signal claimed by %v until %s (written %s), want the caller's token %v until a lease after it was written",
			owed.ClaimToken, owed.NextAttemptAt, owed.CreatedAt, held.ClaimToken)
	}
}

// A reset link sets a new password of a locked account: the account is
// active again with the rows a set password writes, and the link is used.
func TestConfirmReset(t *testing.T) {
	ctx := context.Background()
	svc, db := accounts(t)
	var user models.User
	if err := db.Where("email = ?", "locked@example.com").Take(&user).Error; err != nil {
		t.Fatal(err)
	}
	var org models.Organization
	if err := db.Where("id = ?", user.OrganizationID).Take(&org).Error; err != nil {
		t.Fatal(err)
	}
	token, hash := secret.NewToken()
	if err := db.Create(&models.PasswordResetToken{ID: uuid.NewString(), UserID: user.ID, TokenHash: hash,
		ExpiresAt: time.Now().UTC().Add(time.Hour), CreatedAt: time.Now().UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	n := countStatements(t, db.DB)
	res, err := svc.ConfirmReset(ctx, token, "Fresh!Pass42")
	ran := n.Load()
	t.Logf("confirm reset: %d statements", ran)
	if err != nil || res.Owed.ID == "" || res.SignupID != org.SignupID || res.Status != models.UserActive {
		t.Fatalf("confirm: %+v, %v", res, err)
	}
	// The link and user, the password history's read; in the transaction
	// the link, the user's other links, sessions, invitations, the
	// organization, the user, and history, audit and signal (the user and
	// the three rows one statement on PostgreSQL).
	want := int64(12)
	if db.Dialect == store.Postgres {
		want = 9
	}
	if ran != want {
		t.Errorf("confirm reset: %d statements, want %d", ran, want)
	}
	if err := db.Where("id = ?", user.ID).Take(&user).Error; err != nil {
		t.Fatal(err)
	}
	if user.Status != models.UserActive {
		t.Errorf("owner %s after the reset, want active", user.Status)
	}
	checkPasswordSet(t, db, user, org.SignupID, "password_reset", models.UserResetRequired, res.Owed, "reset")
	if _, err := svc.ConfirmReset(ctx, token, "Other!Pass42"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("second confirm: %v, want %v", err, ErrInvalidToken)
	}
}
