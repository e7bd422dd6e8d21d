package store

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/onboarding?sslmode=disable", "postgres://app:xxxxx@db:5432/onboarding?sslmode=disable"},
		{"postgres://app@db/onboarding", "postgres://app@db/onboarding"},
		{"postgres://db/onboarding", "postgres://db/onboarding"},
		{"sqlite:///var/lib/onboarding/app.db", "sqlite:///var/lib/onboarding/app.db"},
		{"postgres://app:p%40ss%2Fword@db/onboarding", "postgres://app:xxxxx@db/onboarding"},
		{"::not a url", "::not a url"},
	} {
		got := Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "p%40ss") {
			t.Errorf("Redact(%q) = %q shows the password", tt.in, got)
		}
	}
}
