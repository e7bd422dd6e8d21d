package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/mailbox"
)

// The invitation wait against dev's own mailbox (the real GET /dev/mailbox
// handler over HTTP): the mail arrives, arrives late, never arrives (as when
// SMTP_HOST sends it elsewhere), or there is no mailbox to ask.
func TestInvitationWait(t *testing.T) {
	const email = "owner@bmail-1.bench.example.com"
	token := strings.Repeat("A", 43)
	invitation := mailbox.Message{To: []string{email}, Subject: "Invitation",
		Text: "Set your password: http://localhost:8080/invitations/" + token + "\n"}
	other := mailbox.Message{To: []string{"someone@else.example.com"}, Subject: "Invitation",
		Text: "http://localhost:8080/invitations/" + strings.Repeat("B", 43)}
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	for _, tc := range []struct {
		name      string
		before    []mailbox.Message // in the mailbox before the wait
		later     *mailbox.Message  // arrives 300 ms into the wait
		url       string            // instead of the real mailbox
		wait      time.Duration
		wantToken string
		reason    string // "" when the token comes
		atOnce    bool   // gives up without waiting out the bound
	}{
		{name: "there already", before: []mailbox.Message{invitation}, wait: 2 * time.Second, wantToken: token},
		{name: "arrives during the wait", later: &invitation, wait: 5 * time.Second, wantToken: token},
		{name: "never arrives", before: []mailbox.Message{other}, wait: 800 * time.Millisecond, reason: "not_received"},
		{name: "not a mailbox", url: "404", wait: 5 * time.Second, reason: "mailbox_http_404", atOnce: true},
		{name: "no mailbox", url: goneURL, wait: 500 * time.Millisecond, reason: "mailbox_unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			box, err := mailbox.Open(t.TempDir() + "/mailbox.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.before {
				if err := box.Add(m); err != nil {
					t.Fatal(err)
				}
			}
			mux := http.NewServeMux()
			mux.Handle("GET /dev/mailbox", mailbox.Handler(box))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			base := srv.URL
			switch tc.url {
			case "":
			case "404":
				nf := httptest.NewServer(http.NotFoundHandler())
				defer nf.Close()
				base = nf.URL
			default:
				base = tc.url
			}
			if tc.later != nil {
				m := *tc.later
				time.AfterFunc(300*time.Millisecond, func() { _ = box.Add(m) })
			}
			rec := newRecorder()
			p := &person{o: Options{MailboxURL: base, MailWait: tc.wait, HTTP: &http.Client{}}, rec: rec, n: 1}
			start := time.Now()
			got, ok := p.awaitInvitation(context.Background(), email)
			took := time.Since(start)
			out := Outcome{Email: email, Step: "invitation_mail"}
			p.end(&out, ok)

			if tc.reason == "" {
				if !ok || got != tc.wantToken {
					t.Fatalf("got token %q ok %v, want %q", got, ok, tc.wantToken)
				}
				if tc.later != nil && took < 300*time.Millisecond {
					t.Fatalf("token after %v, before the mail was sent", took)
				}
				if n := len(rec.steps["invitation_mail"]); n != 1 {
					t.Fatalf("invitation_mail latencies: %d, want 1", n)
				}
				if len(rec.failedBy) != 0 {
					t.Fatalf("failures counted: %v", rec.failedBy)
				}
				return
			}
			if ok || got != "" {
				t.Fatalf("got token %q ok %v, want a failure (%s)", got, ok, tc.reason)
			}
			switch {
			case tc.atOnce && took >= tc.wait/2:
				t.Fatalf("gave up after %v, want at once (bound %v)", took, tc.wait)
			case !tc.atOnce && (took < tc.wait || took > tc.wait+3*time.Second):
				t.Fatalf("gave up after %v, want the bound %v", took, tc.wait)
			}
			if out.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", out.Reason, tc.reason)
			}
			key := "invitation_mail: " + tc.reason
			if rec.failedBy[key] != 1 || len(rec.failedBy) != 1 {
				t.Fatalf("failed by reason %v, want %s once", rec.failedBy, key)
			}
			// The summary says which sign-ups failed and why.
			res := rec.result("signup", Options{Concurrency: 1}, 1, 0, 1, took)
			res.MailWaitS = tc.wait.Seconds()
			var buf bytes.Buffer
			Print(&buf, res)
			for _, want := range []string{"failed sign-ups by reason (1):", key, mailHint(tc.reason, tc.wait.Seconds())} {
				if !strings.Contains(buf.String(), want) {
					t.Fatalf("summary lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

func TestMailHint(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"not_received", "within 30s of submit (--mail-wait)"},
		{"mailbox_unreachable", "did not answer"},
		{"mailbox_http_404", "answered 404"},
		{"transport", "transport"},
	} {
		if got := mailHint(tc.reason, 30); !strings.Contains(got, tc.want) {
			t.Errorf("mailHint(%q) = %q, want it to say %q", tc.reason, got, tc.want)
		}
	}
}
