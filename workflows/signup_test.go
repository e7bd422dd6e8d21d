package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/certstore/certstoretest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

var settings = workflows.Settings{
	InviteTTL:            168 * time.Hour,
	InviteReminderBefore: 24 * time.Hour,
	IdleTimeout:          72 * time.Hour,
	StepRetryBudget:      10 * time.Minute,
	VerifyTimeout:        5 * time.Second,
}

// harness runs one sign-up workflow in the SDK's test environment (time
// skipping) with the real activities over a real database and SMTP server.
type harness struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	db      *store.DB
	mail    *mailbox.Store
	smtp    *mailbox.Server
	certs   *certstore.Store
	id      string
	results map[string]result
	at      time.Duration
	// startTerms, when set, come with the start (as the API does) instead
	// of the accept_terms Update.
	startTerms []string
	// apiCreated: the API's first row (signup.Store.Create, with step 1's
	// audit event) is written before the start, which says TermsRecorded.
	apiCreated bool
}

type result struct {
	value any
	err   error
}

type sharedDeps struct {
	db    *store.DB
	mail  *mailbox.Store
	smtp  *mailbox.Server
	certs *certstore.Store
}

func newDeps(t *testing.T) sharedDeps {
	db := storetest.Open(t)
	box, _ := mailbox.Open("")
	srv, err := mailbox.Listen("127.0.0.1:0", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	url, _ := certstoretest.FileURL(t)
	kr, _ := codec.ParseKeyring(codec.NewKeySpec("t1"))
	certs, err := certstore.Open(context.Background(), url, kr, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = certs.Close() })
	return sharedDeps{db: db, mail: box, smtp: srv, certs: certs}
}

func newHarness(t *testing.T, d sharedDeps, id string, s workflows.Settings) *harness {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(60 * time.Second)
	host, port := splitAddr(t, d.smtp.Addr())
	acts := activities.New(activities.Deps{
		DB:            d.db,
		Mailer:        mailer.NewSMTP(mailer.Config{Host: host, Port: port, TLS: "none", From: "test@onboarding.local"}),
		PublicBaseURL: "http://console.test",
		ResetTokenTTL: time.Hour,
		Now:           env.Now,
		Log:           slog.New(slog.DiscardHandler),
		Certificates:  d.certs,
	})
	env.RegisterWorkflow(workflows.Signup)
	env.RegisterActivity(acts)
	return &harness{t: t, env: env, db: d.db, mail: d.mail, smtp: d.smtp, certs: d.certs, id: id, results: map[string]result{}}
}

func splitAddr(t *testing.T, addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		t.Fatal(err)
	}
	return addr[:i], port
}

// step schedules an Update after the previous one, recording its outcome
// under key.
func (h *harness) step(key, name string, after time.Duration, args ...any) {
	h.at += after
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, key, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.results[key] = result{err: err} },
			OnComplete: func(v any, err error) {
				h.results[key] = result{value: v, err: err}
			},
		}, args...)
	}, h.at)
}

// at schedules fn at the given offset after the previous step.
func (h *harness) do(after time.Duration, fn func()) {
	h.at += after
	h.env.RegisterDelayedCallback(fn, h.at)
}

// input is the start's input, after the API's first row when apiCreated.
func (h *harness) input(s workflows.Settings) workflows.Input {
	in := workflows.Input{SignupID: h.id, TokenHash: "hash-" + h.id, Settings: s, AcceptedTerms: h.startTerms}
	if h.apiCreated {
		now := h.env.Now().UTC()
		v := signup.View{SignupID: h.id, Status: signup.StatusUserInfo, AcceptedTerms: h.startTerms, CreatedAt: now, UpdatedAt: now}
		if err := signup.NewStore(h.db.DB).Create(context.Background(), v, in.TokenHash); err != nil {
			h.t.Fatal(err)
		}
		in.CreatedAt, in.TermsRecorded = now, true
	}
	return in
}

