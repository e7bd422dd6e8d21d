// Package bizno parses and checks Korean business registration numbers
// (사업자등록번호): ten digits written 3-2-5, the last one a check digit.
package bizno

import (
	"errors"
	"strconv"
	"strings"
)

// ErrFormat reports a number that is not ten digits (hyphens and spaces aside).
var ErrFormat = errors.New("business number must be 10 digits, written 123-45-67890 or 1234567890")

// ErrChecksum reports ten digits whose check digit does not match.
var ErrChecksum = errors.New("business number check digit does not match")

// ErrReserved reports the all-zero number, which passes the checksum but is never issued.
var ErrReserved = errors.New("business number 000-00-00000 is not a real number")

// Number is a business registration number of exactly ten ASCII digits.
type Number string

// Parse accepts ten digits, optionally grouped 3-2-5 by hyphens (or spaces),
// and returns the number with its checksum verified.
func Parse(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if len(s) > 20 {
		return "", ErrFormat
	}
	var b strings.Builder
	groups := []int{0}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			groups[len(groups)-1]++
		case r == '-' || r == ' ':
			groups = append(groups, 0)
		default:
			return "", ErrFormat
		}
	}
	digits := b.String()
	if len(digits) != 10 {
		return "", ErrFormat
	}
	// Separators are only allowed in the 3-2-5 positions.
	switch len(groups) {
	case 1:
	case 3:
		if groups[0] != 3 || groups[1] != 2 || groups[2] != 5 {
			return "", ErrFormat
		}
	default:
		return "", ErrFormat
	}
	if digits == "0000000000" {
		return "", ErrReserved
	}
	if !ValidChecksum(digits) {
		return "", ErrChecksum
	}
	return Number(digits), nil
}

var weights = [9]int{1, 3, 7, 1, 3, 7, 1, 3, 5}

// ValidChecksum reports whether ten digits carry the National Tax Service
// check digit. It returns false for anything that is not ten ASCII digits.
func ValidChecksum(digits string) bool {
	if len(digits) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	for i, w := range weights {
		sum += int(digits[i]-'0') * w
	}
	sum += int(digits[8]-'0') * 5 / 10
	check := (10 - sum%10) % 10
	return check == int(digits[9]-'0')
}

// String formats the number as 123-45-67890.
func (n Number) String() string {
	s := string(n)
	if len(s) != 10 {
		return s
	}
	return s[:3] + "-" + s[3:5] + "-" + s[5:]
}

// Digits returns the ten digits without separators.
func (n Number) Digits() string { return string(n) }

// Masked hides all but the first three and last two digits (123-**-***90),
// for logs and listings that must not show the full number.
func (n Number) Masked() string {
	s := string(n)
	if len(s) != 10 {
		return "***"
	}
	return s[:3] + "-**-***" + s[8:]
}

// Make returns a well-formed number for serial: nine digits from 100000000
// up (serial taken modulo 900000000) and their check digit. Load generators
// and tests give each simulated business a number of its own with it (the
// service bounds the open sign-ups of one number).
func Make(serial int) Number {
	nine := strconv.Itoa(100_000_000 + ((serial%900_000_000)+900_000_000)%900_000_000)
	sum := 0
	for i, w := range weights {
		sum += int(nine[i]-'0') * w
	}
	sum += int(nine[8]-'0') * 5 / 10
	return Number(nine + strconv.Itoa((10-sum%10)%10))
}
