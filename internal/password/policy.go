// Package password holds the console's password policy and the slow salted
// hash passwords are stored with.
package password

import (
	"strings"
	"unicode"
)

// Rule names one requirement of the policy.
type Rule string

// The policy's rules, in the order they are reported.
const (
	RuleLength     Rule = "length"
	RuleCharacters Rule = "characters"
	RuleUpper      Rule = "uppercase"
	RuleLower      Rule = "lowercase"
	RuleDigit      Rule = "digit"
	RuleSymbol     Rule = "symbol"
	RuleSequence   Rule = "sequence"
	RuleRepeat     Rule = "repeat"
	RuleReused     Rule = "reused"
)

// Messages says each rule as a sentence for people.
var messages = map[Rule]string{
	RuleLength:     "use 9 to 30 characters",
	RuleCharacters: "use only letters, digits and symbols on a standard keyboard (no spaces)",
	RuleUpper:      "include an upper-case letter",
	RuleLower:      "include a lower-case letter",
	RuleDigit:      "include a digit",
	RuleSymbol:     "include a symbol such as ! @ # $",
	RuleSequence:   "avoid 3 or more sequential characters such as abc, 123 or cba",
	RuleRepeat:     "avoid the same character 3 times in a row",
	RuleReused:     "do not reuse one of your last 3 passwords",
}

// Message returns the rule as advice for people.
func (r Rule) Message() string { return messages[r] }

// Lengths the policy allows.
const (
	MinLength = 9
	MaxLength = 30
)

// Check returns every rule the password breaks, in a fixed order; none means
// it passes. Reuse of earlier passwords is checked separately (see Reused).
func Check(pw string) []Rule {
	var broken []Rule
	n := len([]rune(pw))
	if n < MinLength || n > MaxLength {
		broken = append(broken, RuleLength)
	}
	var upper, lower, digit, symbol, bad bool
	for _, r := range pw {
		switch {
		case r > unicode.MaxASCII || r <= ' ' || r == 0x7f:
			bad = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			symbol = true
		}
	}
	if bad {
		broken = append(broken, RuleCharacters)
	}
	if !upper {
		broken = append(broken, RuleUpper)
	}
	if !lower {
		broken = append(broken, RuleLower)
	}
	if !digit {
		broken = append(broken, RuleDigit)
	}
	if !symbol {
		broken = append(broken, RuleSymbol)
	}
	if hasSequence(pw) {
		broken = append(broken, RuleSequence)
	}
	if hasRepeat(pw) {
		broken = append(broken, RuleRepeat)
	}
	return broken
}

// Describe joins the rules' messages into one sentence.
func Describe(rules []Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.Message()
	}
	return strings.Join(parts, "; ")
}

// hasSequence reports a run of three letters or digits that climb or fall by
// one (abc, CBA, 123, 987); letters compare without case.
func hasSequence(pw string) bool {
	b := []byte(strings.ToLower(pw))
	for i := 0; i+2 < len(b); i++ {
		x, y, z := b[i], b[i+1], b[i+2]
		if !sameClass(x, y, z) {
			continue
		}
		if (y == x+1 && z == y+1) || (y == x-1 && z == y-1) {
			return true
		}
	}
	return false
}

func sameClass(cs ...byte) bool {
	letters, digits := 0, 0
	for _, c := range cs {
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c >= '0' && c <= '9':
			digits++
		}
	}
	return letters == len(cs) || digits == len(cs)
}

// hasRepeat reports the same character three times in a row.
func hasRepeat(pw string) bool {
	r := []rune(pw)
	for i := 0; i+2 < len(r); i++ {
		if r[i] == r[i+1] && r[i+1] == r[i+2] {
			return true
		}
	}
	return false
}