func (h *harness) run() signup.View {
	h.env.ExecuteWorkflow(workflows.Signup, h.input(settings))
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	var v signup.View
	if err := h.env.GetWorkflowResult(&v); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	return v
}

func (h *harness) runWith(s workflows.Settings) signup.View {
	h.env.ExecuteWorkflow(workflows.Signup, h.input(s))
	var v signup.View
	if err := h.env.GetWorkflowResult(&v); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	return v
}

func (h *harness) wantOK(key string) {
	h.t.Helper()
	r, ok := h.results[key]
	if !ok {
		h.t.Fatalf("%s: no result", key)
	}
	if r.err != nil {
		h.t.Fatalf("%s: %v", key, r.err)
	}
}

func (h *harness) wantCode(key, code string) {
	h.t.Helper()
	r, ok := h.results[key]
	if !ok {
		h.t.Fatalf("%s: no result", key)
	}
	var app *temporal.ApplicationError
	if !errors.As(r.err, &app) || app.Type() != code {
		h.t.Fatalf("%s: error %v, want %s", key, r.err, code)
	}
}

// certificate stores an upload as the API does.
func (h *harness) certificate(id string) string {
	h.t.Helper()
	c, err := h.certs.Upload(context.Background(), id, "cert.pdf", "application/pdf", strings.NewReader("%PDF-1.4"), 1<<20)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.ID
}

var (
	userInfo = signup.UserInfoInput{
		BusinessNumber: "220-81-62517", BillingEmail: "billing@example.com", CompanyName: "Acme Korea",
		RepresentativeName: "Kim Min-su", RepresentativePhone: "02-123-4567", Address: "Pangyo-ro 235, Seongnam",
		BusinessType: "Service", BusinessCategory: "Software",
	}
)

func orgInput(name string) signup.OrganizationInput {
	return signup.OrganizationInput{OrganizationName: name, ContactName: "Lee Ji-eun",
		ContactEmail: "owner+" + name + "@example.com", MobilePhone: "010-1234-5678"}
}

// wizard schedules a complete, valid wizard.
func (h *harness) wizard(name string) {
	if h.startTerms == nil {
		h.step("terms", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy"}})
	} else {
		h.results["terms"] = result{}
	}
	h.throughOrganization(name)
	h.step("submit", workflows.UpdateSubmit, time.Minute)
}

// throughOrganization schedules the wizard's steps after the terms, up to
// the organization named name: certificate, Verify, user information,
// organization. It returns the certificate's id.
func (h *harness) throughOrganization(name string) string {
	cert := h.certificate(h.id)
	h.step("cert", workflows.UpdateAttachCertificate, time.Minute, signup.CertificateInput{CertificateID: cert})
	h.step("verify", workflows.UpdateVerify, time.Minute, signup.VerifyInput{BusinessNumber: "2208162517"})
	h.step("userinfo", workflows.UpdateUserInfo, time.Minute, userInfo)
	h.step("org", workflows.UpdateOrganization, time.Minute, orgInput(name))
	return cert
}

// setPassword does what the API does when an invitation is accepted.
func (h *harness) setPassword() {
	var org models.Organization
	if err := h.db.Where("signup_id = ?", h.id).Take(&org).Error; err != nil {
		h.t.Errorf("set password: %v", err)
		return
	}
	h.db.Model(&models.User{}).Where("organization_id = ?", org.ID).Update("status", models.UserActive)
	h.env.SignalWorkflow(workflows.SignalPasswordSet, workflows.PasswordSet{Via: "invitation"})
}

func (h *harness) count(model any, where string, args ...any) int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) invitesTo(email string) []mailbox.Message {
	var out []mailbox.Message
	for _, m := range h.mail.List() {
		if len(m.To) > 0 && m.To[0] == email {
			out = append(out, m)
		}
	}
	return out
}

