package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/ops"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

func backends(s *stack) map[string]ops.Backend {
	return map[string]ops.Backend{
		"admin API": &ops.API{BaseURL: s.http.URL, Token: s.admin},
		"temporal":  &ops.Temporal{Client: s.temporal},
	}
}

func opsCode(err error) string {
	var e *ops.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestOperatorsRepairSignups(t *testing.T) {
	for _, name := range []string{"admin API", "temporal"} {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, func(c *config.Config) { c.StepRetryBudget = 2 * time.Second })
			b := backends(s)[name]
			ctx := context.Background()
			var err error
			slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))

			// The mail server refuses: the sign-up waits in needs_attention.
			s.smtp.Refuse(451, "try later")
			j := s.start(t)
			j.wizard(t, "stuck-"+slug)
			j.waitStatus(t, "needs_attention", 20*time.Second)
			// Temporal's visibility may lag the read model a moment.
			var list []signup.AdminView
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				list, err = b.List(ctx, "needs_attention", 10)
				if (err == nil && len(list) == 1) || time.Now().After(deadline) {
					break
				}
			}
			if err != nil || len(list) != 1 || list[0].SignupID != j.id {
				t.Fatalf("list needs_attention: %+v, %v", list, err)
			}
			v, err := b.Show(ctx, j.id)
			if err != nil || v.LastError == nil || !strings.Contains(*v.LastError, "451") {
				t.Fatalf("show: %+v, %v", v, err)
			}
			if _, err := b.Do(ctx, j.id, ops.ResendInvite, signup.OperatorInput{Operator: "ops"}); opsCode(err) != signup.CodeNotInvited {
				t.Errorf("resend while stuck: %v", err)
			}
			s.smtp.Accept()
			got, err := b.Do(ctx, j.id, ops.Retry, signup.OperatorInput{Operator: "kim", Reason: "smtp back"})
			if err != nil || got.Status != signup.StatusInvited {
				t.Fatalf("retry: %+v, %v", got, err)
			}
			if _, err := b.Do(ctx, j.id, ops.Retry, signup.OperatorInput{Operator: "kim"}); opsCode(err) != signup.CodeNotNeedsAttention {
				t.Errorf("second retry: %v", err)
			}
			var audit int64
			s.db.Model(&models.AuditEvent{}).Where("signup_id = ? AND actor = 'operator' AND action = 'retried'", j.id).Count(&audit)
			if audit != 1 {
				t.Errorf("%d operator retry audit events", audit)
			}

			// Resend: a new link, the old one dead, the window restarted.
			old := s.link(t, j.email, "invitations", 5*time.Second)
			before := j.waitStatus(t, "invited", 5*time.Second).str("invite", "expires_at")
			time.Sleep(20 * time.Millisecond)
			got, err = b.Do(ctx, j.id, ops.ResendInvite, signup.OperatorInput{Operator: "kim"})
			if err != nil || got.Status != signup.StatusInvited || got.Invite == nil || got.Invite.ExpiresAt.Format(time.RFC3339Nano) <= before {
				t.Fatalf("resend: %+v (before %s), %v", got.Invite, before, err)
			}
			fresh := s.link(t, j.email, "invitations", 5*time.Second)
			if fresh == old {
				t.Fatal("resend mailed the same link")
			}
			expect(t, "old link", s.call(http.MethodGet, "/api/v1/invitations/"+old, "", nil), http.StatusNotFound, "invalid_token")
			expect(t, "new link", s.call(http.MethodGet, "/api/v1/invitations/"+fresh, "", nil), http.StatusOK, "")

			// Cancel after the invitation: disabled, name free, link dead.
			got, err = b.Do(ctx, j.id, ops.Cancel, signup.OperatorInput{Operator: "kim", Reason: "customer asked"})
			if err != nil || got.Status != signup.StatusCancelled {
				t.Fatalf("cancel: %+v, %v", got, err)
			}
			expect(t, "link after cancel", s.call(http.MethodGet, "/api/v1/invitations/"+fresh, "", nil), http.StatusNotFound, "invalid_token")
			r := s.call(http.MethodGet, "/api/v1/organization-names/stuck-"+slug+"/availability", "", nil)
			if r.get("available") != true {
				t.Errorf("name not free after cancel: %s", r.raw)
			}
			if _, err := b.Do(ctx, j.id, ops.Cancel, signup.OperatorInput{Operator: "kim"}); opsCode(err) != signup.CodeNotCancellable && name == "admin API" {
				t.Errorf("cancel twice: %v", err)
			}

			// Cancel before submit frees the name at once.
			k := s.start(t)
			expect(t, "cert", s.upload(k.id, k.token, "c.pdf", pdf), 201, "")
			expect(t, "verify", s.call(http.MethodPost, k.path("/business-number/verify"), k.token, `{"business_number":"2208162517"}`), 200, "")
			expect(t, "user info", s.call(http.MethodPut, k.path("/user-info"), k.token, userInfo()), 200, "")
			expect(t, "org", s.call(http.MethodPut, k.path("/organization"), k.token, map[string]string{
				"organization_name": "early-" + slug, "contact_name": "x", "contact_email": "k@example.com", "mobile_phone": "010-2222-3333"}), 200, "")
			if _, err := b.Do(ctx, k.id, ops.Cancel, signup.OperatorInput{Operator: "kim"}); err != nil {
				t.Fatal(err)
			}
			r = s.call(http.MethodGet, "/api/v1/organization-names/early-"+slug+"/availability", "", nil)
			if r.get("available") != true {
				t.Errorf("name not free after cancel before submit: %s", r.raw)
			}
			// The sign-up's token ended with it.
			expect(t, "step after cancel", s.call(http.MethodPost, k.path("/submit"), k.token, nil), 404, "signup_not_found")

			// Not after active.
			a := s.start(t)
			a.wizard(t, "active-"+slug)
			tok := s.link(t, a.email, "invitations", 10*time.Second)
			expect(t, "accept", s.call(http.MethodPost, "/api/v1/invitations/"+tok+"/accept", "", map[string]string{"password": goodPassword}), 200, "")
			a.waitStatus(t, "active", 10*time.Second)
			if name == "admin API" {
				if _, err := b.Do(ctx, a.id, ops.Cancel, signup.OperatorInput{Operator: "kim"}); opsCode(err) != signup.CodeNotCancellable {
					t.Errorf("cancel after active: %v", err)
				}
			}
		})
	}
}

