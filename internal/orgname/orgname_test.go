package orgname

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"acme", "acme", nil},
		{"Acme-Cloud", "acme-cloud", nil},
		{"a1-b2-c3", "a1-b2-c3", nil},
		{"abc", "abc", nil},
		{"abcdefghijabcdefghijabcdefghij", "abcdefghijabcdefghijabcdefghij", nil},
		{"ab", "", ErrLength},
		{"abcdefghijabcdefghijabcdefghijk", "", ErrLength},
		{"1acme", "", ErrStart},
		{"-acme", "", ErrStart},
		{"acme-", "", ErrHyphen},
		{"ac--me", "", ErrHyphen},
		{"ac_me", "", ErrCharacters},
		{"ac.me", "", ErrCharacters},
		{"회사이름", "", ErrCharacters},
		{"acmé", "", ErrCharacters},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"acme", "Acme-Cloud", "a--b", "-x-", "ǅǆ", "İstanbul"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", n, again, err)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for b.Loop() {
		if _, err := Normalize("Acme-Cloud-Korea"); err != nil {
			b.Fatal(err)
		}
	}
}