func TestSignupJourney(t *testing.T) {
	tests := []struct {
		name        string
		passwordAt  time.Duration // after submit; 0: never
		wantStatus  signup.Status
		wantUser    string
		wantInvites int // invitation + reminder mails
	}{
		{"password set after an hour", time.Hour, signup.StatusActive, models.UserActive, 1},
		{"password set just before expiry, after the reminder", 167 * time.Hour, signup.StatusActive, models.UserActive, 2},
		{"never set: expires to reset_required", 0, signup.StatusResetRequired, models.UserResetRequired, 2},
	}
	d := newDeps(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("journey-%d", i)
			h := newHarness(t, d, fmt.Sprintf("journey%d", i), settings)
			if i%2 == 0 {
				// As the API starts sign-ups now; the others take the
				// accept_terms Update of sign-ups started before.
				h.startTerms = []string{"privacy", "service"}
			}
			h.wizard(name)
			if tt.passwordAt > 0 {
				h.do(tt.passwordAt, h.setPassword)
			}
			if tt.wantStatus == signup.StatusResetRequired {
				// The workflow waits in reset_required for a reset; a reset
				// after 30 days ends it.
				h.do(720*time.Hour, func() {
					var v signup.AdminView
					enc, err := h.env.QueryWorkflow(workflows.QueryAdminView)
					if err == nil {
						err = enc.Get(&v)
					}
					if err != nil || v.Status != signup.StatusResetRequired {
						t.Errorf("after expiry: %v, %v; want reset_required", v.Status, err)
					}
					var u models.User
					h.db.Where("email = ?", "owner+"+name+"@example.com").Take(&u)
					if u.Status != tt.wantUser {
						t.Errorf("user status %q after expiry, want %q", u.Status, tt.wantUser)
					}
					h.setPassword()
				})
			}
			v := h.run()
			for _, k := range []string{"terms", "cert", "verify", "userinfo", "org", "submit"} {
				h.wantOK(k)
			}
			if got := h.results["submit"].value.(signup.View).Status; got != signup.StatusProvisioning {
				t.Errorf("submit answered status %q", got)
			}
			if v.Status != signup.StatusActive {
				t.Errorf("final status %q", v.Status)
			}
			if v.Invite == nil || v.Invite.SentAt == nil {
				t.Fatalf("invite not recorded: %+v", v.Invite)
			}
			if n := h.count(&models.Organization{}, "signup_id = ?", h.id); n != 1 {
				t.Errorf("%d organizations", n)
			}
			var org models.Organization
			h.db.Where("signup_id = ?", h.id).Take(&org)
			var owner models.User
			h.db.Where("organization_id = ?", org.ID).Take(&owner)
			if !owner.IsOwner || owner.Email != "owner+"+name+"@example.com" || owner.Phone != "+821012345678" {
				t.Errorf("owner %+v", owner)
			}
			var roles []string
			h.db.Model(&models.RoleAssignment{}).Where("user_id = ?", owner.ID).Order("role_id").Pluck("role_id", &roles)
			if strings.Join(roles, ",") != "billing_admin,organization_admin" {
				t.Errorf("roles %v", roles)
			}
			if n := h.count(&models.BusinessProfile{}, "signup_id = ? AND certificate_id IS NOT NULL", h.id); n != 1 {
				t.Errorf("%d business profiles with certificate", n)
			}
			mails := h.invitesTo(owner.Email)
			if len(mails) != tt.wantInvites {
				t.Errorf("%d invitation mails, want %d", len(mails), tt.wantInvites)
			}
			for _, m := range mails {
				if !strings.Contains(m.Text, "http://console.test/invitations/") || !strings.Contains(m.Subject, name) ||
					!strings.Contains(m.Text, "KST") || !strings.Contains(m.Text, "UTC") {
					t.Errorf("invitation mail lacks link, name or expiry: %q / %q", m.Subject, m.Text)
				}
			}
			if n := h.count(&models.InvitationToken{}, "signup_id = ? AND status = ?", h.id, models.TokenPending); tt.wantStatus != signup.StatusResetRequired && n != 1 {
				t.Errorf("%d live invitation tokens, want 1", n)
			}
			var row models.Signup
			h.db.Where("id = ?", h.id).Take(&row)
			if row.Status != string(signup.StatusActive) || row.TokenHash != "hash-"+h.id {
				t.Errorf("read model %q / %q", row.Status, row.TokenHash)
			}
		})
	}
}

