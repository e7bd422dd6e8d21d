package e2e

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/models"
)

const goodPassword = "Kakao!Cloud7"

func TestFullSignupThroughHTTP(t *testing.T) {
	s := newStack(t)
	j := s.start(t)
	j.wizard(t, "acme-cloud")
	v := j.waitStatus(t, "invited", 10*time.Second)
	if v.get("invite", "expires_at") == nil || v.get("invite", "sent_at") == nil {
		t.Fatalf("invite missing: %s", v.raw)
	}
	// Past the wizard the certificate is refused, and the upload is not
	// kept (the count of certificates below), though this process knows
	// the token and reads no row first.
	expect(t, "certificate after submit", s.upload(j.id, j.token, "late.pdf", pdf), http.StatusConflict, "step_out_of_order")
	token := s.link(t, j.email, "invitations", 5*time.Second)
	for _, m := range s.box.List() {
		if !strings.Contains(m.Text, s.cfg.PublicBaseURL+"/invitations/"+token) || !strings.Contains(m.HTML, "acme-cloud") ||
			!strings.Contains(m.Subject, "acme-cloud") || !strings.Contains(m.Text, "KST") {
			t.Errorf("invitation mail: %q\n%s", m.Subject, m.Text)
		}
	}
	r := s.call(http.MethodGet, "/api/v1/invitations/"+token, "", nil)
	expect(t, "invitation", r, http.StatusOK, "")
	if r.str("organization_name") != "acme-cloud" || r.str("email") != j.email {
		t.Fatalf("invitation: %s", r.raw)
	}
	r = s.call(http.MethodPost, "/api/v1/invitations/"+token+"/accept", "", map[string]string{"password": "abc"})
	expect(t, "weak password", r, http.StatusUnprocessableEntity, "weak_password")
	for _, rule := range []string{"9 to 30", "upper-case", "digit", "symbol", "sequential"} {
		if !strings.Contains(r.str("error", "fields", "password"), rule) {
			t.Errorf("weak_password does not list %q: %s", rule, r.raw)
		}
	}
	r = s.call(http.MethodPost, "/api/v1/invitations/"+token+"/accept", "", map[string]string{"password": goodPassword})
	expect(t, "accept", r, http.StatusOK, "")
	if r.str("status") != "active" {
		t.Fatalf("accept: %s", r.raw)
	}
	expect(t, "accept again", s.call(http.MethodPost, "/api/v1/invitations/"+token+"/accept", "", map[string]string{"password": goodPassword}),
		http.StatusNotFound, "invalid_token")
	j.waitStatus(t, "active", 10*time.Second)

	expect(t, "lookup", s.call(http.MethodPost, "/api/v1/console/organizations/lookup", "", map[string]string{"organization_name": "Acme-Cloud"}), http.StatusOK, "")
	expect(t, "lookup unknown", s.call(http.MethodPost, "/api/v1/console/organizations/lookup", "", map[string]string{"organization_name": "nobody-here"}),
		http.StatusNotFound, "organization_not_found")
	r = s.call(http.MethodPost, "/api/v1/console/sessions", "", map[string]string{"organization_name": "acme-cloud", "email": j.email, "password": goodPassword})
	expect(t, "sign in", r, http.StatusCreated, "")
	roles, _ := r.get("roles").([]any)
	if len(roles) != 2 || roles[0] != "billing_admin" || roles[1] != "organization_admin" || r.get("user", "is_owner") != true {
		t.Fatalf("sign in: %s", r.raw)
	}
	session := r.str("session_token")
	me := s.call(http.MethodGet, "/api/v1/console/me", session, nil)
	expect(t, "me", me, http.StatusOK, "")
	if me.str("organization", "organization_name") != "acme-cloud" || me.get("session_token") != nil {
		t.Fatalf("me: %s", me.raw)
	}
	expect(t, "sign out", s.call(http.MethodDelete, "/api/v1/console/sessions/current", session, nil), http.StatusNoContent, "")
	expect(t, "me after sign out", s.call(http.MethodGet, "/api/v1/console/me", session, nil), http.StatusUnauthorized, "unauthorized")

	// Exactly one of everything in the database.
	counts := []struct {
		model any
		where string
		want  int64
	}{
		{&models.Organization{}, "signup_id = ?", 1},
		{&models.NameReservation{}, "signup_id = ?", 1},
		{&models.BusinessProfile{}, "signup_id = ?", 1},
		{&models.Certificate{}, "signup_id = ?", 1},
	}
	for _, c := range counts {
		var n int64
		s.db.Model(c.model).Where(c.where, j.id).Count(&n)
		if n != c.want {
			t.Errorf("%T: %d rows, want %d", c.model, n, c.want)
		}
	}
	// Operators find it in Temporal by its search attributes. (The
	// package's Temporal server outlives one test run, so -count=N finds the
	// earlier runs' sign-ups too: the workflow id keeps to this one.)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "SignupStatus = 'active' AND OrganizationName = 'acme-cloud' AND BusinessNumber = '220-81-62517' AND WorkflowId = 'signup-" + j.id + "'",
		})
		if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "signup-"+j.id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow not found by search attributes: %v, %v", resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestInvitationExpiresToResetRequired(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.InviteTTL = 3 * time.Second; c.InviteReminderBefore = 0 })
	j := s.start(t)
	j.wizard(t, "expiring-co")
	token := s.link(t, j.email, "invitations", 10*time.Second)
	j.waitStatus(t, "reset_required", 15*time.Second)
	expect(t, "expired invitation", s.call(http.MethodGet, "/api/v1/invitations/"+token, "", nil), http.StatusGone, "invitation_expired")
	expect(t, "accept expired", s.call(http.MethodPost, "/api/v1/invitations/"+token+"/accept", "", map[string]string{"password": goodPassword}),
		http.StatusGone, "invitation_expired")
	signIn := map[string]string{"organization_name": "expiring-co", "email": j.email, "password": goodPassword}
	expect(t, "sign in", s.call(http.MethodPost, "/api/v1/console/sessions", "", signIn), http.StatusForbidden, "password_reset_required")

	// Reset password brings the owner in, and the sign-up to active.
	expect(t, "reset request", s.call(http.MethodPost, "/api/v1/password-resets", "", map[string]string{"organization_name": "expiring-co", "email": j.email}),
		http.StatusAccepted, "")
	expect(t, "reset for nobody", s.call(http.MethodPost, "/api/v1/password-resets", "", map[string]string{"organization_name": "expiring-co", "email": "nobody@example.com"}),
		http.StatusAccepted, "")
	reset := s.link(t, j.email, "password-reset", 10*time.Second)
	expect(t, "reset weak", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": "aaa"}),
		http.StatusUnprocessableEntity, "weak_password")
	expect(t, "reset", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": goodPassword}), http.StatusOK, "")
	expect(t, "reset reused link", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": "Other!Pass42"}),
		http.StatusNotFound, "invalid_token")
	expect(t, "sign in after reset", s.call(http.MethodPost, "/api/v1/console/sessions", "", signIn), http.StatusCreated, "")
	j.waitStatus(t, "active", 10*time.Second)
	if n := s.mailsTo("nobody@example.com"); n != 0 {
		t.Errorf("a reset mail went to an unknown account")
	}
}

