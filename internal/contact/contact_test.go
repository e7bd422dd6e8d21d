package contact

import (
	"errors"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  error
	}{
		{"owner@example.com", "owner@example.com", nil},
		{" Owner.Name+ops@Example.CO.KR ", "owner.name+ops@example.co.kr", nil},
		{"Owner <owner@example.com>", "", ErrEmail},
		{"<owner@example.com>", "", ErrEmail},
		{"owner@localhost", "", ErrEmail},
		{"owner", "", ErrEmail},
		{"owner@@example.com", "", ErrEmail},
		{"담당자@example.com", "", ErrEmail},
		{"", "", ErrEmail},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in        string
		phone     string
		mobile    string
		phoneErr  error
		mobileErr error
	}{
		{"010-1234-5678", "+821012345678", "+821012345678", nil, nil},
		{"01012345678", "+821012345678", "+821012345678", nil, nil},
		{"+82 10-1234-5678", "+821012345678", "+821012345678", nil, nil},
		{"+821012345678", "+821012345678", "+821012345678", nil, nil},
		{"02-123-4567", "+8221234567", "", nil, ErrMobilePhone},
		{"031-123-4567", "+82311234567", "", nil, ErrMobilePhone},
		{"+1 415 555 0100", "", "", ErrPhone, ErrMobilePhone},
		{"010-1234", "", "", ErrPhone, ErrMobilePhone},
		{"phone", "", "", ErrPhone, ErrMobilePhone},
		{"", "", "", ErrPhone, ErrMobilePhone},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizePhone(tt.in)
			if !errors.Is(err, tt.phoneErr) || got != tt.phone {
				t.Errorf("NormalizePhone(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.phone, tt.phoneErr)
			}
			got, err = NormalizeMobile(tt.in)
			if !errors.Is(err, tt.mobileErr) || got != tt.mobile {
				t.Errorf("NormalizeMobile(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.mobile, tt.mobileErr)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"owner@example.com", "010-1234-5678", "+82 2 123 4567", "a@b.c", "\"a b\"@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := NormalizeEmail(s); err == nil {
			if again, err := NormalizeEmail(e); err != nil || again != e {
				t.Fatalf("NormalizeEmail not idempotent on %q: %q, %v", e, again, err)
			}
		}
		if p, err := NormalizePhone(s); err == nil {
			if again, err := NormalizePhone(p); err != nil || again != p {
				t.Fatalf("NormalizePhone not idempotent on %q: %q, %v", p, again, err)
			}
		}
		if m, err := NormalizeMobile(s); err == nil {
			if _, err := NormalizePhone(m); err != nil {
				t.Fatalf("mobile %q is not a phone: %v", m, err)
			}
		}
	})
}

func BenchmarkNormalizeEmail(b *testing.B) {
	for b.Loop() {
		if _, err := NormalizeEmail("Owner.Name@Example.co.kr"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeMobile(b *testing.B) {
	for b.Loop() {
		if _, err := NormalizeMobile("010-1234-5678"); err != nil {
			b.Fatal(err)
		}
	}
}