func TestStepsOutOfOrder(t *testing.T) {
	d := newDeps(t)
	h := newHarness(t, d, "order", settings)
	h.step("terms-missing", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service"}})
	h.step("terms-unknown", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy", "lottery"}})
	h.step("terms", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy", "marketing"}})
	h.step("org-early", workflows.UpdateOrganization, time.Second, orgInput("order-co"))
	h.step("submit-early", workflows.UpdateSubmit, time.Second)
	h.step("verify-bad", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "123-45-67890"})
	h.step("verify-zero", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "000-00-00000"})
	h.step("userinfo-unverified", workflows.UpdateUserInfo, time.Second, userInfo)
	h.step("verify", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "220-81-62517"})
	h.step("userinfo-nocert", workflows.UpdateUserInfo, time.Second, userInfo)
	cert := h.certificate("order")
	h.step("cert-missing", workflows.UpdateAttachCertificate, time.Second, signup.CertificateInput{CertificateID: "nope"})
	h.step("cert", workflows.UpdateAttachCertificate, time.Second, signup.CertificateInput{CertificateID: cert})
	other := userInfo
	other.BusinessNumber = "120-81-47521"
	h.step("userinfo-othernumber", workflows.UpdateUserInfo, time.Second, other)
	bad := userInfo
	bad.BillingEmail, bad.CompanyName = "not-an-email", ""
	h.step("userinfo-invalid", workflows.UpdateUserInfo, time.Second, bad)
	h.step("userinfo", workflows.UpdateUserInfo, time.Second, userInfo)
	badOrg := orgInput("Order--Co")
	badOrg.MobilePhone = "02-123-4567"
	h.step("org-invalid", workflows.UpdateOrganization, time.Second, badOrg)
	h.step("org", workflows.UpdateOrganization, time.Second, orgInput("order-co"))
	h.step("org-again", workflows.UpdateOrganization, time.Second, orgInput("order-co-2"))
	h.step("userinfo-again", workflows.UpdateUserInfo, time.Second, userInfo)
	h.step("retry-early", workflows.UpdateRetry, time.Second, signup.OperatorInput{Operator: "ops"})
	h.step("resend-early", workflows.UpdateResendInvite, time.Second, signup.OperatorInput{Operator: "ops"})
	h.step("submit", workflows.UpdateSubmit, time.Second)
	h.step("submit-twice", workflows.UpdateSubmit, time.Second)
	h.step("org-late", workflows.UpdateOrganization, time.Second, orgInput("order-co-3"))
	h.do(time.Hour, h.setPassword)
	v := h.run()

	tests := []struct{ key, code string }{
		{"terms-missing", signup.CodeRequiredTermsMissing},
		{"terms-unknown", signup.CodeUnknownTerm},
		{"org-early", signup.CodeStepOutOfOrder},
		{"submit-early", signup.CodeStepOutOfOrder},
		{"verify-bad", signup.CodeInvalidBusinessNumber},
		{"verify-zero", signup.CodeInvalidBusinessNumber},
		{"userinfo-unverified", signup.CodeBusinessNumberNotVerif},
		{"userinfo-nocert", signup.CodeCertificateRequired},
		{"cert-missing", signup.CodeCertificateMissing},
		{"userinfo-othernumber", signup.CodeBusinessNumberNotVerif},
		{"userinfo-invalid", signup.CodeValidationFailed},
		{"org-invalid", signup.CodeValidationFailed},
		{"retry-early", signup.CodeNotNeedsAttention},
		{"resend-early", signup.CodeNotInvited},
		{"submit-twice", signup.CodeStepOutOfOrder},
		{"org-late", signup.CodeStepOutOfOrder},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) { h.wantCode(tt.key, tt.code) })
	}
	for _, k := range []string{"terms", "verify", "cert", "userinfo", "org", "org-again", "userinfo-again", "submit"} {
		h.wantOK(k)
	}
	var app *temporal.ApplicationError
	if errors.As(h.results["userinfo-invalid"].err, &app) {
		var fields signup.Fields
		if err := app.Details(&fields); err != nil || fields["billing_email"] == "" || fields["company_name"] == "" {
			t.Errorf("validation fields %v, %v", fields, err)
		}
	}
	if got := h.results["userinfo"].value.(signup.View).Status; got != signup.StatusOrganizationInfo {
		t.Errorf("after user info: %q", got)
	}
	if got := h.results["userinfo-again"].value.(signup.View).Status; got != signup.StatusReady {
		t.Errorf("user info repeated after the organization step: %q, want ready", got)
	}
	if v.Organization.OrganizationName != "order-co-2" || v.Status != signup.StatusActive {
		t.Errorf("final view %+v", v)
	}
	if v.AcceptedTerms[len(v.AcceptedTerms)-1] != "marketing" {
		t.Errorf("terms %v", v.AcceptedTerms)
	}
	// The second organization name moved the reservation.
	if n := h.count(&models.NameReservation{}, "signup_id = ?", "order"); n != 1 {
		t.Errorf("%d reservations", n)
	}
	if n := h.count(&models.NameReservation{}, "name_key = ?", "order-co"); n != 0 {
		t.Errorf("old name still reserved")
	}
	// Replaced certificates are deleted; exactly the attached one stays.
	if n := h.count(&models.Certificate{}, "signup_id = ?", "order"); n != 1 {
		t.Errorf("%d certificates kept", n)
	}
}

