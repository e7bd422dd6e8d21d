package mailer

import (
	"strings"
	"testing"
	"time"
)

func TestInvitationMessage(t *testing.T) {
	exp := time.Date(2026, 11, 30, 15, 4, 0, 0, time.UTC)
	tests := []struct {
		name     string
		reminder bool
	}{{"invitation", false}, {"reminder", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := InvitationMessage(Invitation{
				OrganizationName: "acme-cloud", ContactName: "<Kim>", Email: "owner@example.com",
				Link: "http://localhost:8080/invitations/tok", ExpiresAt: exp, Reminder: tt.reminder,
			}, "id@x")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"acme-cloud", "http://localhost:8080/invitations/tok", "2026-12-01 00:04 KST", "2026-11-30 15:04 UTC"} {
				if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
					t.Errorf("message lacks %q", want)
				}
			}
			if !strings.Contains(m.Subject, "acme-cloud") {
				t.Errorf("subject %q lacks the organization", m.Subject)
			}
			if strings.HasPrefix(m.Subject, "[Reminder]") != tt.reminder {
				t.Errorf("subject %q, reminder %v", m.Subject, tt.reminder)
			}
			if strings.Contains(m.HTML, "<Kim>") {
				t.Error("HTML is not escaped")
			}
		})
	}
}

func TestPasswordResetMessage(t *testing.T) {
	m, err := PasswordResetMessage(PasswordReset{OrganizationName: "acme", Email: "a@example.com",
		Link: "http://x/password-reset/t", ExpiresAt: time.Unix(0, 0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "http://x/password-reset/t") || !strings.Contains(m.HTML, "1970-01-01 09:00 KST") {
		t.Fatalf("unexpected message %+v", m)
	}
}

func BenchmarkInvitationMessage(b *testing.B) {
	inv := Invitation{OrganizationName: "acme-cloud", ContactName: "Kim", Email: "owner@example.com",
		Link: "http://localhost:8080/invitations/abc", ExpiresAt: time.Now()}
	for b.Loop() {
		if _, err := InvitationMessage(inv, "id"); err != nil {
			b.Fatal(err)
		}
	}
}
