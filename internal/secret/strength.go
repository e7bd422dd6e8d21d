package secret

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// MinBits is the least entropy an operator secret (ADMIN_TOKEN, CODEC_TOKEN,
// a payload key) must carry outside dev: 256 bits, what 32 random bytes have.
const MinBits = 256

// ErrSample reports a secret that is one of the example values shown in the
// repository (docker-compose.yml, the docs, test fixtures): public, so no
// secret at all.
var ErrSample = errors.New("is a sample value from the repository; use a secret of your own")

// WeakError reports a secret with less than MinBits of estimated entropy.
type WeakError struct{ Bits float64 }

func (e *WeakError) Error() string {
	return fmt.Sprintf("is too weak: about %.0f bits of entropy, at least %d needed (32 random bytes: `onboarding keygen --token` or `openssl rand -base64 32`)", e.Bits, MinBits)
}

// CheckStrong refuses a secret that is a sample value of the repository or
// whose estimated entropy (Bits) is under MinBits. The value itself never
// appears in the error.
func CheckStrong(value string) error {
	if isSample(value) {
		return ErrSample
	}
	if b := Bits(value); b < MinBits {
		return &WeakError{Bits: b}
	}
	return nil
}

// Bits estimates the entropy of a secret as it is written in the environment.
//
// The estimate counts each character as if it were drawn at random from the
// alphabet it evidently comes from (hex: 4 bits; base64: 6 bits; otherwise
// the character classes present: lower case 26, upper case 26, digits 10,
// ASCII symbols and space 33, anything else 128), and does not count what is
// predictable: a stretch that repeats an earlier one (runs like "aaaa" are
// repeats at distance one) or continues a sequence ("abcd", "4321") counts as
// one character. Stretches are discounted only from a length that random text
// of that size and alphabet reaches with a probability under one in a
// million, so that random secrets keep their full count. When the text
// decodes as hex or base64, the decoded bytes are estimated the same way (8
// bits a byte) and the smaller estimate wins: 32 random bytes, hex- or
// base64-encoded, give 256 bits; a base64-encoded repetition or sequence of
// bytes gives little.
//
// It catches short, repeated, sequential and sample secrets; it cannot tell a
// long phrase of words from random characters.
func Bits(s string) float64 {
	runes := []rune(s)
	if len(runes) > maxSymbols {
		runes = runes[:maxSymbols]
	}
	symbols := make([]int, 0, len(runes))
	for _, r := range runes {
		symbols = append(symbols, int(r))
	}
	kind := alphabetOf(s)
	if kind.encoding == "base64" {
		// Padding carries nothing.
		symbols = symbols[:len(strings.TrimRight(string(runes), "="))]
	}
	bits := estimate(symbols, kind.size)
	if raw, ok := decode(s, kind.encoding); ok {
		b := make([]int, 0, len(raw))
		for _, c := range raw {
			b = append(b, int(c))
		}
		bits = math.Min(bits, estimate(b, 256))
	}
	return bits
}

// maxSymbols bounds the work of an estimate (quadratic in the length); a
// secret that long has all the entropy it needs in its first characters.
const maxSymbols = 1024

type alphabet struct {
	size     int
	encoding string // hex, base64 or ""
}

func alphabetOf(s string) alphabet {
	if s == "" {
		return alphabet{size: 1}
	}
	isHex, isB64Std, isB64URL := true, true, true
	body := strings.TrimRight(s, "=")
	if len(s)-len(body) > 2 {
		isB64Std, isB64URL = false, false
	}
	for _, r := range body {
		alnum := r < unicode.MaxASCII && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			isHex = false
		}
		if !alnum && r != '+' && r != '/' {
			isB64Std = false
		}
		if !alnum && r != '-' && r != '_' {
			isB64URL = false
		}
	}
	switch {
	case isHex && len(body) == len(s):
		return alphabet{size: 16, encoding: "hex"}
	case isB64Std || isB64URL:
		return alphabet{size: 64, encoding: "base64"}
	}
	var lower, upper, digit, symbol, other bool
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r >= 0x20 && r < 0x7f:
			symbol = true
		default:
			other = true
		}
	}
	size := 0
	for _, c := range []struct {
		present bool
		n       int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {symbol, 33}, {other, 128}} {
		if c.present {
			size += c.n
		}
	}
	return alphabet{size: size}
}

func decode(s, encoding string) ([]byte, bool) {
	switch encoding {
	case "hex":
		if len(s)%2 != 0 {
			return nil, false
		}
		b, err := hex.DecodeString(s)
		return b, err == nil
	case "base64":
		body := strings.TrimRight(s, "=")
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(body); err == nil {
				return b, true
			}
		}
	}
	return nil, false
}

// estimate is the bits of symbols drawn from an alphabet of size, counting a
// predictable stretch (a repeat or a sequence) as one symbol.
func estimate(x []int, size int) float64 {
	if len(x) == 0 || size < 2 {
		return 0
	}
	k := minStretch(len(x), size)
	n := 0
	for i := 0; i < len(x); n++ {
		if m := predictable(x, i); m >= k {
			i += m
		} else {
			i++
		}
	}
	return float64(n) * math.Log2(float64(size))
}

// minStretch is the shortest predictable stretch that counts: one that random
// text of length n over the alphabet shows with a probability under 1e-6
// (about n² pairs of positions, each matching k symbols with size^-k).
func minStretch(n, size int) int {
	k := int(math.Ceil(math.Log(float64(n)*float64(n)*1e6) / math.Log(float64(size))))
	return max(k, 3)
}

// predictable is the length of the longest stretch from i that repeats an
// earlier stretch (overlapping allowed, so runs count) or continues the
// sequence of x[i-1] upwards or downwards by one.
func predictable(x []int, i int) int {
	best := 0
	for p := 0; p < i; p++ {
		m := 0
		for i+m < len(x) && x[p+m] == x[i+m] {
			m++
		}
		best = max(best, m)
	}
	if i > 0 {
		for _, d := range []int{1, -1} {
			m := 0
			for i+m < len(x) && x[i+m] == x[i-1]+(m+1)*d {
				m++
			}
			best = max(best, m)
		}
	}
	return best
}

// CheckKeySpec checks every key of a PAYLOAD_ENCRYPTION_KEYS value
// (id:base64key,…) with CheckStrong, naming the key (by its id) that fails.
func CheckKeySpec(spec string) error {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, key, ok := strings.Cut(part, ":")
		if !ok {
			key, id = part, "?"
		}
		if isSample(part) {
			return fmt.Errorf("key %q %w", id, ErrSample)
		}
		if err := CheckStrong(key); err != nil {
			return fmt.Errorf("key %q %w", id, err)
		}
	}
	return nil
}