func TestIdleSignupIsAbandoned(t *testing.T) {
	d := newDeps(t)
	h := newHarness(t, d, "idle", settings)
	h.step("terms", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy"}})
	cert := h.certificate("idle")
	h.step("cert", workflows.UpdateAttachCertificate, time.Second, signup.CertificateInput{CertificateID: cert})
	h.step("verify", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "220-81-62517"})
	h.step("userinfo", workflows.UpdateUserInfo, time.Second, userInfo)
	h.step("org", workflows.UpdateOrganization, 71*time.Hour, orgInput("idle-co"))
	h.do(71*time.Hour, func() {
		// Still inside the idle window after the last step: name held.
		if n := h.count(&models.NameReservation{}, "name_key = ?", "idle-co"); n != 1 {
			t.Errorf("name released before the idle timeout")
		}
	})
	v := h.run()
	h.wantOK("org")
	if v.Status != signup.StatusAbandoned {
		t.Fatalf("status %q, want abandoned", v.Status)
	}
	if n := h.count(&models.NameReservation{}, "signup_id = ?", "idle"); n != 0 {
		t.Errorf("reservation kept after abandonment")
	}
	if n := h.count(&models.Certificate{}, "signup_id = ?", "idle"); n != 0 {
		t.Errorf("certificate kept after abandonment")
	}
	if n := h.count(&models.AuditEvent{}, "signup_id = ? AND to_status = ? AND actor = ?", "idle", "abandoned", "system"); n != 1 {
		t.Errorf("%d audit events for the abandonment", n)
	}
	// The name is free at once for another sign-up.
	ok, err := signup.CheckName(context.Background(), h.db.DB, "idle-co")
	if err != nil || !ok.Available {
		t.Errorf("name not available after abandonment: %+v, %v", ok, err)
	}
}