func TestAdminAPIAuth(t *testing.T) {
	off := newStack(t, func(c *config.Config) { c.AdminToken = "" })
	expect(t, "admin off", off.call(http.MethodGet, "/api/v1/admin/signups", "anything", nil), 404, "not_found")
	on := newStack(t)
	expect(t, "wrong token", on.call(http.MethodGet, "/api/v1/admin/signups", "nope", nil), 401, "unauthorized")
	expect(t, "bad status", on.call(http.MethodGet, "/api/v1/admin/signups?status=lost", on.admin, nil), 422, "validation_failed")
	expect(t, "bad limit", on.call(http.MethodGet, "/api/v1/admin/signups?limit=0", on.admin, nil), 422, "validation_failed")
	expect(t, "unknown", on.call(http.MethodGet, "/api/v1/admin/signups/nope", on.admin, nil), 404, "signup_not_found")
	j := on.start(t)
	r := on.call(http.MethodGet, "/api/v1/admin/signups/"+j.id, on.admin, nil)
	expect(t, "show", r, 200, "")
	if r.str("workflow_id") != "signup-"+j.id || r.str("run_id") == "" {
		t.Errorf("show: %s", r.raw)
	}
}

// fakeTaxService speaks the National Tax Service status JSON, and can be
// taken down.
type fakeTaxService struct{ down atomic.Bool }

func (f *fakeTaxService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"status_code":"INTERNAL_ERROR"}`))
		return
	}
	var req struct {
		BNo []string `json:"b_no"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	data := []map[string]string{}
	for _, n := range req.BNo {
		code := "01"
		if n == "1208147521" {
			code = "03"
		}
		data = append(data, map[string]string{"b_no": n, "b_stt_cd": code})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status_code": "OK", "data": data})
}

func TestVerifyWithTaxServiceDownThenUp(t *testing.T) {
	fake := &fakeTaxService{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := newStack(t, func(c *config.Config) {
		c.NTSAPIURL, c.NTSServiceKey, c.VerifyTimeout, c.NTSTimeout = srv.URL, "key", 2*time.Second, 500*time.Millisecond
	})
	j := s.start(t)
	fake.down.Store(true)
	start := time.Now()
	r := s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"220-81-62517"}`)
	expect(t, "verify while down", r, http.StatusServiceUnavailable, "verification_unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("verify while down took %s; it must answer within a bounded time", d)
	}
	if v := s.call(http.MethodGet, j.path(""), j.token, nil); v.str("status") != "user_info" || v.get("business") != nil {
		t.Errorf("sign-up changed by a failed verify: %s", v.raw)
	}
	fake.down.Store(false)
	r = s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"220-81-62517"}`)
	expect(t, "verify when up", r, http.StatusOK, "")
	if r.str("source") != "nts" || r.str("business_status") != "active" {
		t.Errorf("verify: %s", r.raw)
	}
	expect(t, "closed business", s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"120-81-47521"}`),
		http.StatusUnprocessableEntity, "business_not_active")
	// The verified number is still the one user info must carry.
	expect(t, "user info", s.call(http.MethodPut, j.path("/user-info"), j.token, userInfo()), http.StatusConflict, "certificate_required")
}
