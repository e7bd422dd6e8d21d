package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/kcloud/onboarding/internal/password/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams are OWASP's minimum recommendation for argon2id (19 MiB, two
// passes, one lane): about 25 ms a hash on one core here, which bounds a
// sign-in burst without weakening the hash below the guidance.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMalformedHash reports a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("password: malformed hash")

// Hasher hashes and verifies passwords with fixed argon2id parameters. At
// most half the process's cores (at least one) hash at once: each hash
// holds a core and a Memory-sized block for its whole run, and a burst of
// accepted invitations and sign-ins then leaves the other cores, and the
// memory, to every other request. The blocks are lent again from hash to
// hash (argon2.Memory), not allocated each time. The hash's cost is
// unchanged.
type Hasher struct {
	p     Params
	slots chan struct{}
	mem   *argon2.Memory
}

// NewHasher returns a Hasher with the given parameters.
func NewHasher(p Params) *Hasher {
	return &Hasher{p: p, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), mem: argon2.NewMemory(p.Memory, p.Threads)}
}

// key is argon2id's key, computed in one of the hasher's slots.
func (h *Hasher) key(pw string, salt []byte, p Params, n uint32) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return h.mem.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, n)
}

// Hash returns the password's argon2id hash as a PHC string
// ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func (h *Hasher) Hash(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := h.key(pw, salt, h.p, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.p.Memory, h.p.Time, h.p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string, using the parameters
// recorded in it (so older hashes stay valid when the defaults change).
func (h *Hasher) Verify(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformedHash
	}
	if p.Memory == 0 || p.Memory > 1<<21 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, ErrMalformedHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	got := h.key(pw, salt, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
