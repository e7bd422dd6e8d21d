// Package contact normalizes the email addresses and Korean phone numbers
// people type into the sign-up forms.
package contact

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Errors returned by the normalizers.
var (
	ErrEmail       = errors.New("must be an email address such as name@example.com")
	ErrPhone       = errors.New("must be a Korean phone number such as 02-123-4567 or +82 2-123-4567")
	ErrMobilePhone = errors.New("must be a Korean mobile number such as 010-1234-5678")
)

// NormalizeEmail checks an RFC 5322 addr-spec (no display name, no angle
// brackets) with a dotted domain and returns it lower-cased, as login ids and
// mailbox lookups compare emails without regard to case.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return "", ErrEmail
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", ErrEmail
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", ErrEmail
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			// Internationalized addresses are not accepted by every SMTP
			// relay on the way; keep the login id plain ASCII.
			return "", ErrEmail
		}
	}
	return strings.ToLower(s), nil
}

// NormalizePhone accepts a Korean phone number in a domestic (02-123-4567,
// 010-1234-5678) or international (+82 10-1234-5678) form and returns it in
// E.164 (+82101234567).
func NormalizePhone(s string) (string, error) {
	num, err := parseKR(s)
	if err != nil {
		return "", ErrPhone
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// NormalizeMobile is NormalizePhone restricted to mobile numbers.
func NormalizeMobile(s string) (string, error) {
	num, err := parseKR(s)
	if err != nil {
		return "", ErrMobilePhone
	}
	if phonenumbers.GetNumberType(num) != phonenumbers.MOBILE {
		return "", ErrMobilePhone
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func parseKR(s string) (*phonenumbers.PhoneNumber, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 24 {
		return nil, ErrPhone
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == ' ' || r == '(' || r == ')' || r == '.') {
			return nil, ErrPhone
		}
	}
	num, err := phonenumbers.Parse(s, "KR")
	if err != nil {
		return nil, ErrPhone
	}
	if num.GetCountryCode() != 82 || !phonenumbers.IsValidNumberForRegion(num, "KR") {
		return nil, ErrPhone
	}
	return num, nil
}