func TestLockoutAndPasswordReuse(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.ResetTokenTTL = time.Hour })
	j := s.start(t)
	j.wizard(t, "lockout-co")
	token := s.link(t, j.email, "invitations", 10*time.Second)
	expect(t, "accept", s.call(http.MethodPost, "/api/v1/invitations/"+token+"/accept", "", map[string]string{"password": goodPassword}), http.StatusOK, "")
	wrong := map[string]string{"organization_name": "lockout-co", "email": j.email, "password": "Wrong!Pass42"}
	right := map[string]string{"organization_name": "lockout-co", "email": j.email, "password": goodPassword}
	session := s.call(http.MethodPost, "/api/v1/console/sessions", "", right).str("session_token")
	for i := 0; i < 5; i++ {
		expect(t, "wrong password", s.call(http.MethodPost, "/api/v1/console/sessions", "", wrong), http.StatusUnauthorized, "invalid_credentials")
	}
	expect(t, "right password after 5 wrong", s.call(http.MethodPost, "/api/v1/console/sessions", "", right), http.StatusForbidden, "password_reset_required")
	expect(t, "old session after lockout", s.call(http.MethodGet, "/api/v1/console/me", session, nil), http.StatusUnauthorized, "unauthorized")

	expect(t, "reset request", s.call(http.MethodPost, "/api/v1/password-resets", "", map[string]string{"organization_name": "lockout-co", "email": j.email}), http.StatusAccepted, "")
	reset := s.link(t, j.email, "password-reset", 10*time.Second)
	r := s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": goodPassword})
	expect(t, "reuse", r, http.StatusUnprocessableEntity, "weak_password")
	if !strings.Contains(r.str("error", "fields", "password"), "last 3") {
		t.Errorf("reuse not named: %s", r.raw)
	}
	expect(t, "new password", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": "Fresh!Pass42"}), http.StatusOK, "")
	right["password"] = "Fresh!Pass42"
	expect(t, "sign in", s.call(http.MethodPost, "/api/v1/console/sessions", "", right), http.StatusCreated, "")
	// Not a stranger's password either: unknown org and email look the same.
	expect(t, "unknown email", s.call(http.MethodPost, "/api/v1/console/sessions", "", map[string]string{"organization_name": "lockout-co", "email": "x@example.com", "password": "x"}),
		http.StatusUnauthorized, "invalid_credentials")
}

