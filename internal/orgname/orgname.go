// Package orgname holds the rules for cloud organization names, which become
// the console domain and are unique regardless of case.
package orgname

import (
	"errors"
	"strings"
)

// Errors returned by Normalize, one per broken rule.
var (
	ErrLength     = errors.New("must be 3 to 30 characters")
	ErrCharacters = errors.New("may contain only lower-case letters, digits and hyphens")
	ErrStart      = errors.New("must start with a letter")
	ErrHyphen     = errors.New("must not end with a hyphen or contain two hyphens in a row")
)

// Normalize lower-cases a name (names compare case-insensitively) and checks
// it: 3–30 characters of a–z, 0–9 and '-', starting with a letter, with no
// trailing or doubled hyphen. It returns the normalized name.
func Normalize(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if len(n) < 3 || len(n) > 30 {
		return "", ErrLength
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", ErrCharacters
		}
	}
	if n[0] < 'a' || n[0] > 'z' {
		return "", ErrStart
	}
	if strings.HasSuffix(n, "-") || strings.Contains(n, "--") {
		return "", ErrHyphen
	}
	return n, nil
}