func TestOperatorCancel(t *testing.T) {
	tests := []struct {
		name      string
		cancelAt  time.Duration // after the organization step (submit comes 1 minute after it)
		wantOrg   int64         // organizations left enabled
		wantNotes string
	}{
		{"before submit", 30 * time.Second, 0, "reservation freed"},
		{"after invitation", 2 * time.Hour, 0, "organization disabled"},
	}
	d := newDeps(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("cancel%d", i)
			name := fmt.Sprintf("cancel-co-%d", i)
			h := newHarness(t, d, id, settings)
			h.wizard(name)
			h.at -= time.Minute // cancel relative to the organization step
			h.step("cancel", workflows.UpdateCancel, tt.cancelAt, signup.OperatorInput{Operator: "ops@example.com", Reason: "test"})
			v := h.run()
			h.wantOK("cancel")
			if v.Status != signup.StatusCancelled {
				t.Fatalf("status %q", v.Status)
			}
			if n := h.count(&models.NameReservation{}, "signup_id = ?", id); n != 0 {
				t.Errorf("reservation kept")
			}
			if n := h.count(&models.Organization{}, "signup_id = ? AND status = ?", id, models.OrganizationActive); n != tt.wantOrg {
				t.Errorf("%d active organizations", n)
			}
			if n := h.count(&models.InvitationToken{}, "signup_id = ? AND status = ?", id, models.TokenPending); n != 0 {
				t.Errorf("%d live invitation links after cancel", n)
			}
			if n := h.count(&models.AuditEvent{}, "signup_id = ? AND actor = ? AND to_status = ?", id, "operator", "cancelled"); n != 1 {
				t.Errorf("%d operator audit events", n)
			}
			ok, _ := signup.CheckName(context.Background(), h.db.DB, name)
			if !ok.Available {
				t.Errorf("name %s not free after cancel: %+v", name, ok)
			}
		})
	}
}

func TestMailRefusedNeedsAttentionThenRetry(t *testing.T) {
	d := newDeps(t)
	h := newHarness(t, d, "smtpdown", settings)
	s := settings
	s.StepRetryBudget = 30 * time.Second
	d.smtp.Refuse(550, "mailbox unavailable")
	h.wizard("smtp-down")
	var attention signup.AdminView
	h.do(10*time.Minute, func() {
		enc, err := h.env.QueryWorkflow(workflows.QueryAdminView)
		if err == nil {
			err = enc.Get(&attention)
		}
		if err != nil {
			t.Error(err)
		}
		d.smtp.Accept()
	})
	h.step("retry", workflows.UpdateRetry, time.Minute, signup.OperatorInput{Operator: "ops"})
	h.do(time.Hour, h.setPassword)
	v := h.runWith(s)
	if attention.Status != signup.StatusNeedsAttention || attention.LastError == nil ||
		!strings.Contains(*attention.LastError, "mail_rejected") || *attention.FailedStep != "send_invitation" {
		t.Fatalf("while refused: %+v", attention)
	}
	h.wantOK("retry")
	if got := h.results["retry"].value.(signup.View).Status; got != signup.StatusInvited {
		t.Errorf("retry answered %q, want invited", got)
	}
	if v.Status != signup.StatusActive {
		t.Errorf("final %q", v.Status)
	}
	var row models.Signup
	h.db.Where("id = ?", "smtpdown").Take(&row)
	if row.LastError != nil {
		t.Errorf("last_error kept after recovery: %q", *row.LastError)
	}
}

func TestResendInvitation(t *testing.T) {
	d := newDeps(t)
	h := newHarness(t, d, "resend", settings)
	h.wizard("resend-co")
	h.step("resend", workflows.UpdateResendInvite, 100*time.Hour, signup.OperatorInput{Operator: "ops"})
	// The window restarted at 100h: 168h after that it is still open at
	// 200h, when the old window would have closed.
	h.do(150*time.Hour, func() {
		var u models.User
		h.db.Where("email = ?", "owner+resend-co@example.com").Take(&u)
		if u.Status != models.UserInvited {
			t.Errorf("user %q 250h after submit; the resend should have restarted the window", u.Status)
		}
		h.setPassword()
	})
	v := h.run()
	h.wantOK("resend")
	rv := h.results["resend"].value.(signup.View)
	if rv.Invite == nil || rv.Invite.ExpiresAt.Sub(*rv.Invite.SentAt) > 168*time.Hour+time.Minute {
		t.Errorf("resend view %+v", rv.Invite)
	}
	if v.Status != signup.StatusActive {
		t.Errorf("final %q", v.Status)
	}
	// Invitation, resend, and the reminder of the new window.
	if n := len(h.invitesTo("owner+resend-co@example.com")); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}
	if n := h.count(&models.InvitationToken{}, "signup_id = ? AND status = ?", "resend", models.TokenPending); n != 1 {
		t.Errorf("%d live links, want 1", n)
	}
}