func TestContractErrors(t *testing.T) {
	s := newStack(t)
	j := s.start(t)
	other := s.start(t)
	big := bytes.Repeat([]byte("a"), 1<<20+10)
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"no token", http.MethodGet, j.path(""), "", nil, 401, "unauthorized"},
		{"another sign-up's token", http.MethodGet, j.path(""), other.token, nil, 404, "signup_not_found"},
		{"another sign-up's token, a step", http.MethodPost, j.path("/submit"), other.token, nil, 404, "signup_not_found"},
		{"no token, a step", http.MethodPut, j.path("/user-info"), "", `{}`, 401, "unauthorized"},
		{"unknown id, a step", http.MethodPost, "/api/v1/signups/00000000-0000-0000-0000-000000000000/submit", j.token, nil, 404, "signup_not_found"},
		{"unknown id", http.MethodGet, "/api/v1/signups/00000000-0000-0000-0000-000000000000", j.token, nil, 404, "signup_not_found"},
		{"malformed json", http.MethodPost, "/api/v1/signups", "", `{"accepted_terms":`, 400, "invalid_json"},
		{"empty body", http.MethodPost, "/api/v1/signups", "", ``, 400, "invalid_json"},
		{"body over 1 MiB", http.MethodPost, "/api/v1/signups", "", `{"x":"` + string(big) + `"}`, 413, "body_too_large"},
		{"unknown field", http.MethodPost, "/api/v1/signups", "", `{"accepted_terms":["service","privacy"],"coupon":"x"}`, 422, "validation_failed"},
		{"wrong type", http.MethodPost, "/api/v1/signups", "", `{"accepted_terms":"service"}`, 422, "validation_failed"},
		{"required terms missing", http.MethodPost, "/api/v1/signups", "", `{"accepted_terms":["service"]}`, 422, "required_terms_missing"},
		{"unknown term", http.MethodPost, "/api/v1/signups", "", `{"accepted_terms":["service","privacy","lottery"]}`, 422, "unknown_term"},
		{"invalid business number", http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"123-45-67890"}`, 422, "invalid_business_number"},
		{"zero business number", http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"000-00-00000"}`, 422, "invalid_business_number"},
		{"user info before verify", http.MethodPut, j.path("/user-info"), j.token, userInfo(), 409, "business_number_not_verified"},
		{"organization before user info", http.MethodPut, j.path("/organization"), j.token,
			`{"organization_name":"early-co","contact_name":"x","contact_email":"a@example.com","mobile_phone":"010-1234-5678"}`, 409, "step_out_of_order"},
		{"submit early", http.MethodPost, j.path("/submit"), j.token, nil, 409, "step_out_of_order"},
		{"unknown route", http.MethodGet, "/api/v1/nothing", "", nil, 404, "not_found"},
		{"admin without token", http.MethodGet, "/api/v1/admin/signups", "", nil, 401, "unauthorized"},
		{"invitation garbage", http.MethodGet, "/api/v1/invitations/garbage", "", nil, 404, "invalid_token"},
		{"reset garbage", http.MethodPost, "/api/v1/password-resets/garbage/confirm", "", `{"password":"Kakao!Cloud7"}`, 404, "invalid_token"},
		{"me without session", http.MethodGet, "/api/v1/console/me", "", nil, 401, "unauthorized"},
	}
	before := s.call(http.MethodGet, j.path(""), j.token, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, tt.name, s.call(tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	// Refused input writes nothing: the sign-up reads back as it was (but
	// for updated_at, which the workflow's own first save may move).
	after := s.call(http.MethodGet, j.path(""), j.token, nil)
	for _, r := range []response{before, after} {
		if r.status != http.StatusOK {
			t.Fatalf("read back: %d %s", r.status, r.raw)
		}
	}
	was, is := before.get(), after.get()
	delete(was.(map[string]any), "updated_at")
	delete(is.(map[string]any), "updated_at")
	if !reflect.DeepEqual(was, is) {
		t.Errorf("the refusals changed the sign-up:\n%s\n%s", before.raw, after.raw)
	}

	t.Run("certificate", func(t *testing.T) {
		files := []struct {
			name   string
			file   string
			data   []byte
			status int
			code   string
		}{
			{"pdf named png", "cert.png", pdf, 201, ""},
			{"png", "scan.png", append([]byte("\x89PNG\r\n\x1a\n"), 1, 2, 3), 201, ""},
			{"jpeg", "scan.jpg", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10}, 201, ""},
			{"text named pdf", "cert.pdf", []byte("hello, I am a certificate"), 415, "unsupported_file_type"},
			{"empty", "cert.pdf", nil, 422, "file_missing"},
			{"over 10 MiB", "big.pdf", append([]byte("%PDF-"), bytes.Repeat([]byte{0}, 10<<20)...), 413, "file_too_large"},
		}
		for _, f := range files {
			r := s.upload(j.id, j.token, f.file, f.data)
			expect(t, f.name, r, f.status, f.code)
			if f.status == 201 && (r.str("certificate", "sha256") == "" || r.str("certificate", "filename") != f.file) {
				t.Errorf("%s: %s", f.name, r.raw)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, s.http.URL+j.path("/certificate"), strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer "+j.token)
		req.Header.Set("Content-Type", "text/plain")
		expect(t, "not multipart", s.do(req), 422, "file_missing")
		var n int64
		s.db.Model(&models.Certificate{}).Where("signup_id = ?", j.id).Count(&n)
		if n != 1 {
			t.Errorf("%d certificates kept; a new upload replaces the old", n)
		}
		v := s.call(http.MethodGet, j.path(""), j.token, nil)
		if v.str("certificate", "content_type") != "image/jpeg" {
			t.Errorf("the last upload is not the sign-up's certificate: %s", v.raw)
		}
	})

	t.Run("name taken and availability", func(t *testing.T) {
		a := s.start(t)
		a.wizard(t, "taken-co")
		b := s.start(t)
		expect(t, "cert", s.upload(b.id, b.token, "c.pdf", pdf), 201, "")
		expect(t, "verify", s.call(http.MethodPost, b.path("/business-number/verify"), b.token, `{"business_number":"2208162517"}`), 200, "")
		expect(t, "user info", s.call(http.MethodPut, b.path("/user-info"), b.token, userInfo()), 200, "")
		r := s.call(http.MethodPut, b.path("/organization"), b.token, map[string]string{
			"organization_name": "TAKEN-CO", "contact_name": "x", "contact_email": "b@example.com", "mobile_phone": "010-2222-3333"})
		expect(t, "taken", r, 409, "organization_name_taken")
		r = s.call(http.MethodPut, b.path("/organization"), b.token, map[string]string{
			"organization_name": "x", "contact_name": "", "contact_email": "not-mail", "mobile_phone": "02-123-4567"})
		expect(t, "invalid organization", r, 422, "validation_failed")
		for _, f := range []string{"organization_name", "contact_name", "contact_email", "mobile_phone"} {
			if r.str("error", "fields", f) == "" {
				t.Errorf("field %s not reported: %s", f, r.raw)
			}
		}
		for name, reason := range map[string]string{"taken-co": "taken", "Bad_Name": "invalid"} {
			r := s.call(http.MethodGet, "/api/v1/organization-names/"+name+"/availability", "", nil)
			if r.get("available") != false || r.str("reason") != reason {
				t.Errorf("availability of %s: %s", name, r.raw)
			}
		}
		expect(t, "step after submit", s.call(http.MethodPut, a.path("/user-info"), a.token, userInfo()), 409, "step_out_of_order")
	})
}
