package e2e

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/signup"
)

var record = flag.Bool("record", false, "record sign-up workflow histories into workflows/testdata for the replay test")

// TestRecordHistories runs the sign-up's main paths on the real server and
// stores their histories, which workflows/replay_test.go replays against the
// current code. Run it when the workflow gets a new version:
//
//	go test ./internal/e2e -run TestRecordHistories -record -version v2
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to record histories")
	}
	keys, err := os.ReadFile(filepath.Join("..", "..", "workflows", "testdata", "payload-keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RECORD_PAYLOAD_KEYS", strings.TrimSpace(string(keys)))
	s := newStack(t, func(c *config.Config) {
		c.InviteTTL, c.InviteReminderBefore, c.StepRetryBudget, c.SignupIdleTimeout = 4*time.Second, 2*time.Second, 2*time.Second, 3*time.Second
		c.SignupMaxAge = 8 * time.Second
	})
	out := filepath.Join("..", "..", "workflows", "testdata")

	// active: the whole wizard, the reminder, the password set.
	a := s.start(t)
	a.wizard(t, "record-active")
	time.Sleep(2500 * time.Millisecond)
	tok := s.link(t, a.email, "invitations", 5*time.Second)
	expect(t, "accept", s.call(http.MethodPost, "/api/v1/invitations/"+tok+"/accept", "", map[string]string{"password": goodPassword}), 200, "")
	a.waitStatus(t, "active", 10*time.Second)
	save(t, s, a.id, filepath.Join(out, *version+"-active.json"))

	// reset_required, then a reset: expiry, and the password_set signal after it.
	r := s.start(t)
	r.wizard(t, "record-reset")
	r.waitStatus(t, "reset_required", 15*time.Second)
	expect(t, "reset", s.call(http.MethodPost, "/api/v1/password-resets", "", map[string]string{"organization_name": "record-reset", "email": r.email}), 202, "")
	reset := s.link(t, r.email, "password-reset", 10*time.Second)
	expect(t, "confirm", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": goodPassword}), 200, "")
	r.waitStatus(t, "active", 10*time.Second)
	save(t, s, r.id, filepath.Join(out, *version+"-expired-then-reset.json"))

	// needs_attention, an operator's retry, a resend, a cancel.
	s.smtp.Refuse(451, "later")
	n := s.start(t)
	n.wizard(t, "record-attention")
	n.waitStatus(t, "needs_attention", 20*time.Second)
	s.smtp.Accept()
	for _, path := range []string{"retry", "resend-invite", "cancel"} {
		expect(t, path, s.call(http.MethodPost, "/api/v1/admin/signups/"+n.id+"/"+path, s.admin, `{"operator":"recorder"}`), 200, "")
	}
	n.waitStatus(t, string(signup.StatusCancelled), 10*time.Second)
	save(t, s, n.id, filepath.Join(out, *version+"-attention-resend-cancel.json"))

	// abandoned: idle past the timeout after some steps, with refusals.
	i := s.start(t)
	expect(t, "cert", s.upload(i.id, i.token, "c.pdf", pdf), 201, "")
	expect(t, "early org", s.call(http.MethodPut, i.path("/organization"), i.token, `{"organization_name":"record-idle","contact_name":"x","contact_email":"i@example.com","mobile_phone":"010-1111-2222"}`), 409, "")
	expect(t, "verify", s.call(http.MethodPost, i.path("/business-number/verify"), i.token, `{"business_number":"2208162517"}`), 200, "")
	expect(t, "user info", s.call(http.MethodPut, i.path("/user-info"), i.token, userInfo()), 200, "")
	expect(t, "org", s.call(http.MethodPut, i.path("/organization"), i.token, `{"organization_name":"record-idle","contact_name":"x","contact_email":"i@example.com","mobile_phone":"010-1111-2222"}`), 200, "")
	i.waitStatus(t, "abandoned", 15*time.Second)
	save(t, s, i.id, filepath.Join(out, *version+"-abandoned.json"))

	// abandoned at SIGNUP_MAX_AGE: never idle (a step every 1.5 s), still
	// ended 8 s after its start.
	m := s.start(t)
	expect(t, "cert", s.upload(m.id, m.token, "c.pdf", pdf), 201, "")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(1500 * time.Millisecond) {
		r := s.call(http.MethodPost, m.path("/business-number/verify"), m.token, `{"business_number":"2208162517"}`)
		if r.status != 200 || time.Now().After(deadline) {
			break
		}
	}
	m.waitStatus(t, "abandoned", 15*time.Second)
	save(t, s, m.id, filepath.Join(out, *version+"-max-age.json"))
}

var version = flag.String("version", "v1", "the workflow version the recorded histories belong to")

// save waits for the sign-up's workflow to close and stores its history.
func save(t *testing.T, s *stack, id, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Wait for the workflow to close so the history is whole.
	run := s.temporal.GetWorkflow(ctx, signup.WorkflowID(id), "")
	var v signup.View
	if err := run.Get(ctx, &v); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
	saveRun(t, s, signup.WorkflowID(id), "", path)
}