func TestNameTakenByAnotherSignup(t *testing.T) {
	d := newDeps(t)
	first := newHarness(t, d, "first", settings)
	first.wizard("same-name")
	first.do(time.Hour, first.setPassword)
	first.run()
	second := newHarness(t, d, "second", settings)
	second.step("terms", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy"}})
	cert := second.certificate("second")
	second.step("cert", workflows.UpdateAttachCertificate, time.Second, signup.CertificateInput{CertificateID: cert})
	second.step("verify", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "220-81-62517"})
	second.step("userinfo", workflows.UpdateUserInfo, time.Second, userInfo)
	second.step("org", workflows.UpdateOrganization, time.Second, orgInput("Same-Name"))
	second.step("cancel", workflows.UpdateCancel, time.Second, signup.OperatorInput{Operator: "ops"})
	second.run()
	second.wantCode("org", signup.CodeOrganizationNameTaken)
}

// A sign-up that steps now and then, never idle, still ends SIGNUP_MAX_AGE
// after its start: it cannot hold its name reservation forever.
func TestSignupMaxAge(t *testing.T) {
	d := newDeps(t)
	s := settings
	s.MaxAge = 168 * time.Hour
	h := newHarness(t, d, "old", s)
	h.step("terms", workflows.UpdateAcceptTerms, time.Second, signup.AcceptTermsInput{AcceptedTerms: []string{"service", "privacy"}})
	cert := h.certificate("old")
	h.step("cert", workflows.UpdateAttachCertificate, time.Second, signup.CertificateInput{CertificateID: cert})
	h.step("verify", workflows.UpdateVerify, time.Second, signup.VerifyInput{BusinessNumber: "220-81-62517"})
	h.step("userinfo", workflows.UpdateUserInfo, time.Second, userInfo)
	h.step("org", workflows.UpdateOrganization, time.Second, orgInput("old-co"))
	// A step every 48 hours: never idle for the 72-hour window.
	for i := 1; i <= 3; i++ {
		h.step(fmt.Sprintf("again%d", i), workflows.UpdateVerify, 48*time.Hour, signup.VerifyInput{BusinessNumber: "220-81-62517"})
	}
	h.do(23*time.Hour, func() {
		// 167 hours in: still open, the name still held.
		if n := h.count(&models.NameReservation{}, "name_key = ?", "old-co"); n != 1 {
			t.Errorf("name released before SIGNUP_MAX_AGE")
		}
	})
	v := h.runWith(s)
	for i := 1; i <= 3; i++ {
		h.wantOK(fmt.Sprintf("again%d", i))
	}
	if v.Status != signup.StatusAbandoned {
		t.Fatalf("status %q, want abandoned", v.Status)
	}
	if age := v.UpdatedAt.Sub(v.CreatedAt); age < s.MaxAge || age > s.MaxAge+time.Minute {
		t.Errorf("abandoned %s after its start, want %s", age, s.MaxAge)
	}
	if n := h.count(&models.NameReservation{}, "signup_id = ?", "old"); n != 0 {
		t.Errorf("reservation kept after SIGNUP_MAX_AGE")
	}
	if n := h.count(&models.AuditEvent{}, "signup_id = ? AND to_status = ? AND detail = ?", "old", "abandoned", "max_age"); n != 1 {
		t.Errorf("%d audit events for the abandonment at SIGNUP_MAX_AGE", n)
	}
}
